"""Status sees what breaks within a minute, and newsmon recovers by itself: a full disk under the archive,
a dead mail server, a crawler or a worker killed in the middle of its work."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from newsmon import keys
from newsmon.alerts.jobs import enqueue_deliveries
from newsmon.models import Story, story_id_for
from newsmon.settings import load_config
from newsmon.status import collect
from newsmon.urls import canonical_url
from tests.conftest import Roles, SmtpServer, feed_source, require, settled, wait_for, write_config
from tests.test_render import make_alert

pytestmark = pytest.mark.e2e


def problem(config, conn: redis.Redis, kind: str) -> dict | None:
    return next((p for p in collect(config, conn)["problems"] if p["kind"] == kind), None)


def story_payload(n: int, words: int = 400) -> dict:
    url = f"https://k24.example/en/story/{n}-{uuid.uuid4().hex[:6]}"
    text = " ".join(f"word{n}x{i}" for i in range(words)) + " Rockets hit the K-1 base near Kirkuk."
    return Story(id=story_id_for(canonical_url(url)), source_id="s1", outlet="Kurdistan24", language="en",
                 url=url, canonical_url=canonical_url(url), title=f"Story {n} about K-1",
                 text=text).model_dump(mode="json")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 3 MB tmpfs for the archive (mounting needs root, as in CI)."""
    mount = tmp_path / "small"
    mount.mkdir()
    allowed = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, check=False
    ).returncode == 0
    require(allowed, "a small filesystem for the full-disk test: mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Fill the filesystem to the last byte."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_makes_the_archive_failing_within_a_minute_and_healthy_after(
        tmp_path: Path, small_disk: Path, roles: Roles, redis_conn: redis.Redis) -> None:
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/feed")],
                              {"channels": {"c": {"type": "console"}}, "routes": []})
    config = load_config(config_dir)
    database = f"sqlite:///{small_disk / 'archive.sqlite'}"
    roles.start("worker", config_dir, "worker", "--queues", "process", env={"DATABASE_URL": database})
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)

    def done(job: Job) -> bool:
        return job.get_status(refresh=True) == JobStatus.FINISHED

    first = queue.enqueue(keys.PROCESS_BATCH_JOB, [story_payload(i) for i in range(3)])
    wait_for(lambda: done(first), timeout=60, what="the first batch to be archived")
    assert problem(config, redis_conn, "archive-failing") is None

    filler = fill(small_disk)
    started = time.monotonic()
    batch = queue.enqueue(keys.PROCESS_BATCH_JOB, [story_payload(i, 3000) for i in range(10, 26)],
                          retry=Retry(max=5, interval=[5]))
    found = wait_for(lambda: problem(config, redis_conn, "archive-failing"), timeout=60,
                     what="archive-failing in status")
    print(f"measured: archive-failing {time.monotonic() - started:.1f} s after the disk filled")
    assert time.monotonic() - started < 60
    assert found["level"] == "unhealthy" and "full" in found["message"], found
    assert collect(config, redis_conn)["level"] == "unhealthy"

    filler.unlink()  # space again: the batch's retry gets through and the problem clears
    freed = time.monotonic()
    wait_for(lambda: done(batch), timeout=90, what="the retried batch to be archived")
    assert problem(config, redis_conn, "archive-failing") is None
    print(f"measured: archive healthy {time.monotonic() - freed:.1f} s after space came back")


