"""The scheduler role's clock: APScheduler asks the crawler, through Redis, to poll each source on its
interval, and runs the periodic jobs of `newsmon.scheduler.periodic`.

Only the scheduler holding the leader lock requests polls and runs the periodic jobs, so a second
scheduler started by mistake waits as a hot spare instead of doubling them. A poll is requested only
when the source's poll lease is free (`newsmon.leases`), that is when the previous poll has finished
(or its crawler stopped beating, or its lock expired).
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from newsmon import keys, leases, probe, profile, websub
from newsmon.models import PollRequest, utcnow
from newsmon.redis_conn import acquire, release_if_owner
from newsmon.scheduler import adaptive
from newsmon.scheduler.periodic import LEADER_RENEW, PERIODIC, Periodic
from newsmon.settings import Config, Source

log = logging.getLogger(__name__)

LEADER_TTL = 30
HEARTBEAT_TTL = 300
FIRST_POLL_SPREAD = 5.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""


class LeaderLock:
    """An expiring Redis lock that makes one scheduler the active one."""

    def __init__(self, conn: redis.Redis, ttl: int = LEADER_TTL) -> None:
        self.conn = conn
        self.ttl = ttl
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False

    def refresh(self) -> bool:
        """Renew the lock if held, else try to take it; returns whether this scheduler leads."""
        was = self.held
        if self.held:
            self.held = bool(self.conn.eval(_RENEW, 1, keys.SCHEDULER_LEADER, self.identity, self.ttl))
        if not self.held:
            self.held = acquire(self.conn, keys.SCHEDULER_LEADER, self.identity, self.ttl)
        if self.held != was:
            log.info("scheduler %s leader=%s", self.identity, self.held)
        probe.beat("scheduler", leader=self.held)  # Redis answered: this scheduler leads or stands by
        return self.held

    def release(self) -> None:
        """Give the lock up so a standby scheduler takes over at once."""
        if self.held:
            release_if_owner(self.conn, keys.SCHEDULER_LEADER, self.identity)
            self.held = False


def request_poll(conn: redis.Redis, source: Source, leader: LeaderLock, host_limit: int | None = None) -> str:
    """Ask the crawler to poll `source` now; returns `requested`, `standby`, `backoff`, `host-limit` (an
    adaptive source whose host was asked `host_limit` times in the last hour) or `busy`."""
    if not leader.held:
        return "standby"
    paused = leases.backoff_remaining(conn, source.id)
    if paused > 0:
        log.debug("poll skipped source=%s: backing off for %.0f s after failures", source.id, paused)
        return "backoff"
    now = time.time()
    host_key = keys.host_polls(adaptive.host_of(source))
    if source.adaptive and host_limit:
        conn.zremrangebyscore(host_key, "-inf", now - 3600)
        if conn.zcard(host_key) >= host_limit:
            log.debug("poll skipped source=%s: its host had %d polls in the last hour", source.id, host_limit)
            return "host-limit"
    token = uuid.uuid4().hex
    if not leases.acquire_poll(conn, source.id, token, source.interval):
        if not leases.release_orphaned(conn, source.id):
            log.debug("poll skipped source=%s: previous poll still running", source.id)
            return "busy"
        log.warning("poll of source=%s released: the crawler that took it stopped beating", source.id)
        if not leases.acquire_poll(conn, source.id, token, source.interval):
            return "busy"
    request = PollRequest(
        source_id=source.id, poll_id=uuid.uuid4().hex, lock_token=token, requested_at=utcnow()
    )
    with conn.pipeline(transaction=False) as pipe:
        pipe.rpush(keys.poll_requests(source.kind), request.model_dump_json())
        pipe.zadd(host_key, {request.poll_id: now})  # every poll counts towards its host's hour
        pipe.expire(host_key, 3700)
        pipe.execute()
    log.debug("poll requested source=%s", source.id)
    return "requested"


@dataclass
class Clock:
    """What the periodic jobs run with: the connection, the live config, the leader lease."""

    conn: redis.Redis
    live: Any  # a LiveConfig
    leader: LeaderLock
    validate: Any = None
    scheduler: BlockingScheduler | None = None

    def follow_config(self) -> None:
        assert self.scheduler is not None
        follow_config(self.live, self.scheduler, self.conn, self.leader)

    def websub(self, now: float | None = None) -> dict[str, str]:
        """Subscribe to the hubs feeds name, renew leases, retry refusals (newsmon/websub.py)."""
        return websub.maintain(self.conn, self.live.get(), now)

    def pushes(self) -> list[str]:
        """Poll the sources whose hub pinged since the last look (a push is a poll request, no more)."""
        pushed = websub.take_pushes(self.conn)
        if not pushed:
            return []
        config = self.live.get()
        sources = {s.id: s for s in config.enabled_sources()}
        done = []
        for source_id in pushed:
            source = sources.get(source_id)
            if source is None:
                continue
            outcome = request_poll(self.conn, source, self.leader,
                                   config.pipeline.scheduler.host_polls_per_hour)
            log.info("websub push source=%s: poll %s", source_id, outcome)
            done.append(source_id)
        return done

    def replan(self, now: float | None = None) -> dict[str, float]:
        """Time the adaptive sources' polls by their posting profiles and the budget (adaptive.plan);
        a source's job is re-timed when its interval moves by more than a tenth, and never pushed later
        than its new interval from now. A source its WebSub hub pushes runs at websub.fallback_interval at
        most often while the subscription is alive. Returns the planned intervals (adaptive and pushed
        sources)."""
        assert self.scheduler is not None
        config = self.live.get()
        now = time.time() if now is None else now
        ids = [s.id for s in config.enabled_sources() if s.adaptive]
        curves = profile.rates(self.conn, ids, now, hours=24) if ids else {}
        chosen = adaptive.plan(config, curves)
        planned = chosen.intervals
        if planned:
            log.debug("adaptive plan: %s, cap %s s, predicted p95 %.0f s, mean %.0f s", chosen.kind,
                      f"{chosen.cap:.0f}" if chosen.cap else "none", chosen.p95, chosen.mean)
        # a source its hub pushes is polled at websub.fallback_interval at most often (a lost ping is
        # caught up then); back on its own schedule as soon as the subscription is not alive
        fallback = config.pipeline.websub.fallback_interval
        sources = config.enabled_sources()
        pushed = websub.alive_sources(self.conn, [s.id for s in sources if s.kind == "feed"], now)
        timed = dict(planned)  # what each job should run at: the adaptive plan, fixed intervals, fallbacks
        for source in sources:
            base = planned.get(source.id, float(source.interval))
            if source.id in pushed:
                planned[source.id] = timed[source.id] = max(base, float(fallback))
            elif not source.adaptive:
                timed[source.id] = base
        for source_id, seconds in timed.items():
            job = self.scheduler.get_job(f"poll:{source_id}")
            if job is None:
                continue
            current = job.trigger.interval.total_seconds()
            if abs(seconds - current) <= current / 10:
                continue
            due = job.next_run_time
            source = job.args[1]
            fixed_again = not source.adaptive and seconds == source.interval
            self.scheduler.reschedule_job(
                job.id, trigger=_trigger(source) if fixed_again else _interval_trigger(seconds))
            soonest = datetime.now(UTC) + timedelta(seconds=seconds)
            if due is not None and due < soonest:
                self.scheduler.modify_job(job.id, next_run_time=due)
            why = "pushed" if source_id in pushed else "adaptive" if source.adaptive else "not pushed"
            log.info("%s source=%s interval %.0f s -> %.0f s", why, source_id, current, seconds)
        return planned


def build_scheduler(config: Config, conn: redis.Redis, leader: LeaderLock, live: Any = None,
                    validate: Any = None, periodic: tuple[Periodic, ...] = PERIODIC) -> BlockingScheduler:
    """An APScheduler with one interval job per enabled source, the leader lease and heartbeat, and the
    periodic jobs (on the leader only, unless a job runs on every scheduler). Without `live`, the config
    given is the one followed."""
    scheduler = BlockingScheduler(timezone=UTC)
    clock = Clock(conn, live if live is not None else _Fixed(config), leader, validate, scheduler)
    now = datetime.now(UTC)
    scheduler.add_job(leader.refresh, IntervalTrigger(seconds=LEADER_RENEW), id="leader", next_run_time=now)
    scheduler.add_job(_on_leader, IntervalTrigger(seconds=LEADER_RENEW), id="heartbeat", next_run_time=now,
                      args=[leader, "heartbeat", lambda: _heartbeat(conn, scheduler, leader)])
    for job in periodic:
        scheduler.add_job(
            _guarded,
            IntervalTrigger(seconds=job.seconds),
            args=[None if job.every_scheduler else leader, job, clock],
            id=job.name,
            next_run_time=now + timedelta(seconds=2),
            max_instances=1,
            coalesce=True,
        )
    for source in config.enabled_sources():
        _add_poll(scheduler, conn, source, leader, now, config.pipeline.scheduler.host_polls_per_hour)
    return scheduler


class _Fixed:
    """A config that never changes, read as a LiveConfig is."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.version = config.version

    def get(self) -> Config:
        return self.config


