"""`newsmon healthcheck`, a container's HEALTHCHECK: each role's heartbeat on disk (real worker, crawler,
scheduler and web processes), a stale or missing one, and the web's own /healthz."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from newsmon import probe
from tests.conftest import Roles, feed_source, start_web_process, wait_for, write_config

pytestmark = pytest.mark.e2e


def healthcheck(health_file: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NEWSMON_HEALTH_FILE=str(health_file))
    return subprocess.run([sys.executable, "-m", "newsmon", "healthcheck"], check=False, capture_output=True,
                          text=True, env=env, timeout=60)


def test_without_a_heartbeat_the_check_fails_and_says_why(tmp_path: Path) -> None:
    missing = healthcheck(tmp_path / "none")
    assert missing.returncode == 1 and "no heartbeat in" in missing.stdout
    env = {k: v for k, v in os.environ.items() if k != probe.HEALTH_FILE_ENV}
    unset = subprocess.run([sys.executable, "-m", "newsmon", "healthcheck"], check=False, capture_output=True,
                           text=True, env=env, timeout=60)
    assert unset.returncode == 1 and "NEWSMON_HEALTH_FILE is not set" in unset.stdout
    stale = tmp_path / "stale"
    at = time.time() - 31
    stale.write_text(json.dumps({"role": "crawler", "pid": 7, "at": at}))
    result = healthcheck(stale)
    assert result.returncode == 1 and re.search(r"^crawler pid 7: last heartbeat \d+ s ago \(limit 30 s\)$",
                                                result.stdout.strip()), result.stdout
    assert probe.check(str(stale), now=at + 29)[0]  # the same beat, 29 s old, was fine


@pytest.mark.parametrize("role", ["worker", "crawler", "scheduler"])
def test_each_role_beats_while_it_reaches_redis(
        role: str, tmp_path: Path, roles: Roles, redis_conn: redis.Redis) -> None:
    source = feed_source("s1", "http://127.0.0.1:9/feed", interval=3600)
    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    config_dir = write_config(tmp_path / "config", [source], alerts)
    health = tmp_path / f"{role}.health"
    roles.start(role, config_dir, role, env={"NEWSMON_HEALTH_FILE": str(health)})
    wait_for(lambda: healthcheck(health).returncode == 0, timeout=60, interval=0.5, what=f"{role} healthy")
    record = json.loads(health.read_text())
    assert record["role"] == role and record["pid"] == roles.processes[role].pid
    first = record["at"]
    wait_for(lambda: json.loads(health.read_text())["at"] > first, timeout=30, what="a second heartbeat")


def test_the_web_check_asks_its_healthz(tmp_path: Path, redis_url: str, redis_conn: redis.Redis) -> None:
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/feed")],
                              {"channels": {"c": {"type": "console"}}, "routes": []})
    health = tmp_path / "web.health"
    env = dict(os.environ, REDIS_URL=redis_url, NEWSMON_HEALTH_FILE=str(health),
               NEWSMON_DATA_DIR=str(tmp_path / "data"))
    web, port = start_web_process(["--config-dir", str(config_dir), "web"], env, tmp_path / "web.log")
    try:
        assert json.loads(health.read_text())["url"] == f"http://127.0.0.1:{port}/healthz"
        result = healthcheck(health)
        # nothing runs but the web: no worker, no scheduler, so /healthz says unhealthy with 503
        assert result.returncode == 1 and f"web http://127.0.0.1:{port}/healthz: HTTP 503 unhealthy" \
            in result.stdout, result.stdout
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    gone = healthcheck(health)
    assert gone.returncode == 1 and "Connection refused" in gone.stdout


def test_a_restarted_role_does_not_pass_on_the_heartbeat_its_predecessor_left(tmp_path: Path) -> None:
    """A container restarted after SIGKILL keeps /tmp: the new process removes the old beat at start, so
    the check fails until it has reached Redis itself (here it never does: Redis is not there)."""
    health = tmp_path / "worker.health"
    health.write_text(json.dumps({"role": "worker", "pid": 1, "at": time.time()}))
    assert healthcheck(health).returncode == 0
    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/feed")], alerts)
    env = dict(os.environ, NEWSMON_HEALTH_FILE=str(health), REDIS_URL="redis://127.0.0.1:1/0",
               NEWSMON_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "worker"],
                            check=False, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "does not answer" in result.stderr
    assert not health.exists()
    assert healthcheck(health).returncode == 1
