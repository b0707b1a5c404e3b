"""Everything the scheduler does on a clock, in one place with its interval.

The scheduler is the runtime's clock. What it runs itself is about time and leases: the poll requests
(each source on its own interval, `clock.request_poll`), the leader lease, its heartbeat, following the
published config, and the health evaluation (`newsmon.health`; admins' notices go to the alerts role).
Work that belongs to another role is handed to that role as an RQ job, by name (`newsmon.keys`), and
only when there is something to do: a job of a kind still waiting is not enqueued again, so a stopped
worker pool never finds a pile of ticks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from newsmon import health, keys
from newsmon.scheduler.adaptive import REPLAN
from newsmon.serializer import JobSerializer
from newsmon.settings import Config

log = logging.getLogger(__name__)

LEADER_RENEW = 10  # seconds between renewals (or takeovers) of the leader lease
CONFIG_CHECK = 5  # seconds between looks at the published config version
# seconds between looks for due digests: a digest goes out at most this late; a look costs one EXISTS
# while no desk holds a story
DIGEST_CHECK = 10
WEBSUB_CHECK = 30  # seconds between looks at subscriptions to ask for or renew (a look reads a hash a feed)
PUSH_CHECK = 1  # seconds between looks for pushes: a push is polled at most this late (a look is one LRANGE)


@dataclass(frozen=True)
class Periodic:
    """One periodic job: `run(context)` every `seconds`, on the leader only unless `every_scheduler`."""

    name: str
    seconds: int
    run: Callable[[Any], object]
    what: str
    every_scheduler: bool = False


def _pending(conn: redis.Redis, name: str) -> bool:
    """Whether the last job this periodic entry enqueued still waits or runs."""
    job_id = conn.get(keys.scheduler_handed(name))
    if not job_id:
        return False
    try:
        job = Job.fetch(job_id.decode(), connection=conn, serializer=JobSerializer)
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def hand_over(conn: redis.Redis, config: Config, name: str, job: str) -> str | None:
    """Enqueue `job` (a name of keys.JOBS) on its role's queue unless the one handed before still waits.
    Returns the new job's id, or None."""
    if _pending(conn, name):
        return None
    job_id = f"{name}-{time.time_ns()}"
    Queue(keys.JOBS[job], connection=conn, serializer=JobSerializer).enqueue(
        job, job_id=job_id, result_ttl=0, failure_ttl=config.job_keep_seconds,
        description=f"scheduler: {name}")
    conn.set(keys.scheduler_handed(name), job_id, ex=keys.SCHEDULER_HANDED_TTL)
    return job_id


def digests(ctx: Any) -> None:
    """Start the digests that are due, while some desk holds stories (a quiet hour, a throttle, a digest
    desk): the alerts role decides which are due."""
    config: Config = ctx.live.get()
    desks = list(config.alerts.all_desks())
    if desks and ctx.conn.exists(*(keys.desk_held(d) for d in desks)):
        hand_over(ctx.conn, config, "digests", keys.DIGEST_TICK_JOB)


def delivery_log(ctx: Any) -> None:
    """Move the alerts' delivery log into the archive (the workers own it), when it holds rows."""
    if ctx.conn.llen(keys.DELIVERY_LOG):
        hand_over(ctx.conn, ctx.live.get(), "delivery-log", keys.DRAIN_DELIVERY_LOG_JOB)


def retention(ctx: Any) -> None:
    """Delete archived stories older than `pipeline.archive.retention_days` (when set)."""
    config: Config = ctx.live.get()
    if config.pipeline.archive.retention_days:
        hand_over(ctx.conn, config, "retention", keys.PRUNE_ARCHIVE_JOB)


def check_health(ctx: Any) -> None:
    """Compare the current problems with the active ones; admins hear what started and what cleared."""
    health.evaluate(ctx.live.get(), ctx.conn, validate=ctx.validate)


# The periodic jobs besides the polls (one per enabled source, on the source's `interval` with its
# `jitter`) and the leader lease and heartbeat (every LEADER_RENEW s, clock.build_scheduler).
PERIODIC: tuple[Periodic, ...] = (
    Periodic("config", CONFIG_CHECK, lambda ctx: ctx.follow_config(), "take a newly published config: "
             "the polls follow its sources", every_scheduler=True),
    Periodic("health", health.INTERVAL, check_health, "health problems started or cleared: to admins"),
    Periodic("digests", DIGEST_CHECK, digests, "digests due: to the alerts role (digests_due)"),
    Periodic("delivery-log", 5, delivery_log, "the delivery log into the archive: to the workers"),
    Periodic("retention", 3600, retention, "archive retention: to the workers (prune_archive)"),
    Periodic("websub", WEBSUB_CHECK, lambda ctx: ctx.websub(), "WebSub: subscribe to the hubs feeds name, "
             "renew leases, retry refusals (newsmon/websub.py)"),
    Periodic("pushes", PUSH_CHECK, lambda ctx: ctx.pushes(), "WebSub: poll the sources whose hub pinged"),
    Periodic("adaptive", REPLAN, lambda ctx: ctx.replan(), "adaptive sources' intervals from their posting "
             "profiles and the request budget (scheduler/adaptive.py)", every_scheduler=True),
)