def _guarded(leader: LeaderLock | None, job: Periodic, clock: Clock) -> None:
    """Run a periodic job (on the leader only when `leader` is given); a failure is logged, and the job
    runs again at its next interval."""
    if leader is not None and not leader.held:
        return
    log.debug("tick %s", job.name)
    try:
        job.run(clock)
    except redis.RedisError as exc:
        log.warning("scheduler job %s skipped: %s", job.name, exc)
    except Exception:
        log.exception("scheduler job %s failed", job.name)


def _add_poll(scheduler: BlockingScheduler, conn: redis.Redis, source: Source, leader: LeaderLock,
              now: datetime, host_limit: int | None = None) -> None:
    first = now + timedelta(seconds=1 + random.uniform(0, min(FIRST_POLL_SPREAD, source.effective_jitter)))
    scheduler.add_job(
        request_poll,
        _trigger(source),
        args=[conn, source, leader, host_limit],
        id=f"poll:{source.id}",
        next_run_time=first,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, source.interval // 2),
    )


def _trigger(source: Source) -> IntervalTrigger:
    if source.adaptive:  # until the first plan: its interval, within its bounds
        return _interval_trigger(min(max(source.interval, source.min_interval), source.max_interval))
    return IntervalTrigger(seconds=source.interval, jitter=source.effective_jitter or None)