def test_a_dead_mail_server_is_failing_within_a_minute_and_what_waited_goes_out_once_when_back(
        tmp_path: Path, roles: Roles, redis_conn: redis.Redis, smtp_server: SmtpServer) -> None:
    smtp_server.stop()  # down from the start
    alerts = {
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
        "channels": {"mail": {"type": "email", "to": ["desk@test"]}},
        "routes": [{"id": "desk", "topics": ["*"], "channels": ["mail"]}],
        "retry": {"max": 40, "intervals": [1, 2, 30]},  # a window of about 19 minutes
        "admin": {"delivery_failures": 3},
    }
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/feed")], alerts)
    config = load_config(config_dir)
    roles.start("worker", config_dir, "worker", "--queues", "alerts")
    desk = config.alerts.all_desks()["desk"]
    down_at = time.monotonic()
    count = 0
    for n in range(6):  # alerts keep coming during the outage, each on its own retry schedule
        count += enqueue_deliveries(config, redis_conn, "desk", desk, "instant",
                                    [make_alert(title=f"K-1 story {n}", story_id=f"story{n}")])
        if n == 0:
            found = wait_for(lambda: problem(config, redis_conn, "delivery-failing"), timeout=60,
                             what="delivery-failing in status")
            print(f"measured: delivery-failing {time.monotonic() - down_at:.1f} s after the first alert")
            assert time.monotonic() - down_at < 60
            assert found["level"] == "unhealthy" and "mail" in found["subject"], found
        time.sleep(5)  # the outage's clock: a new alert every 5 s, not a wait for readiness
    assert count == 6
    while time.monotonic() - down_at < 60:  # a minute down
        time.sleep(1)
    assert not smtp_server.messages
    smtp_server.start()
    back = time.monotonic()
    arrived: list[float] = []
    smtp_server.mailbox.on_message = lambda _m: arrived.append(time.monotonic())
    wait_for(lambda: len(smtp_server.messages) >= 6, timeout=90, what="the six waiting alerts")
    # the first that got through sent the others at once, not each at its own next retry
    assert max(arrived) - min(arrived) < 10, [round(a - arrived[0], 1) for a in arrived]
    print(f"measured: all 6 delivered {max(arrived) - back:.1f} s after SMTP came back, "
          f"within {max(arrived) - min(arrived):.1f} s of each other")
    settled(redis_conn, keys.ALERTS_QUEUE)  # nothing left to send: no seventh message can come
    keys_sent = sorted(m["X-Newsmon-Key"] for m in smtp_server.messages)
    assert len(keys_sent) == 6 == len(set(keys_sent)), keys_sent  # each once
    assert problem(config, redis_conn, "delivery-failing") is None


def test_a_crawler_killed_mid_poll_frees_its_source_within_a_minute(
        tmp_path: Path, roles: Roles, redis_conn: redis.Redis, replay) -> None:
    from newsmon.app.replay import Fixed
    from tests.conftest import add_feed, make_article

    article = make_article("/slow/1", "Rockets hit the K-1 base", ["Rockets hit the K-1 base near Kirkuk."])
    add_feed(replay, "/slow/rss", [article])
    replay.set_fixed("/slow/1", Fixed(body=b"<html><body>late</body></html>", delay=45))
    source = {**feed_source("slow", f"{replay.base_url}/slow/rss"), "interval": 10}
    config_dir = write_config(tmp_path / "config", [source], {"channels": {"c": {"type": "console"}},
                                                             "routes": []})
    roles.start("crawler", config_dir, "crawler")
    roles.start("scheduler", config_dir, "scheduler")
    wait_for(lambda: replay.hits.get("/slow/1"), timeout=60, what="the poll to reach the slow article")
    first = redis_conn.hget(keys.POLLS_RUNNING, "slow")
    assert first and redis_conn.exists(keys.poll_lock("slow"))
    roles.kill("crawler")  # mid-poll: the poll's lock is held for its 120 s TTL unless released
    killed = time.monotonic()
    with replay.lock:
        replay.fixed.pop("/slow/1")  # the article answers at once from now on
    roles.start("crawler-2", config_dir, "crawler")
    wait_for(lambda: int(redis_conn.hget(keys.source_state("slow"), "polls_total") or 0) >= 1, timeout=60,
             what="the source polled again")
    print(f"measured: source polled again {time.monotonic() - killed:.1f} s after the crawler's SIGKILL")
    assert time.monotonic() - killed < 60
    assert "released: the crawler that took it stopped beating" in roles.log("scheduler")


