"""`newsmon run` on a machine without Redis: embedded Redis, all roles, clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from newsmon.app.replay import ReplaySite
from tests.conftest import add_feed, feed_source, make_article, wait_for, write_config

pytestmark = pytest.mark.e2e


def test_run_uses_embedded_redis_and_stops_cleanly(replay: ReplaySite, tmp_path: Path) -> None:
    add_feed(replay, "/k24/rss", [make_article("/k24/1", "Rockets near K-1 base", [
        "Two rockets landed near the K-1 base west of Kirkuk on Friday, a security source said.",
        "The coalition troops who once used the base left years ago."])])
    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "routes": [{"id": "desk", "topics": ["k1_base"], "channels": ["box"]}]}
    config_dir = write_config(tmp_path / "config", [feed_source("k24", f"{replay.base_url}/k24/rss")], alerts)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["NEWSMON_DATA_DIR"] = str(tmp_path / "data")
    with (tmp_path / "run.log").open("wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "run",
                                "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: outbox.exists() and outbox.read_text().strip(), timeout=90, what="an alert in the outbox"
        )
        alert = json.loads(outbox.read_text().splitlines()[0])
        assert alert["topics"] == ["k1_base"] and alert["title"] == "Rockets near K-1 base"
        children = psutil.Process(run.pid).children(recursive=True)
        assert len(children) >= 4  # scheduler, crawler, worker, embedded redis-server
        assert (tmp_path / "data" / "archive.sqlite").exists()
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0
        wait_for(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
                 timeout=30, what="every child process to exit")
        assert (tmp_path / "data" / "redis" / "redis.db").exists()  # the embedded Redis saved its data
    finally:
        if run.poll() is None:
            run.kill()
