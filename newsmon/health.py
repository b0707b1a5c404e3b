"""Health alerts for admins: each problem fires once when it starts and once when it clears.

Problems come from `newsmon.status` (a source failing or silent, a queue backing up, no worker for a
queue, no scheduler ticking). The scheduler's leader runs `evaluate` every half minute (one of its
periodic jobs); while no scheduler beats, one worker stands in (`start_standby`), so a dead scheduler
is still told to admins. A short Redis lock makes each half minute's run one process's. What started
or cleared is handed to the alerts role as a `notify_admins` job, which delivers it on the admin
channels.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
from rq import Queue

from newsmon import keys, stats
from newsmon.redis_conn import acquire
from newsmon.serializer import JobSerializer
from newsmon.settings import Config
from newsmon.status import collect, load_for_status, scheduler_down, scheduler_state

log = logging.getLogger(__name__)

INTERVAL = 30


def evaluate(config: Config, conn: redis.Redis, now: float | None = None,
             exclusive: bool = True, validate: Any = None) -> tuple[list[dict], list[dict]]:
    """Compare the current problems with the active ones; alert on what started and what cleared.

    With `exclusive`, a run that finds another process's run within the last quarter minute does
    nothing (tests that drive the clock pass False).

    Returns:
        (problems that started, problems that cleared).
    """
    now = time.time() if now is None else now
    if exclusive and not acquire(conn, keys.HEALTH_LOCK, uuid.uuid4().hex, INTERVAL // 2):
        return [], []
    pipe = conn.pipeline(transaction=False)
    pipe.hset(keys.HEALTH_CHECKED, "at", f"{now:.3f}")
    pipe.hincrby(keys.HEALTH_CHECKED, "checks", 1)
    pipe.execute()
    on_disk, error = load_for_status(config.directory, conn, validate)
    current = {
        p["id"]: p for p in collect(config if error else on_disk, conn, now, config_error=error)["problems"]
    }
    active = {k.decode(): json.loads(v) for k, v in conn.hgetall(keys.HEALTH_ACTIVE).items()}
    started = [p for pid, p in current.items() if pid not in active]
    cleared = [p for pid, p in active.items() if pid not in current]
    stamp = datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="seconds")
    for problem in started:
        conn.hset(keys.HEALTH_ACTIVE, problem["id"], json.dumps({**problem, "since": stamp}))
        _send(config, conn, problem, "firing", stamp)
        log.warning("health problem started: %s", problem["message"])
    for problem in cleared:
        conn.hdel(keys.HEALTH_ACTIVE, problem["id"])
        _send(config, conn, problem, "resolved", stamp)
        log.info("health problem cleared: %s", problem["message"])
    return started, cleared


def _send(config: Config, conn: redis.Redis, problem: dict, state: str, stamp: str) -> None:
    if not config.alerts.admin.channels:
        return
    notice = {"id": problem["id"], "state": state, "message": f"[{problem.get('level', 'unhealthy')}] "
              f"{problem['message']}", "at": stamp}
    # keyed by problem, state and time: never doubled, never merged
    job_id = "notify-" + uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(notice, sort_keys=True)).hex
    Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer).enqueue(
        keys.NOTIFY_ADMINS_JOB, notice, job_id=job_id, result_ttl=config.job_keep_seconds,
        failure_ttl=config.job_keep_seconds, description=f"notify admins: {problem['id']} {state}")
    stats.count(conn, f"queue:{keys.ALERTS_QUEUE}:in")


def scheduler_beats(config: Config, conn: redis.Redis, now: float | None = None) -> bool:
    """Whether a scheduler leads: its heartbeat is newer than `admin.scheduler_stale_seconds`, the rule
    by which status calls the scheduler down."""
    return not scheduler_down(config, scheduler_state(conn, time.time() if now is None else now))


def start_standby(live: Any, conn: redis.Redis, validate: Any = None) -> threading.Thread:
    """In a worker: every half minute, take a newly published config (so an idle worker follows it too)
    and, while no scheduler beats, evaluate health (the scheduler runs it otherwise)."""

    def loop() -> None:
        while True:
            time.sleep(INTERVAL)  # first look after a full interval: a starting scheduler beats by then
            try:
                config = live.get()
                if not scheduler_beats(config, conn):
                    evaluate(config, conn, validate=validate)
            except redis.RedisError as exc:
                log.warning("health check skipped: %s", exc)

    thread = threading.Thread(target=loop, name="newsmon-health-standby", daemon=True)
    thread.start()
    return thread