def test_a_worker_killed_mid_job_has_its_job_done_within_90_s_and_nothing_doubled(
        tmp_path: Path, roles: Roles, redis_conn: redis.Redis) -> None:
    import json
    import sqlite3

    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "routes": [{"id": "desk", "topics": ["*"], "channels": ["box"]}],
              "first_poll_max_age_hours": 0}
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/feed")], alerts)
    database = tmp_path / "archive.sqlite"
    env = {"DATABASE_URL": f"sqlite:///{database}"}
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    warm = queue.enqueue(keys.PROCESS_BATCH_JOB, [story_payload(100)])
    roles.start("worker-1", config_dir, "worker", env=env)
    wait_for(lambda: warm.get_status(refresh=True) == JobStatus.FINISHED, timeout=60, what="worker-1 up")
    roles.start("worker-2", config_dir, "worker", "--queues", "alerts", env=env)
    # the archive is locked, so worker-1 blocks inside the next job's write
    lock = sqlite3.connect(database, timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    stories = [story_payload(n) for n in range(16)]
    job = queue.enqueue(keys.PROCESS_BATCH_JOB, stories, retry=Retry(*keys.PROCESS_RETRY))
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, timeout=30, what="worker-1 busy")
    roles.kill("worker-1")
    killed = time.monotonic()
    lock.execute("ROLLBACK")
    lock.close()
    roles.start("worker-3", config_dir, "worker", "--queues", "process", env=env)
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, timeout=90,
             what="the killed worker's job done by another")
    print(f"measured: the killed worker's job done {time.monotonic() - killed:.1f} s after SIGKILL")
    assert time.monotonic() - killed < 90

    def lines() -> list[dict]:
        return [json.loads(line) for line in outbox.read_text().splitlines()] if outbox.exists() else []

    wait_for(lambda: len({r["story_id"] for r in lines()}) == 17, timeout=30, what="every story's alert")
    settled(redis_conn)
    ids = [r["story_id"] for r in lines()]
    assert len(ids) == len(set(ids)) == 17  # one alert per story: nothing doubled


def test_a_refused_delivery_is_one_log_line_per_attempt_without_a_traceback(
        tmp_path: Path, roles: Roles, redis_conn: redis.Redis, smtp_server: SmtpServer) -> None:
    smtp_server.stop()  # the port refuses every connection
    alerts = {
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
        "channels": {"mail": {"type": "email", "to": ["desk@test"]}},
        "routes": [{"id": "desk", "topics": ["*"], "channels": ["mail"]}],
        "retry": {"max": 2, "intervals": [1, 2]},
    }
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/feed")], alerts)
    config = load_config(config_dir)
    roles.start("worker", config_dir, "worker", "--queues", "alerts")
    desk = config.alerts.all_desks()["desk"]
    alert = make_alert(title="K-1 story")
    assert enqueue_deliveries(config, redis_conn, "desk", desk, "instant", [alert]) == 1
    failed = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JSONSerializer).failed_job_registry
    wait_for(lambda: failed.count == 1, timeout=60, what="the delivery to fail for good after two retries")
    roles.stop_all()
    log = roles.log("worker")
    assert "Traceback" not in log and "exception raised while executing" not in log, log
    lines = [line for line in log.splitlines() if "delivery failed" in line]
    assert len(lines) == 3, log
    assert all("WARNING" in line and "channel=mail" in line and "email via 127.0.0.1" in line
               for line in lines)
    assert "attempt 1 of 3, next retry in 1 s" in lines[0]
    assert "attempt 2 of 3, next retry in 2 s" in lines[1]
    assert "attempt 3 of 3, no retry left: kept as failed" in lines[2]
    # everything else the worker wrote is its start-up: nothing per attempt beside the line above
    others = [line for line in log.splitlines() if line.strip() and "delivery failed" not in line]
    assert len(others) <= 4, others
