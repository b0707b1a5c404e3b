"""The scheduler's periodic jobs: declared in one table, handed to the role that owns the work as RQ jobs,
once while one waits, and only when there is work; health runs in the scheduler, and in a worker only
while no scheduler beats."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis
from rq import Queue, SimpleWorker

from newsmon import health, jobcontext, keys
from newsmon.models import StoryAlert, utcnow
from newsmon.scheduler import periodic
from newsmon.scheduler.clock import Clock, LeaderLock, _Fixed, build_scheduler
from newsmon.serializer import JobSerializer
from newsmon.settings import load_config
from newsmon.workers.archive import delivery_rows, open_engine
from tests.conftest import write_config

SOURCE = {"id": "s1", "name": "S", "outlet": "Kurdistan24", "language": "en", "kind": "feed",
          "url": "http://127.0.0.1:9/feed", "interval": 60}


def _config(tmp_path: Path, retention_days: int = 0):
    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "desks": {"morning": {"topics": ["*"], "channels": ["box"], "mode": "digest",
                                    "digest_schedule": "* * * * *", "timezone": "UTC"}}}
    config_dir = write_config(tmp_path / "config", [SOURCE], alerts)
    if retention_days:
        (config_dir / "newsmon.yaml").write_text(f"archive:\n  retention_days: {retention_days}\n")
    return load_config(config_dir), outbox


def _jobs(conn: redis.Redis, queue: str) -> list[str]:
    return [job.func_name for job in Queue(queue, connection=conn, serializer=JobSerializer).jobs]


def test_the_table_names_each_periodic_job_once_with_its_interval() -> None:
    names = [job.name for job in periodic.PERIODIC]
    assert len(names) == len(set(names))
    assert {"health", "digests", "delivery-log", "retention", "config"} <= set(names)
    assert all(job.seconds > 0 and job.what for job in periodic.PERIODIC)
    # every scheduler follows the config and times its adaptive sources, so a standby that takes over
    # polls as the leader did
    assert [job.name for job in periodic.PERIODIC if job.every_scheduler] == ["config", "adaptive"]


def test_work_is_handed_over_once_while_it_waits_and_only_when_there_is_some(
        tmp_path: Path, redis_conn: redis.Redis) -> None:
    config, outbox = _config(tmp_path)
    clock = Clock(redis_conn, _Fixed(config), LeaderLock(redis_conn))
    for job in periodic.PERIODIC:
        if job.name not in ("config", "adaptive"):  # those two act on the poll schedule, not on queues
            job.run(clock)
    assert _jobs(redis_conn, keys.ALERTS_QUEUE) == [] and _jobs(redis_conn, keys.PROCESS_QUEUE) == []

    # a story held for the digest desk, and a row in the delivery log
    alert = StoryAlert(story_id="a1", cluster_id="a1", title="Rockets hit the K-1 base", url="https://x.example/1",
                       outlet="Kurdistan24", language="en", published=None, snippets=[], topics=[])
    held_at = utcnow().timestamp() - 120
    redis_conn.zadd(keys.desk_held("morning"), {alert.model_dump_json(): held_at})
    redis_conn.rpush(keys.DELIVERY_LOG, json.dumps({"at": time.time(), "desk": "morning", "channel": None,
                                                    "mode": "instant", "outcome": "held", "story_id": "a1"}))
    for _ in range(3):  # a job that still waits is not handed over again
        periodic.digests(clock)
        periodic.delivery_log(clock)
        periodic.retention(clock)  # retention_days is 0: nothing to prune
    assert _jobs(redis_conn, keys.ALERTS_QUEUE) == [keys.DIGEST_TICK_JOB]
    assert _jobs(redis_conn, keys.PROCESS_QUEUE) == [keys.DRAIN_DELIVERY_LOG_JOB]

    # the roles' workers run them: the digest goes out, the log lands in the archive
    archive_url = f"sqlite:///{tmp_path / 'archive.sqlite'}"
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn, archive_url=archive_url))
    queues = [Queue(name, connection=redis_conn, serializer=JobSerializer)
              for name in (keys.PROCESS_QUEUE, keys.ALERTS_QUEUE)]
    SimpleWorker(queues, connection=redis_conn, serializer=JobSerializer).work(burst=True)
    assert "Rockets hit the K-1 base" in outbox.read_text()
    rows = delivery_rows(open_engine(archive_url))
    assert any(r["outcome"] == "held" and r["story_id"] == "a1" for r in rows), rows
    assert not redis_conn.exists(keys.desk_held("morning"))
    # the digest's own row came after the drain: the next tick hands it over (the last job is done)
    assert [json.loads(r)["outcome"] for r in redis_conn.lrange(keys.DELIVERY_LOG, 0, -1)] == ["sent"]
    periodic.delivery_log(clock)
    assert _jobs(redis_conn, keys.PROCESS_QUEUE) == [keys.DRAIN_DELIVERY_LOG_JOB]


def test_retention_is_handed_to_the_workers_when_set(tmp_path: Path, redis_conn: redis.Redis) -> None:
    config, _ = _config(tmp_path, retention_days=30)
    periodic.retention(Clock(redis_conn, _Fixed(config), LeaderLock(redis_conn)))
    assert _jobs(redis_conn, keys.PROCESS_QUEUE) == [keys.PRUNE_ARCHIVE_JOB]


def test_periodic_jobs_run_on_the_leader_only(tmp_path: Path, redis_conn: redis.Redis) -> None:
    config, _ = _config(tmp_path)
    leader, spare = LeaderLock(redis_conn), LeaderLock(redis_conn)
    assert leader.refresh() and not spare.refresh()
    for lock in (leader, spare):
        scheduler = build_scheduler(config, redis_conn, lock)
        ids = {job.id for job in scheduler.get_jobs()}
        assert {job.name for job in periodic.PERIODIC} | {"leader", "heartbeat", "poll:s1"} == ids
    redis_conn.rpush(keys.DELIVERY_LOG, "{}")
    job = next(j for j in periodic.PERIODIC if j.name == "delivery-log")
    from newsmon.scheduler.clock import _guarded

    _guarded(spare, job, Clock(redis_conn, _Fixed(config), spare))
    assert _jobs(redis_conn, keys.PROCESS_QUEUE) == []
    _guarded(leader, job, Clock(redis_conn, _Fixed(config), leader))
    assert _jobs(redis_conn, keys.PROCESS_QUEUE) == [keys.DRAIN_DELIVERY_LOG_JOB]


def test_a_worker_stands_in_for_health_only_while_no_scheduler_beats(tmp_path: Path,
                                                                     redis_conn: redis.Redis) -> None:
    """The stand-in follows the rule by which status calls the scheduler down (scheduler_stale_seconds)."""
    config, _ = _config(tmp_path)
    stale = config.alerts.admin.scheduler_stale_seconds
    assert not health.scheduler_beats(config, redis_conn)
    redis_conn.set(keys.SCHEDULER_HEARTBEAT, json.dumps({"at": time.time(), "leader": "s"}))
    assert health.scheduler_beats(config, redis_conn)
    assert health.scheduler_beats(config, redis_conn, now=time.time() + stale - 5)
    assert not health.scheduler_beats(config, redis_conn, now=time.time() + stale + 5)


def test_status_says_when_health_was_last_judged(tmp_path: Path, redis_conn: redis.Redis) -> None:
    from newsmon.status import collect

    config, _ = _config(tmp_path)
    assert collect(config, redis_conn)["scheduler"]["health_checks"] == 0
    periodic.check_health(Clock(redis_conn, _Fixed(config), LeaderLock(redis_conn)))
    health.evaluate(config, redis_conn, exclusive=False)
    scheduler = collect(config, redis_conn)["scheduler"]
    assert scheduler["health_checks"] == 2 and 0 <= scheduler["health_checked_age_seconds"] < 60