def _interval_trigger(seconds: float) -> IntervalTrigger:
    """An adaptive source's trigger: its planned interval, with a tenth of it (at most 30 s) as jitter."""
    return IntervalTrigger(seconds=seconds, jitter=min(30, int(seconds) // 10) or None)


def sync_sources(scheduler: BlockingScheduler, config: Config, conn: redis.Redis,
                 leader: LeaderLock) -> dict[str, list[str]]:
    """Make the poll schedule the config's: sources added or enabled get a job (first poll within a few
    seconds), removed or disabled ones lose theirs, re-timed ones are rescheduled, and every job polls the
    source as it is now configured. Returns what changed."""
    wanted = {s.id: s for s in config.enabled_sources()}
    host_limit = config.pipeline.scheduler.host_polls_per_hour
    jobs = {job.id.removeprefix("poll:"): job for job in scheduler.get_jobs() if job.id.startswith("poll:")}
    changes: dict[str, list[str]] = {"added": [], "removed": [], "retimed": []}
    for source_id, job in jobs.items():
        if source_id not in wanted:
            scheduler.remove_job(job.id)
            changes["removed"].append(source_id)
    now = datetime.now(UTC)
    for source_id, source in wanted.items():
        job = jobs.get(source_id)
        if job is None:
            _add_poll(scheduler, conn, source, leader, now, host_limit)
            changes["added"].append(source_id)
            continue
        old: Source = job.args[1]
        job.modify(args=[conn, source, leader, host_limit], misfire_grace_time=max(1, source.interval // 2))
        timing = ("interval", "effective_jitter", "adaptive", "min_interval", "max_interval")
        if any(getattr(old, name) != getattr(source, name) for name in timing):
            scheduler.reschedule_job(job.id, trigger=_trigger(source))
            changes["retimed"].append(source_id)
    return changes


def follow_config(live: Any, scheduler: BlockingScheduler, conn: redis.Redis, leader: LeaderLock) -> None:
    """Take a newly published config version: the poll schedule follows it (every scheduler, leader or
    standby, so a standby that takes over polls what is live)."""
    before = live.version
    config = live.get()
    if config.version == before:
        return
    changes = sync_sources(scheduler, config, conn, leader)
    log.info("scheduler: sources now %d enabled (added %s, removed %s, re-timed %s)",
             len(config.enabled_sources()), changes["added"] or "none", changes["removed"] or "none",
             changes["retimed"] or "none")


def _heartbeat(conn: redis.Redis, scheduler: BlockingScheduler, leader: LeaderLock) -> None:
    """Tell admins the scheduler ticks, and when each source is polled next."""
    next_polls = {
        job.id.removeprefix("poll:"): job.next_run_time.isoformat()
        for job in scheduler.get_jobs() if job.id.startswith("poll:") and job.next_run_time
    }
    beat = {"at": time.time(), "leader": leader.identity, "next_polls": next_polls}
    conn.set(keys.SCHEDULER_HEARTBEAT, json.dumps(beat), ex=HEARTBEAT_TTL)


def _on_leader(leader: LeaderLock, name: str, function: Callable[[], object]) -> None:
    if leader.held:
        log.debug("tick %s", name)
        function()


def run_scheduler(config: Config, conn: redis.Redis, live: Any = None, validate: Any = None) -> None:
    """Run until SIGINT/SIGTERM, then hand the leader lock over. With `live` (a LiveConfig), the poll
    schedule and the periodic jobs follow the published config version."""
    leader = LeaderLock(conn)
    scheduler = build_scheduler(config, conn, leader, live=live, validate=validate)

    def stop(signum: int, _frame: Any) -> None:
        log.info("scheduler stopping on signal %d", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler started sources=%d periodic=%s", len(config.enabled_sources()),
             ", ".join(f"{job.name}/{job.seconds}s" for job in PERIODIC))
    try:
        scheduler.start()
    finally:
        leader.release()
