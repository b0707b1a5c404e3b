"""Admin health with real Redis, real worker and crawler processes: status, health alerts that fire
once and clear once, `newsmon failed`, and the web page in a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml
from rq import Queue
from rq.serializers import JSONSerializer

from alerts.health import ACTIVE, evaluate
from crawler.scheduler import LeaderLock, request_poll
from newsmon import keys
from newsmon.replay import Fixed, ReplaySite
from newsmon.settings import load_config
from newsmon.status import collect
from tests.conftest import Roles, feed_source, free_port, wait_for, write_config

pytestmark = pytest.mark.e2e


def health_lines(outbox: Path) -> list[dict]:
    if not outbox.exists():
        return []
    return [r for r in map(json.loads, outbox.read_text().splitlines()) if r.get("kind") == "health"]


@pytest.fixture
def admin(tmp_path: Path, replay: ReplaySite, redis_conn: redis.Redis):
    replay.set_fixed("/dark/rss", Fixed(status=403, body=b"Forbidden"))
    outbox = tmp_path / "health.jsonl"
    alerts = {"channels": {"ops": {"type": "outbox", "path": str(outbox)}}, "routes": [],
              "admin": {"channels": ["ops"], "failures": 2, "backlog_seconds": 2, "silent_after_intervals": 100,
                        "startup_grace_seconds": 0}}
    config_dir = write_config(tmp_path / "config", [feed_source("dark", f"{replay.base_url}/dark/rss")], alerts)
    (config_dir / "newsmon.yaml").write_text(yaml.safe_dump({"workers": {"heartbeat_ttl": 5}}))
    # a scheduler heartbeat, so that only the conditions under test are problems
    redis_conn.set("newsmon:scheduler:heartbeat", json.dumps({"at": time.time() + 3600, "leader": "test"}))
    return load_config(config_dir), config_dir, outbox


def test_killed_worker_leaves_status_and_raises_a_health_alert(admin, roles: Roles, redis_conn: redis.Redis) -> None:
    config, config_dir, outbox = admin
    roles.start("process-worker", config_dir, "worker", "--queues", "process")
    roles.start("alerts-worker", config_dir, "worker", "--queues", "alerts")
    wait_for(lambda: len(collect(config, redis_conn)["workers"]) == 2, timeout=30, what="two workers")
    assert evaluate(config, redis_conn, exclusive=False) == ([], [])
    roles.kill("process-worker")
    wait_for(lambda: len(collect(config, redis_conn)["workers"]) == 1, timeout=30, what="the dead worker to go")
    status = collect(config, redis_conn)
    assert status["workers"][0]["queues"] == ["alerts"] and not status["healthy"]
    started, _ = evaluate(config, redis_conn, exclusive=False)
    assert [p["id"] for p in started] == ["no-worker:process"]
    assert evaluate(config, redis_conn, exclusive=False) == ([], [])  # fires once, not on every check
    wait_for(lambda: health_lines(outbox), timeout=30, what="the health alert delivered")
    roles.start("process-worker-2", config_dir, "worker", "--queues", "process")
    wait_for(lambda: len(collect(config, redis_conn)["workers"]) == 2, timeout=30, what="a new worker")
    _, cleared = evaluate(config, redis_conn, exclusive=False)
    assert [p["id"] for p in cleared] == ["no-worker:process"]
    wait_for(lambda: len(health_lines(outbox)) == 2, timeout=30, what="the resolved alert")
    assert [(r["state"], r["id"]) for r in health_lines(outbox)] == [
        ("firing", "no-worker:process"), ("resolved", "no-worker:process")]


def test_stalled_queue_raises_backlog_alert_and_clears_when_drained(admin, roles: Roles,
                                                                    redis_conn: redis.Redis) -> None:
    config, config_dir, outbox = admin
    roles.start("alerts-worker", config_dir, "worker", "--queues", "alerts")
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    queue.enqueue("workers.jobs.process_story", {"not": "a story"})  # fails when a worker finally takes it
    wait_for(lambda: (collect(config, redis_conn)["queues"]["process"]["oldest_age_seconds"] or 0) > 2, timeout=30,
             what="the job to wait longer than the backlog limit")
    started, _ = evaluate(config, redis_conn, exclusive=False)
    assert {p["id"] for p in started} == {"queue-backlog:process", "no-worker:process"}
    roles.start("process-worker", config_dir, "worker", "--queues", "process")
    wait_for(lambda: queue.count == 0, timeout=30, what="the queue to drain")
    wait_for(lambda: any(w["queues"] == ["process"] for w in collect(config, redis_conn)["workers"]), timeout=30,
             what="the process worker in status")
    wait_for(lambda: queue.failed_job_registry.count == 1, timeout=30, what="the bad job to fail for good")
    started, cleared = evaluate(config, redis_conn, exclusive=False)
    assert {p["id"] for p in cleared} == {"queue-backlog:process", "no-worker:process"}
    assert [p["id"] for p in started] == ["failed-jobs:process"]  # a lost story stays a problem ...
    assert evaluate(config, redis_conn, exclusive=False) == ([], [])  # ... and is not announced twice
    queue.failed_job_registry.remove(queue.failed_job_registry.get_job_ids()[0], delete_job=True)
    _, cleared = evaluate(config, redis_conn, exclusive=False)  # ... until it is requeued or purged
    assert [p["id"] for p in cleared] == ["failed-jobs:process"]
    assert not redis_conn.hlen(ACTIVE)
    wait_for(lambda: len(health_lines(outbox)) == 6, timeout=30, what="three alerts fired and three resolved")
    states = sorted((line["id"], line["state"]) for line in health_lines(outbox))
    assert states == sorted((pid, state) for pid in ("queue-backlog:process", "no-worker:process",
                                                     "failed-jobs:process") for state in ("firing", "resolved"))


def test_source_returning_403_raises_dark_source_alert(admin, roles: Roles, redis_conn: redis.Redis) -> None:
    config, config_dir, outbox = admin
    roles.start("crawler", config_dir, "crawler")
    roles.start("worker", config_dir, "worker")
    leader = LeaderLock(redis_conn)
    leader.refresh()
    for attempt in (1, 2):
        redis_conn.hset(keys.source_state("dark"), "backoff_until", "0")
        assert request_poll(redis_conn, config.source("dark"), leader) == "requested"
        wait_for(lambda a=attempt: int(redis_conn.hget(keys.source_state("dark"), "polls_total") or 0) == a,
                 timeout=30, what=f"poll {attempt}")
    wait_for(lambda: len(collect(config, redis_conn)["workers"]) == 1, timeout=30, what="the worker")
    started, _ = evaluate(config, redis_conn, exclusive=False)
    assert [p["id"] for p in started] == ["source-failing:dark"]
    assert "blocked" in started[0]["message"]
    wait_for(lambda: health_lines(outbox), timeout=30, what="the dark-source alert")
    assert health_lines(outbox)[0]["state"] == "firing"


def test_status_cli_json_exit_code_and_failed_commands(admin, roles: Roles, redis_conn: redis.Redis,
                                                       redis_url: str) -> None:
    _config, config_dir, _ = admin
    env = {**os.environ, "REDIS_URL": redis_url}
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    queue.enqueue("workers.jobs.process_story", {"not": "a story"})
    roles.start("worker", config_dir, "worker")
    wait_for(lambda: Queue(keys.PROCESS_QUEUE, connection=redis_conn).failed_job_registry.count == 1, timeout=30,
             what="the bad job to fail")
    result = subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "status", "--json"],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    data = json.loads(result.stdout)
    assert data["queues"]["process"]["failed"] == 1 and len(data["workers"]) == 1
    assert {"queues", "workers", "scheduler", "sources", "deliveries", "problems", "healthy", "level"} <= set(data)
    assert "failed-jobs:process" in {p["id"] for p in data["problems"]}
    assert data["level"] == "degraded" and result.returncode == 1
    table = subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "status"],
                           env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "queues" in table.stdout and "process" in table.stdout and "sources" in table.stdout

    def failed(action: str) -> str:
        return subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "failed", action,
                               "--queue", "process"], env=env, capture_output=True, text=True, timeout=60,
                              check=False).stdout

    listed = failed("list")
    assert "process: 1 failed" in listed and "ValidationError" in listed
    assert "deleted" in failed("purge")
    assert "process: 0 failed" in failed("list")
    after = subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "status", "--json"],
                           env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "failed-jobs:process" not in {p["id"] for p in json.loads(after.stdout)["problems"]}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str) -> str:
    assert CHROMIUM is not None
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--no-first-run",
                             f"--user-data-dir={Path(os.environ.get('TMPDIR', '/tmp')) / f'chromium-{os.getpid()}'}",
                             "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False)
    return result.stdout


def start_web(config_dir: Path, redis_url: str, tmp_path: Path, host: str, token: str | None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    if token:
        env["NEWSMON_WEB_TOKEN"] = token
    process = subprocess.Popen([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "web", "--host",
                                host, "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    import urllib.request

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    wait_for(up, timeout=30, what="the web server")
    return process, port


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (.ci/run installs it)")
def test_web_page_in_headless_chromium_and_token_off_loopback(admin, roles: Roles, redis_conn: redis.Redis,
                                                              redis_url: str, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    _config, config_dir, _ = admin
    redis_conn.hset(keys.source_state("dark"), mapping={"status": "error", "failure_kind": "blocked",
                                                        "consecutive_failures": "3", "polls_total": "3"})
    Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer).enqueue(
        "workers.jobs.process_story", {"not": "a story"})
    web, port = start_web(config_dir, redis_url, tmp_path, "127.0.0.1", None)
    try:
        dom = dump_dom(f"http://127.0.0.1:{port}/")
        assert 'id="sources"' in dom and 'data-source="dark"' in dom and "blocked" in dom
        assert '<tr data-queue="process"><td>process</td><td class="depth">1</td>' in dom
        assert "UNHEALTHY" in dom
        polls = dump_dom(f"http://127.0.0.1:{port}/sources/dark")
        assert "Recent polls of dark" in polls
        import urllib.request

        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        families = {f.name: f for f in text_string_to_metric_families(metrics)}
        depth = {s.labels["queue"]: s.value for s in families["newsmon_queue_depth"].samples}
        assert depth["process"] == 1 and "newsmon_topic_matches_24h" in families
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
            raise AssertionError("healthz answered 200 while unhealthy")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    refused = subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "web", "--host",
                              "0.0.0.0", "--port", str(free_port())], env={**os.environ, "REDIS_URL": redis_url},
                             capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2 and "NEWSMON_WEB_TOKEN" in refused.stderr
    web, port = start_web(config_dir, redis_url, tmp_path, "0.0.0.0", "let-me-in")
    try:
        import urllib.request

        assert 'id="sources"' not in dump_dom(f"http://127.0.0.1:{port}/")  # the browser gets an auth challenge
        assert 'id="sources"' in dump_dom(f"http://127.0.0.1:{port}/?token=let-me-in")
        assert 'id="sources"' not in dump_dom(f"http://127.0.0.1:{port}/?token=wrong")
        for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/metrics", f"http://127.0.0.1:{port}/api/status"):
            try:
                urllib.request.urlopen(url, timeout=10)
                raise AssertionError(f"{url} answered without the token")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                         headers={"Authorization": "Bearer let-me-in"})
        assert json.loads(urllib.request.urlopen(request, timeout=10).read())["sources"]
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
