"""The long-running roles settle their heap once started: what start-up made is frozen out of the
cyclic collector's sight and the young generation is collected less often (newsmon/memory.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from newsmon.memory import OLDER_THRESHOLDS, YOUNG_THRESHOLD
from tests.conftest import db_clients, feed_source, wait_for, write_config

# runs a role through the CLI in this interpreter, then prints what the collector was left with
_RUN_ROLE = (
    "import gc, json, sys\n"
    "from newsmon.app.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(json.dumps({'code': code, 'frozen': gc.get_freeze_count(), 'thresholds': gc.get_threshold()}))\n"
)

pytestmark = pytest.mark.e2e  # starts newsmon in subprocesses


def _role(redis_url: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    config_dir = write_config(tmp_path / "config", [feed_source("k24", "http://127.0.0.1:9/rss")],
                              {"channels": {}, "routes": []})
    env = dict(os.environ, REDIS_URL=redis_url, NEWSMON_DATA_DIR=str(tmp_path / "data"))
    return subprocess.Popen([sys.executable, "-c", _RUN_ROLE, "--config-dir", str(config_dir), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _settled(output: str) -> None:
    report = json.loads(output.strip().splitlines()[-1])
    assert report["code"] in (0, None)
    assert report["thresholds"] == [YOUNG_THRESHOLD, *OLDER_THRESHOLDS]
    assert report["frozen"] > 10_000  # the modules, settings and compiled keywords made at start


def test_a_worker_settles_its_heap_before_its_loop(redis_url: str, redis_conn: redis.Redis,
                                                   tmp_path: Path) -> None:
    worker = _role(redis_url, tmp_path, "worker", "--burst")
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err[-2000:]
    _settled(out)


def test_a_crawler_settles_its_heap_before_its_loop(redis_url: str, redis_conn: redis.Redis,
                                                    tmp_path: Path) -> None:
    crawler = _role(redis_url, tmp_path, "crawler")
    try:
        # polling Redis for poll requests: the reactor runs, start-up is over
        wait_for(lambda: any(c.get("cmd") == "lpop" for c in db_clients(redis_conn)), timeout=120,
                 what="the crawler polling Redis")
        crawler.send_signal(signal.SIGTERM)
        out, err = crawler.communicate(timeout=60)
    finally:
        if crawler.poll() is None:
            crawler.kill()
    assert crawler.returncode == 0, err[-2000:]
    _settled(out)
