"""Health alerts for admins: each problem fires once when it starts and once when it clears.

Problems come from `newsmon.status` (a source failing or silent, a queue backing up, no worker for a
queue, no scheduler ticking). The scheduler's leader and every worker run `evaluate` every half
minute; a short Redis lock lets one of them do it each time, so a dead scheduler is still noticed by
the workers and dead workers by the scheduler.
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

from newsmon import keys
from newsmon.alerts.jobs import enqueue_deliveries
from newsmon.redis_conn import acquire
from newsmon.settings import Config, Desk
from newsmon.status import collect, load_for_status

log = logging.getLogger(__name__)

ACTIVE = keys.HEALTH_ACTIVE
LOCK = keys.HEALTH_LOCK
INTERVAL = 30
ADMIN_DESK = "admin"


def evaluate(config: Config, conn: redis.Redis, now: float | None = None,
             exclusive: bool = True, validate: Any = None) -> tuple[list[dict], list[dict]]:
    """Compare the current problems with the active ones; alert on what started and what cleared.

    With `exclusive`, a run that finds another process's run within the last quarter minute does
    nothing (tests that drive the clock pass False).

    Returns:
        (problems that started, problems that cleared).
    """
    now = time.time() if now is None else now
    if exclusive and not acquire(conn, LOCK, uuid.uuid4().hex, INTERVAL // 2):
        return [], []
    on_disk, error = load_for_status(config.directory, conn, validate)
    current = {
        p["id"]: p for p in collect(config if error else on_disk, conn, now, config_error=error)["problems"]
    }
    active = {k.decode(): json.loads(v) for k, v in conn.hgetall(ACTIVE).items()}
    started = [p for pid, p in current.items() if pid not in active]
    cleared = [p for pid, p in active.items() if pid not in current]
    stamp = datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="seconds")
    for problem in started:
        conn.hset(ACTIVE, problem["id"], json.dumps({**problem, "since": stamp}))
        _send(config, conn, problem, "firing", stamp)
        log.warning("health problem started: %s", problem["message"])
    for problem in cleared:
        conn.hdel(ACTIVE, problem["id"])
        _send(config, conn, problem, "resolved", stamp)
        log.info("health problem cleared: %s", problem["message"])
    return started, cleared


def _send(config: Config, conn: redis.Redis, problem: dict, state: str, stamp: str) -> None:
    channels = config.alerts.admin.channels
    if not channels:
        return
    # one job per channel, keyed by problem, state and time: never doubled, never merged
    health = {"id": problem["id"], "state": state, "message": f"[{problem.get('level', 'unhealthy')}] "
              f"{problem['message']}", "at": stamp}
    enqueue_deliveries(
        config, conn, ADMIN_DESK, Desk(channels=channels, topics=["*"]), "health", [], health=health
    )


def start_thread(live: Any, conn: redis.Redis, validate: Any = None) -> threading.Thread:
    """Evaluate health every half minute in the background of a worker process, with the live config (a
    LiveConfig: the published version)."""

    def loop() -> None:
        while True:
            time.sleep(
                INTERVAL
            )  # first check after a full interval: the worker's own heartbeat is in by then
            try:
                evaluate(live.get(), conn, validate=validate)
            except redis.RedisError as exc:
                log.warning("health check skipped: %s", exc)

    thread = threading.Thread(target=loop, name="newsmon-health", daemon=True)
    thread.start()
    return thread
