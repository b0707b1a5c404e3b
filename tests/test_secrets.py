"""A secret stays in its field: a source URL with user info is refused, and a token planted in a source's
URL shows in none of the log, `status --json`, `sources list`, `/api/status`, `/` and `/sources/<id>`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from newsmon import keys
from newsmon.app.replay import Fixed, ReplaySite
from newsmon.crawler import health, polls
from newsmon.errors import ConfigError
from newsmon.scheduler.clock import LeaderLock, request_poll
from newsmon.settings import load_config
from newsmon.urls import mask_secrets, mask_url
from tests.conftest import Roles, feed_source, wait_for, write_config
from tests.test_health import http_get, start_web

pytestmark = pytest.mark.e2e  # starts newsmon in subprocesses

PLANT = "s3cretPLANTED"


def newsmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})}, check=False)


def test_mask_url_and_free_text() -> None:
    assert mask_url(f"http://user:{PLANT}@host/feed") == "http://***@host/feed"
    assert mask_url(f"https://x.org/f?page=2&token={PLANT}&q=k1") == "https://x.org/f?page=2&token=***&q=k1"
    assert mask_url(f"https://x.org/f?api_key={PLANT}#top") == "https://x.org/f?api_key=***#top"
    assert mask_url("https://x.org/f?keyword=k1&monkey=2") == "https://x.org/f?keyword=k1&monkey=2"
    assert mask_secrets(f"invalid hostname: user:{PLANT}@127.0.0.1") == "invalid hostname: ***@127.0.0.1"
    assert PLANT not in mask_secrets(f"GET <https://a.b/c?password={PLANT}> failed; ftp://u:{PLANT}@h/")


@pytest.mark.parametrize(("field", "value", "expect"), [
    ("url", f"http://user:{PLANT}@127.0.0.1/feed", "user info"),
    ("url", "http://127.0.0.1/fe\ned", "control character"),
    ("url", "ftp://127.0.0.1/feed", "http"),
    ("url", "http:///feed", "no host"),
    ("url", "http://127.0.0.1:99999/feed", "valid URL"),
    ("timezone", "Mars/Olympus", "unknown time zone"),
    ("jitter", 10**12, "less than or equal"),
    ("jitter", 120, "more than the interval"),
    ("user_agent", "bot\r\nX-Evil: 1", "control character"),
])
def test_config_check_refuses_bad_source_values_with_file_and_field(tmp_path: Path, field: str, value: object,
                                                                    expect: str) -> None:
    source = {**feed_source("s1", "http://127.0.0.1/feed"), field: value}
    config_dir = write_config(tmp_path / "config", [source], {"channels": {"c": {"type": "console"}}})
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    text = str(caught.value)
    assert "sources.yaml" in text and expect in text, text
    assert f"sources[0].{field}" in text or f"sources[0]: {field}:" in text, text
    assert PLANT not in text


@pytest.mark.parametrize(("alerts", "where", "expect"), [
    ({"channels": {"chat": {"type": "apprise", "url": "mars://olympus/mons"}}}, "channels.chat", "Apprise"),
    ({"channels": {"c": {"type": "console"}}, "desks": {"d": {"channels": ["c"], "topics": ["*"],
                                                             "timezone": "Mars/Olympus"}}},
     "desks.d.timezone", "unknown time zone"),
    ({"channels": {"c": {"type": "console"}}, "retry": {"intervals": [10**12]}}, "retry.intervals", "86400"),
])
def test_config_check_refuses_unknown_apprise_schemes_zones_and_absurd_waits(tmp_path: Path, alerts: dict,
                                                                           where: str, expect: str) -> None:
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1/feed")], alerts)
    result = newsmon("config", "check", "--config-dir", str(config_dir))
    assert result.returncode == 2, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "alerts.yaml" in said and where in said and expect in said, said


def test_names_from_the_config_are_cleaned_like_names_from_pages(tmp_path: Path) -> None:
    source = {**feed_source("s1", "http://127.0.0.1/feed"), "outlet": "Evil\u202eOutlet\x07", "name": "a\nb"}
    config_dir = write_config(tmp_path / "config", [source], {"channels": {"c": {"type": "console"}}},
                              outlets={"Evil\u202eOutlet\x07": {"affiliation": "x\x1b[31m"}})
    config = load_config(config_dir)
    loaded = config.source("s1")
    assert loaded.outlet == "EvilOutlet" and loaded.name == "a b"
    assert config.sources.outlet(loaded.outlet).affiliation == "x[31m"


def test_a_planted_token_shows_in_no_output(tmp_path: Path, replay: ReplaySite, roles: Roles,
                                            redis_conn: redis.Redis, redis_url: str) -> None:
    # the feed's URL carries a token; the feed redirects to a URL carrying it again, which is refused
    replay.set_fixed("/locked/rss", Fixed(status=302, headers={
        "Location": f"http://localhost:{replay.base_url.rsplit(':', 1)[1]}/elsewhere?token={PLANT}"}))
    sources = [feed_source("locked", f"{replay.base_url}/locked/rss?token={PLANT}"),
               feed_source("named", f"{replay.base_url}/named/rss")]
    config_dir = write_config(tmp_path / "config", sources, {"channels": {"c": {"type": "console"}}})
    config = load_config(config_dir)
    assert PLANT in config.source("locked").url  # the secret is in the config, where it belongs
    roles.start("crawler", config_dir, "--log-level", "DEBUG", "crawler")
    leader = LeaderLock(redis_conn)
    leader.refresh()
    assert request_poll(redis_conn, config.source("locked"), leader) == "requested"
    wait_for(lambda: redis_conn.hget(keys.source_state("locked"), "polls_total"), timeout=60, what="the poll")
    # an error that names a URL with user info and a token, as a library may word it
    poll = SimpleNamespace(status="error", failure=health.Failure(
        "connection", f"invalid hostname: user:{PLANT}@127.0.0.1 for http://127.0.0.1/x?secret={PLANT}"),
        http_status=None, bytes=0, items=0, new=0, newest=None, validators={}, entry_errors=[], skipped=[])
    polls.record_poll(redis_conn, config.source("named"), poll, 0.1, 3600)

    env = {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    outputs = {
        "crawler log": roles.log("crawler"),
        "status --json": newsmon("--config-dir", str(config_dir), "status", "--json", env=env).stdout,
        "sources list": newsmon("--config-dir", str(config_dir), "sources", "list", "--json", env=env).stdout,
    }
    web, port = start_web(config_dir, redis_url, tmp_path, "127.0.0.1", None)
    try:
        for path in ("/api/status", "/", "/sources/locked", "/sources/named"):
            outputs[path] = http_get(f"http://127.0.0.1:{port}{path}")[1]
    finally:
        web.terminate()
        web.wait(timeout=10)
    for name, text in outputs.items():
        assert text, name
        assert PLANT not in text, f"{name} shows the planted secret"
    assert "token=***" in outputs["crawler log"]  # the URLs were logged, masked
    assert "token=***" in outputs["/sources/locked"] and "token=***" in outputs["sources list"]
    assert "***@127.0.0.1" in outputs["/sources/named"]
    named = json.loads(outputs["status --json"])
    error = next(s for s in named["sources"] if s["id"] == "named")["error"]
    assert error.startswith("invalid hostname: ***@")
