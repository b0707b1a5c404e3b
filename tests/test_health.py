"""Admin health with real Redis, real worker and crawler processes: status, health alerts that fire
once and clear once, `newsmon failed`, and the web page in a real headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from newsmon import keys
from newsmon.app.replay import Fixed, ReplaySite
from newsmon.health import evaluate
from newsmon.scheduler.clock import LeaderLock, request_poll
from newsmon.settings import load_config
from newsmon.status import collect
from newsmon.workers.runner import retire_predecessors
from tests.conftest import (
    Roles,
    archive_story,
    feed_source,
    poll_finished,
    require,
    start_web_process,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e


def health_lines(outbox: Path) -> list[dict]:
    if not outbox.exists():
        return []
    return [r for r in map(json.loads, outbox.read_text().splitlines()) if r.get("kind") == "health"]


@pytest.fixture
def admin(tmp_path: Path, replay: ReplaySite, redis_conn: redis.Redis):
    replay.set_fixed("/dark/rss", Fixed(status=403, body=b"Forbidden"))
    outbox = tmp_path / "health.jsonl"
    alerts = {
        "channels": {"ops": {"type": "outbox", "path": str(outbox)}},
        "routes": [],
        "admin": {
            "channels": ["ops"],
            "failures": 2,
            "backlog_seconds": 2,
            "silent_after_intervals": 100,
            "startup_grace_seconds": 0,
        },
    }
    config_dir = write_config(
        tmp_path / "config",
        [feed_source("dark", f"{replay.base_url}/dark/rss")],
        alerts,
        outlets={"Kurdistan24": {"affiliation": "Kurdistan Democratic Party (KDP)"}},
    )
    (config_dir / "newsmon.yaml").write_text(yaml.safe_dump({"workers": {"heartbeat_ttl": 5}}))
    # a scheduler heartbeat, so that only the conditions under test are problems
    redis_conn.set("newsmon:scheduler:heartbeat", json.dumps({"at": time.time() + 3600, "leader": "test"}))
    return load_config(config_dir), config_dir, outbox


def test_killed_worker_leaves_status_and_raises_a_health_alert(
    admin, roles: Roles, redis_conn: redis.Redis
) -> None:
    config, config_dir, outbox = admin
    roles.start("process-worker", config_dir, "worker", "--queues", "process")
    roles.start("alerts-worker", config_dir, "worker", "--queues", "alerts")
    wait_for(lambda: len(collect(config, redis_conn)["workers"]) == 2, timeout=30, what="two workers")
    assert evaluate(config, redis_conn, exclusive=False) == ([], [])
    roles.kill("process-worker")
    wait_for(
        lambda: len(collect(config, redis_conn)["workers"]) == 1, timeout=30, what="the dead worker to go"
    )
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


def test_restarted_worker_replaces_the_dead_one_with_its_host_and_pid(admin, redis_conn: redis.Redis) -> None:
    """A container restarted after SIGKILL keeps its hostname and gets pid 1 again: the dead registration
    (whose heartbeat is still within the TTL) must not stand beside the new worker in `status`, and the
    new worker unregisters it at start."""
    config, _, _ = admin
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    dead = Worker([queue], connection=redis_conn, serializer=JSONSerializer, name="dead-before-restart")
    dead.register_birth()
    assert [w["name"] for w in collect(config, redis_conn)["workers"]] == ["dead-before-restart"]
    time.sleep(0.01)  # a later birth date than the dead one's, to the microsecond RQ records
    restarted = Worker([queue], connection=redis_conn, serializer=JSONSerializer, name="restarted")
    restarted.register_birth()
    assert (dead.hostname, dead.pid) == (restarted.hostname, restarted.pid)
    assert [w["name"] for w in collect(config, redis_conn)["workers"]] == ["restarted"]
    other_host = Worker([queue], connection=redis_conn, serializer=JSONSerializer, name="elsewhere")
    other_host.hostname = "another-machine"
    other_host.register_birth()
    assert retire_predecessors(restarted, redis_conn) == ["dead-before-restart"]
    assert sorted(w.name for w in Worker.all(connection=redis_conn)) == ["elsewhere", "restarted"]
    assert sorted(w["name"] for w in collect(config, redis_conn)["workers"]) == ["elsewhere", "restarted"]


def test_stalled_queue_raises_backlog_alert_and_clears_when_drained(admin, roles: Roles,
                                                                    redis_conn: redis.Redis) -> None:
    config, config_dir, outbox = admin
    roles.start("alerts-worker", config_dir, "worker", "--queues", "alerts")
    # readiness, not time: the alerts worker must be registered before health is judged, or a busy machine
    # adds a `no-worker:alerts` that this test is not about
    wait_for(
        lambda: any(w["queues"] == ["alerts"] for w in collect(config, redis_conn)["workers"]),
        timeout=60,
        what="the alerts worker in status",
    )
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    queue.enqueue(keys.PROCESS_STORY_JOB, {"not": "a story"})  # fails when a worker finally takes it
    wait_for(
        lambda: (collect(config, redis_conn)["queues"]["process"]["oldest_age_seconds"] or 0) > 2,
        timeout=30,
        what="the job to wait longer than the backlog limit",
    )
    started, _ = evaluate(config, redis_conn, exclusive=False)
    assert {p["id"] for p in started} == {"queue-backlog:process", "no-worker:process"}
    roles.start("process-worker", config_dir, "worker", "--queues", "process")
    wait_for(lambda: queue.count == 0, timeout=30, what="the queue to drain")
    wait_for(
        lambda: any(w["queues"] == ["process"] for w in collect(config, redis_conn)["workers"]),
        timeout=30,
        what="the process worker in status",
    )
    wait_for(lambda: queue.failed_job_registry.count == 1, timeout=30, what="the bad job to fail for good")
    started, cleared = evaluate(config, redis_conn, exclusive=False)
    assert {p["id"] for p in cleared} == {"queue-backlog:process", "no-worker:process"}
    assert [p["id"] for p in started] == ["failed-jobs:process"]  # a lost story stays a problem ...
    assert evaluate(config, redis_conn, exclusive=False) == ([], [])  # ... and is not announced twice
    queue.failed_job_registry.remove(queue.failed_job_registry.get_job_ids()[0], delete_job=True)
    _, cleared = evaluate(config, redis_conn, exclusive=False)  # ... until it is requeued or purged
    assert [p["id"] for p in cleared] == ["failed-jobs:process"]
    assert not redis_conn.hlen(keys.HEALTH_ACTIVE)
    wait_for(lambda: len(health_lines(outbox)) == 6, timeout=30, what="three alerts fired and three resolved")
    states = sorted((line["id"], line["state"]) for line in health_lines(outbox))
    assert states == sorted(
        (pid, state)
        for pid in ("queue-backlog:process", "no-worker:process", "failed-jobs:process")
        for state in ("firing", "resolved")
    )


def test_source_returning_403_raises_dark_source_alert(admin, roles: Roles, redis_conn: redis.Redis) -> None:
    config, config_dir, outbox = admin
    roles.start("crawler", config_dir, "crawler")
    roles.start("worker", config_dir, "worker")
    leader = LeaderLock(redis_conn)
    leader.refresh()
    for attempt in (1, 2):
        redis_conn.hset(keys.source_state("dark"), "backoff_until", "0")
        assert request_poll(redis_conn, config.source("dark"), leader) == "requested"
        poll_finished(redis_conn, "dark", attempt - 1)
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
    queue.enqueue(keys.PROCESS_STORY_JOB, {"not": "a story"})
    roles.start("worker", config_dir, "worker")
    wait_for(
        lambda: Queue(keys.PROCESS_QUEUE, connection=redis_conn).failed_job_registry.count == 1,
        timeout=30,
        what="the bad job to fail",
    )
    def newsmon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args],
                              env=env, capture_output=True, text=True, timeout=60, check=False)

    result = newsmon("status", "--json")
    data = json.loads(result.stdout)
    assert data["queues"]["process"]["failed"] == 1 and len(data["workers"]) == 1
    assert {"queues", "workers", "scheduler", "sources", "deliveries", "problems", "healthy", "level"} <= set(
        data
    )
    assert "failed-jobs:process" in {p["id"] for p in data["problems"]}
    assert data["level"] == "degraded" and result.returncode == 1
    table = newsmon("status")
    assert "queues" in table.stdout and "process" in table.stdout and "sources" in table.stdout

    def failed(action: str) -> str:
        return newsmon("failed", action, "--queue", "process").stdout

    listed = failed("list")
    assert "process: 1 failed" in listed and "ValidationError" in listed
    assert "deleted" in failed("purge")
    assert "process: 0 failed" in failed("list")
    after = newsmon("status", "--json")
    assert "failed-jobs:process" not in {p["id"] for p in json.loads(after.stdout)["problems"]}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


_MEASURE = """<script>
(function () {
  var cell = document.querySelector('#stories td[lang="ar"]');
  var link = cell.querySelector('a').getBoundingClientRect(), box = cell.getBoundingClientRect();
  var out = {ar_gap_right: Math.round(box.right - link.right), ar_gap_left: Math.round(link.left - box.left),
             url_text: cell.querySelector('.url').innerText};
  var pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def measure_layout(url: str, tmp_path: Path) -> dict[str, object]:
    """The page as served, measured by Chromium at 1600 px: a script added at its end reads where the
    Arabic headline's link sits in its cell and the URL line's text, and writes them into the DOM."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        page = response.read().decode()
    page = page.replace("<head>", f'<head><base href="{url}">', 1).replace("</body>", _MEASURE + "</body>")
    local = tmp_path / "measure.html"
    local.write_text(page, encoding="utf-8")
    dom = dump_dom(local.as_uri(), "--window-size=1600,1000")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def dump_dom(url: str, *flags: str) -> str:
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={Path(os.environ.get('TMPDIR', '/tmp')) / f'chromium-{os.getpid()}'}",
            *flags,
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0 and "<html" in result.stdout, f"Chromium failed: {result.stderr[-2000:]}"
    return result.stdout


def start_web(
    config_dir: Path, redis_url: str, tmp_path: Path, host: str, token: str | None
) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    if token:
        env["NEWSMON_WEB_TOKEN"] = token
    return start_web_process(["--config-dir", str(config_dir), "web", "--host", host], env,
                             tmp_path / f"web-{host}.log")


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_web_pages_metrics_health_and_tokens_over_http(admin, redis_conn: redis.Redis, redis_url: str,
                                                       tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    _config, config_dir, _ = admin
    now = time.time()
    redis_conn.hset(keys.source_state("dark"), mapping={
        "status": "error", "failure_kind": "blocked", "consecutive_failures": "3", "polls_total": "5",
        "polls_ok": "2", "polls_error": "3", "last_success": str(now - 7200), "last_poll": str(now - 5),
        "failing_since": str(now - 3600)})
    for items, new in ((7, 2), (4, 0)):
        redis_conn.lpush(keys.poll_history("dark"), json.dumps(
            {"at": now, "status": "ok", "failure": None, "error": None, "http": 200, "bytes": 1234,
             "items": items, "new": new, "seconds": 0.5}))
    Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer).enqueue(
        keys.PROCESS_STORY_JOB, {"not": "a story"})
    from newsmon.models import Story
    from newsmon.workers.archive import Archive, open_engine

    archive = Archive(open_engine(f"sqlite:///{tmp_path / 'data' / 'archive.sqlite'}"))
    archive_story(
        archive,
        Story(
            id="0123456789abcdef",
            source_id="dark",
            outlet="Kurdistan24",
            language="en",
            url="https://k24.example/1",
            canonical_url="https://k24.example/1",
            title="Rockets hit K-1",
            text="Rockets hit the base.",
        ),
        [],
        "h",
        "v1",
    )
    web, port = start_web(config_dir, redis_url, tmp_path, "127.0.0.1", None)
    base = f"http://127.0.0.1:{port}"
    try:
        status, page = http_get(f"{base}/sources/dark")
        assert status == 200 and "built-in method" not in page and "<style>" in page
        assert '<td class="num items">4</td>' in page and '<td class="num items">7</td>' in page
        assert "error 3 · ok 2" in page  # polls by outcome
        status, index = http_get(f"{base}/")
        assert status == 200 and 'data-source="dark"' in index and "blocked" in index
        assert "UNHEALTHY" in index and "no-worker" in index  # no worker runs in this test
        # who is speaking: the catalogue's affiliation under the outlet of each recent story
        assert (
            '<bdi>Kurdistan24</bdi><div class="affiliation"><bdi>Kurdistan Democratic Party (KDP)</bdi></div>'
            in index
        )
        assert '<p id="spreading">nothing breaking in the last 6 hours</p>' in index
        metrics = http_get(f"{base}/metrics")[1]
        families = {f.name: f for f in text_string_to_metric_families(metrics)}
        assert families["newsmon_queue_depth"].type == "gauge"
        assert {s.labels["queue"]: s.value for s in families["newsmon_queue_depth"].samples}["process"] == 1
        assert families["newsmon_polls_24h"].type == "gauge" and "newsmon_polls_24h_total" not in metrics
        assert families["newsmon_source_polls"].type == "counter"
        polls = {s.labels["status"]: s.value for s in families["newsmon_source_polls"].samples
                 if s.name == "newsmon_source_polls_total"}
        assert polls == {"ok": 2, "error": 3}
        assert families["newsmon_source_consecutive_failures"].samples[0].value == 3
        last = families["newsmon_source_last_success_timestamp_seconds"].samples[0].value
        assert abs(last - (now - 7200)) < 1
        assert families["newsmon_health_level"].samples[0].value == 2
        assert {s.labels["kind"]: s.value for s in families["newsmon_breaking_events_24h"].samples} == {
            "cluster": 0, "surge": 0}
        code, body = http_get(f"{base}/healthz")
        assert code == 503 and body.startswith("unhealthy\n") and "no-worker:process" in body
        # in the start-up grace a missing worker is no problem: what is left is the source failing for an
        # hour, which is degraded, and /healthz answers 200 saying so
        redis_conn.set(keys.STARTING, "1", ex=60)
        code, body = http_get(f"{base}/healthz")
        assert code == 200 and body.startswith("degraded\n") and "source-failing:dark" in body
        assert "no-worker" not in body
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsmon",
            "--config-dir",
            str(config_dir),
            "web",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        env={**os.environ, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "NEWSMON_WEB_TOKEN" in refused.stderr
    web, port = start_web(config_dir, redis_url, tmp_path, "0.0.0.0", "let-me-in")
    base = f"http://127.0.0.1:{port}"
    try:
        for path in ("/", "/metrics", "/api/status", "/sources/dark"):
            assert http_get(f"{base}{path}")[0] == 401
            assert http_get(f"{base}{path}?token=wrong")[0] == 401
        assert http_get(f"{base}/?token=%D9%83%D9%8A%D9%87")[0] == 401  # a non-ASCII token: 401, not 500
        import base64

        basic = base64.b64encode("x:كيه".encode()).decode()
        assert http_get(f"{base}/", {"Authorization": f"Basic {basic}"})[0] == 401
        assert (
            http_get(f"{base}/", {"Authorization": "Bearer \u00e9t\u00e9".encode().decode("latin-1")})[0]
            == 401
        )
        assert http_get(f"{base}/?token=let-me-in")[0] == 200
        code, body = http_get(f"{base}/api/status", {"Authorization": "Bearer let-me-in"})
        assert code == 200 and json.loads(body)["sources"]
        assert http_get(f"{base}/healthz")[0] in (200, 503)  # open for load balancers, whatever the level
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)


def test_web_page_renders_in_headless_chromium(admin, redis_conn: redis.Redis, redis_url: str,
                                               tmp_path: Path) -> None:
    require(CHROMIUM is not None, "needs Debian's chromium package (.ci/run installs it)")
    from newsmon.models import Story
    from newsmon.workers.archive import Archive, open_engine

    _config, config_dir, _ = admin
    archive = Archive(open_engine(f"sqlite:///{tmp_path / 'data' / 'archive.sqlite'}"))
    url = "https://www.kurdistan24.net/ar/story/1/%D9%82%D8%A7%D8%B9%D8%AF%D8%A9-%D9%83%D9%8A%D9%87-1"
    archive_story(
        archive,
        Story(
            id="0123456789abcdef",
            source_id="dark",
            outlet="كوردستان 24",
            language="ar",
            url=url,
            canonical_url=url,
            title="صواريخ على قاعدة كيه-1 غرب كركوك",
            text="نص الخبر",
        ),
        [],
        "h",
        "v1",
    )
    redis_conn.hset(keys.source_state("dark"), mapping={"status": "error", "failure_kind": "blocked",
                                                        "consecutive_failures": "3", "polls_total": "3"})
    Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer).enqueue(
        keys.PROCESS_STORY_JOB, {"not": "a story"})
    web, port = start_web(config_dir, redis_url, tmp_path, "127.0.0.1", None)
    try:
        dom = dump_dom(f"http://127.0.0.1:{port}/")
        assert 'id="sources"' in dom and 'data-source="dark"' in dom and "blocked" in dom
        assert '<td class="depth num">1</td>' in dom
        assert "UNHEALTHY" in dom
        # the Arabic headline reaches the browser intact, in a cell that lays it out right to left, and its
        # link's text is the readable Arabic URL while the href stays encoded
        assert '<td lang="ar" dir="auto"><a href="' + url + '">صواريخ على قاعدة كيه-1 غرب كركوك</a>' in dom
        # each piece of the decoded path is isolated, so an Arabic slug reads right to left in its place
        pieces = ("www.kurdistan24.net", "ar", "story", "1", "قاعدة-كيه-1")
        assert "://" + "/".join(f"<bdi>{p}</bdi>" for p in pieces) in dom
        assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+03</td>", dom), "processed time, Baghdad"
        # laid out by Chromium: the Arabic headline sits at the right of its cell, the English one at the
        # left, and the URL cell's text is the address in reading order
        layout = measure_layout(f"http://127.0.0.1:{port}/", tmp_path)
        assert layout["ar_gap_right"] < 12 < layout["ar_gap_left"], layout
        assert layout["url_text"] == "https://www.kurdistan24.net/ar/story/1/قاعدة-كيه-1", layout
        polls = dump_dom(f"http://127.0.0.1:{port}/sources/dark")
        assert "<h1>dark</h1>" in polls and "Recent polls" in polls
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
