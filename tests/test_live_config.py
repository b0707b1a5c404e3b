"""One live config for the whole system: `keywords reload` reaches the scheduler, the crawler, the workers
and `web`; commands without --config-dir read what runs; a reload from another directory is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from newsmon.app.replay import ReplaySite
from tests.conftest import (
    add_feed,
    feed_source,
    make_article,
    start_web_process,
    wait_for,
    write_config,
)
from tests.test_health import http_get
from tests.test_one_system import CLEAN_ENV, newsmon, stop

pytestmark = pytest.mark.e2e


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_reload_reaches_every_role_and_commands_read_what_runs(replay: ReplaySite, tmp_path: Path) -> None:
    home = tmp_path / "home"  # where the operator types commands; its ./config is another directory
    running = tmp_path / "running-config"
    instant, digest = tmp_path / "instant.jsonl", tmp_path / "digest.jsonl"
    add_feed(replay, "/one/rss", [make_article("/one/1", "Rockets hit the K-1 base near Kirkuk",
                                               ["Rockets hit the K-1 air base near Kirkuk, police said."])])
    add_feed(replay, "/two/rss", [])
    one = {**feed_source("one", f"{replay.base_url}/one/rss", interval=3), "outlet": "Outlet One"}
    alerts = {"channels": {"instant": {"type": "outbox", "path": str(instant)},
                           "digest": {"type": "outbox", "path": str(digest)}},
              "desks": {"desk": {"topics": ["*"], "channels": ["instant"]}},
              "first_poll_max_age_hours": 0}
    write_config(running, [one], alerts)
    write_config(home / "config", [feed_source("other", f"{replay.base_url}/other/rss")],
                 {"channels": {"c": {"type": "console"}}})
    with (tmp_path / "run.log").open("wb") as handle:
        run = subprocess.Popen([sys.executable, "-m", "newsmon", "--config-dir", str(running), "run",
                                "--workers", "1"], cwd=home, env=CLEAN_ENV, stdout=handle,
                               stderr=subprocess.STDOUT)
    web = None
    try:
        wait_for(lambda: lines(instant), timeout=90, what="the first alert")
        story_id = lines(instant)[0]["story_id"]

        # commands run from home without --config-dir read the running system's config, not ./config
        listing = newsmon(home, "sources", "list", "--json")
        assert [json.loads(line)["id"] for line in listing.stdout.splitlines()] == ["one"], listing.stdout
        explained = newsmon(home, "explain", story_id).stdout
        assert "desk desk:" in explained and "alerted by this story" in explained, explained
        preview = newsmon(home, "alerts", "preview", "--story", story_id)
        assert preview.returncode == 0 and "desk" in preview.stdout, preview.stdout + preview.stderr

        # a reload from ./config is refused, naming both directories, and publishes nothing
        before = json.loads(newsmon(home, "status", "--json").stdout)["config"]["published"]
        refused = newsmon(home, "keywords", "reload")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert str(running) in refused.stderr and str(home / "config") in refused.stderr, refused.stderr
        assert json.loads(newsmon(home, "status", "--json").stdout)["config"]["published"] == before

        # the running config, edited: a digest desk, a new source, the first source disabled
        config = yaml.safe_load((running / "alerts.yaml").read_text())
        config["desks"]["digest"] = {"topics": ["*"], "channels": ["digest"], "mode": "digest",
                                     "digest_schedule": "* * * * *", "timezone": "UTC"}
        (running / "alerts.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
        two = {**feed_source("two", f"{replay.base_url}/two/rss", interval=3), "outlet": "Outlet Two"}
        (running / "sources.yaml").write_text(yaml.safe_dump(
            {"outlets": {}, "sources": [{**one, "enabled": False}, two]}, allow_unicode=True))
        reloaded = newsmon(home, "--config-dir", str(running), "keywords", "reload")
        assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
        version = reloaded.stdout.split("version ", 1)[1].split()[0]

        # every role says once that it took the new version
        for role in ("scheduler", "crawler", "worker"):
            wait_for(lambda role=role: f"{role}: config reloaded" in (tmp_path / "run.log").read_text()
                     and version in (tmp_path / "run.log").read_text(), timeout=60,
                     what=f"the {role} to take version {version}")
        # a poll of `one` requested before the reload may still run: its lease is held until it ends
        from newsmon import keys
        from newsmon.redis_conn import connect

        conn = connect(None, home / "var")
        wait_for(lambda: not conn.exists(keys.poll_lock("one")), timeout=60,
                 what="the last poll of `one` to end")
        hits_one = replay.hits.get("/one/rss", 0)

        # the new source is polled, its story reaches the new digest desk at its slot
        replay.publish("/two/rss", make_article("/two/1", "Coalition troops arrive at the K-1 base",
                                                ["Coalition troops arrived at the K-1 base near Kirkuk."]))
        wait_for(lambda: lines(digest), timeout=150, what="the digest desk's first digest")
        assert any(r["kind"] == "digest" and r["title"].startswith("Coalition troops") for r in lines(digest))
        # the disabled source is not polled any more (its interval is 3 s)
        assert replay.hits.get("/one/rss", 0) == hits_one

        # `web` without --config-dir shows the new source
        web, port = start_web_process(["web"], CLEAN_ENV, tmp_path / "web.log", cwd=home)
        page = wait_for(lambda: _get(f"http://127.0.0.1:{port}/"), timeout=30, what="the web page")
        assert 'data-source="two"' in page and 'data-source="one"' not in page  # `one` is disabled
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=10)
        stop(run)


def _get(url: str) -> str | None:
    try:
        status, body = http_get(url)
    except OSError:
        return None
    return body if status in (200, 503) else None


def test_a_role_that_cannot_load_the_published_version_keeps_its_own_and_shows_as_refused(
        tmp_path: Path, redis_conn) -> None:
    from newsmon import jobcontext
    from newsmon.liveconfig import LiveConfig
    from newsmon.settings import load_config
    from newsmon.status import collect

    config_dir = write_config(tmp_path / "config", [feed_source("one", "http://127.0.0.1:9/rss")],
                              {"channels": {"c": {"type": "console"}}})
    config = load_config(config_dir)
    live = LiveConfig(config, redis_conn, "scheduler", every=0)
    live.retry_after = 0  # try a refused version again at once (60 s in a role)
    jobcontext.publish(redis_conn, config)
    assert live.get() is config  # the same version: nothing to do
    # a version whose alerts.yaml needs a variable this machine does not have
    (config_dir / "alerts.yaml").write_text(yaml.safe_dump(
        {"channels": {"c": {"type": "apprise", "url": "json://127.0.0.1:9/${NOT_ON_THIS_MACHINE}"}}}))
    import os

    os.environ["NOT_ON_THIS_MACHINE"] = "x"
    try:
        newer = load_config(config_dir)
        jobcontext.publish(redis_conn, newer)
    finally:
        del os.environ["NOT_ON_THIS_MACHINE"]
    assert live.get() is config  # refused: the role keeps what it runs
    problems = [p for p in collect(config, redis_conn)["problems"] if p["kind"] == "config-refused"]
    assert len(problems) == 1 and problems[0]["message"].startswith("scheduler "), problems
    assert "NOT_ON_THIS_MACHINE" in problems[0]["message"]
    # published again with the variable set here: taken, and the refusal is gone
    os.environ["NOT_ON_THIS_MACHINE"] = "x"
    try:
        assert live.get().version == newer.version
    finally:
        del os.environ["NOT_ON_THIS_MACHINE"]
    assert not [p for p in collect(config, redis_conn)["problems"] if p["kind"] == "config-refused"]
