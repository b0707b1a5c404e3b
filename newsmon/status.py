"""The state of a running newsmon, read from Redis: queues, workers, scheduler, sources, deliveries,
and the problems an admin must hear about, as plain data.

Kernel, not application: the health check (`newsmon/health.py`, run by the scheduler) reads the same problems
that `newsmon status` and the web page show, so all three agree. Printing and HTML of it live in the
application layer (`app/cli_status.py`, `app/web.py`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from newsmon import freshness, keys, stats, websub
from newsmon.errors import ConfigError
from newsmon.liveconfig import load_published, published_version
from newsmon.serializer import JobSerializer
from newsmon.settings import AlertsFile, Config, KeywordsFile, SourcesFile, load_config
from newsmon.urls import mask_secrets

QUEUES = (keys.PROCESS_QUEUE, keys.ALERTS_QUEUE)
RATE_MINUTES = 5


def _queues(conn: redis.Redis, now: float) -> dict[str, dict[str, Any]]:
    out = {}
    for name in QUEUES:
        queue = Queue(name, connection=conn, serializer=JobSerializer)
        oldest_age = None
        first = queue.get_job_ids(0, 1)
        if first:
            job = Job.fetch(first[0], connection=conn, serializer=JobSerializer)
            if job.enqueued_at:
                oldest_age = round(now - job.enqueued_at.timestamp(), 1)
        rates = stats.totals(conn, [f"queue:{name}:in", f"queue:{name}:out"], RATE_MINUTES, now)
        out[name] = {
            "depth": queue.count,
            "oldest_age_seconds": oldest_age,
            "in_per_minute": round(rates[f"queue:{name}:in"] / RATE_MINUTES, 2),
            "out_per_minute": round(rates[f"queue:{name}:out"] / RATE_MINUTES, 2),
            "started": StartedJobRegistry(queue=queue).count,
            "scheduled": ScheduledJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count,
        }
    return out


def _workers(conn: redis.Redis, now: float, ttl: int) -> list[dict[str, Any]]:
    """Workers that sent a heartbeat within `ttl` seconds (RQ keeps a dead one registered a while). Of
    registrations with one host and pid, only the newest is alive: the others are processes that died
    without saying so and whose slot a restarted process took (a container keeps its hostname and pid)."""
    newest: dict[tuple[str | None, int | None], Worker] = {}
    for worker in Worker.all(connection=conn):
        beat = worker.last_heartbeat.timestamp() if worker.last_heartbeat else None
        if beat is None or now - beat > ttl:
            continue
        slot = (worker.hostname, worker.pid)
        born = worker.birth_date.timestamp() if worker.birth_date else 0.0
        held = newest.get(slot)
        if held is None or born > (held.birth_date.timestamp() if held.birth_date else 0.0):
            newest[slot] = worker
    out = []
    for worker in newest.values():
        beat = worker.last_heartbeat.timestamp() if worker.last_heartbeat else None
        out.append({
            "name": worker.name,
            "host": worker.hostname,
            "pid": worker.pid,
            "queues": worker.queue_names(),
            "state": str(worker.get_state()),
            "current_job": worker.get_current_job_id(),
            "last_heartbeat_age_seconds": round(now - beat, 1) if beat else None,
        })
    return sorted(out, key=lambda w: (w["host"] or "", w["pid"] or 0))


def scheduler_state(conn: redis.Redis, now: float) -> dict[str, Any]:
    """The leading scheduler's heartbeat and when health was last judged, as status reports them."""
    pipe = conn.pipeline(transaction=False)
    pipe.get(keys.SCHEDULER_HEARTBEAT)
    pipe.hgetall(keys.HEALTH_CHECKED)
    raw, checked = pipe.execute()
    at = float(checked[b"at"]) if b"at" in checked else None
    health_checked = {"health_checked_age_seconds": round(now - at, 1) if at is not None else None,
                      "health_checks": int(checked.get(b"checks", 0))}
    if not raw:
        return {"alive": False, "leader": None, "heartbeat_age_seconds": None, "next_polls": {},
                **health_checked}
    beat = json.loads(raw)
    return {"alive": True, "leader": beat.get("leader"), "heartbeat_age_seconds": round(now - beat["at"], 1),
            "next_polls": beat.get("next_polls", {}), **health_checked}


def scheduler_down(config: Config, scheduler: dict[str, Any]) -> bool:
    """No scheduler heartbeat within `admin.scheduler_stale_seconds`: the `scheduler-down` problem's rule."""
    stale = config.alerts.admin.scheduler_stale_seconds
    return not scheduler["alive"] or scheduler["heartbeat_age_seconds"] > stale


FAILED_STATUSES = ("error", "empty")  # a poll that gave nothing usable; `stale` answers, with old content


def source_states(config: Config, conn: redis.Redis) -> dict[str, dict[str, str]]:
    """Each configured source's state hash as the crawler wrote it (status, times, last error), in one
    round trip; a source never polled has an empty one."""
    pipe = conn.pipeline()
    for source in config.sources.sources:
        pipe.hgetall(keys.source_state(source.id))
    return {source.id: {k.decode(): v.decode() for k, v in raw.items()}
            for source, raw in zip(config.sources.sources, pipe.execute())}


def _sources(config: Config, conn: redis.Redis, now: float) -> list[dict[str, Any]]:
    states = source_states(config, conn)
    delays = freshness.read(conn, [s.id for s in config.sources.sources], now)
    pushes = websub.status_rows(conn, [s.id for s in config.sources.sources], now)
    rows = []
    for source in config.sources.sources:
        state = states[source.id]

        def when(field: str, state: dict[str, str] = state) -> float | None:
            value = float(state.get(field) or 0)
            return value or None

        rows.append({
            "id": source.id, "outlet": source.outlet, "language": source.language, "kind": source.kind,
            "enabled": source.enabled, "interval": source.interval, "status": state.get("status"),
            "failure": state.get("failure_kind") or None,
            "error": mask_secrets(state.get("last_error") or "") or None,
            "last_poll": when("last_poll"), "last_success": when("last_success"),
            "last_new_story": when("last_new_story"), "failing_since": when("failing_since"),
            "consecutive_failures": int(state.get("consecutive_failures") or 0),
            "backoff_remaining_seconds": round(max(0.0, (when("backoff_until") or 0) - now), 1),
            "polls_total": int(state.get("polls_total") or 0),
            "polls": {k.removeprefix("polls_"): int(v) for k, v in state.items()
                      if k.startswith("polls_") and k != "polls_total"},
            "items": int(state.get("last_items") or 0), "new": int(state.get("last_new") or 0),
            "freshness": delays[source.id],
            "websub": pushes[source.id],
        })
    return rows


def _roles(conn: redis.Redis, now: float) -> list[dict[str, Any]]:
    """Roles run by `newsmon run` supervisors, with their recent exits."""
    out = []
    for field, raw in conn.hgetall(keys.ROLES).items():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        exits = [e for e in record.get("exits", []) if now - e[0] <= 600]
        out.append({"name": field.decode(), "role": record.get("role"), "host": record.get("host"),
                    "pid": record.get("pid"), "restarts": record.get("restarts", 0),
                    "exits_10m": len(exits), "last_exit_code": exits[-1][1] if exits else None})
    return sorted(out, key=lambda r: r["name"])


REFUSAL_FRESH = 150  # seconds: a role other than a worker re-records a standing refusal every minute


def _config_state(conn: redis.Redis, status_workers: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """The published config version and the live roles that refused it: workers by their heartbeat,
    the scheduler, crawlers, web and health threads by a refusal recorded in the last REFUSAL_FRESH s."""
    raw = conn.get(keys.CONFIG_VERSION)
    version = json.loads(raw)["version"] if raw else None
    live = {f"{w['host']}:{w['pid']}" for w in status_workers}
    refused = []
    for field, value in conn.hgetall(keys.CONFIG_REFUSED).items():
        who = field.decode()
        record = json.loads(value)
        role = record.get("role") or "worker"
        fresh = role != "worker" and now - float(record.get("at") or 0) <= REFUSAL_FRESH
        if record.get("version") == version and (who in live or fresh):
            refused.append({"worker": who, **record, "role": role})
    return {"published": version, "refused": refused}


def _translation(config: Config, conn: redis.Redis, now: float) -> dict[str, Any]:
    """Glosses of the last 24 h (alerts/translate.py): translated, from the cache, failed (timeouts
    included), and the engine's mean time per call that asked it."""
    settings = config.pipeline.translate
    names = ["gloss:translated", "gloss:cached", "gloss:failed", "gloss:ms", "gloss:calls"]
    day = stats.totals(conn, names, 24 * 60, now)
    calls = day["gloss:calls"]
    return {"backend": settings.backend, "engine": settings.engine_name(),
            "translated_24h": day["gloss:translated"], "cached_24h": day["gloss:cached"],
            "failed_24h": day["gloss:failed"], "calls_24h": calls,
            "mean_ms": round(day["gloss:ms"] / calls, 1) if calls else None}


def _deliveries(config: Config, conn: redis.Redis, now: float) -> dict[str, dict[str, int]]:
    channels = list(config.alerts.channels)
    names = [f"alerts:{c}:{what}" for c in channels for what in ("sent", "retried")]
    counts = stats.totals(conn, names, 24 * 60, now)
    recent_minutes = config.alerts.admin.retrying_minutes
    recent = stats.totals(conn, names, recent_minutes, now)
    failed: dict[str, int] = dict.fromkeys(channels, 0)
    registry = FailedJobRegistry(queue=Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer))
    for job_id in registry.get_job_ids():
        try:
            job = Job.fetch(job_id, connection=conn, serializer=JobSerializer)
            channel = (
                (job.args[0] or {}).get("channel_id") if job.args and isinstance(job.args[0], dict) else None
            )
        except Exception:  # noqa: BLE001 - a job that cannot be read still counts as failed somewhere
            channel = None
        if channel in failed:
            failed[channel] += 1
    pipe = conn.pipeline()
    for c in channels:
        pipe.hgetall(keys.channel_health(c))
    health = [{k.decode(): v.decode() for k, v in raw.items()} for raw in pipe.execute()] if channels else []
    return {c: {"sent_24h": counts[f"alerts:{c}:sent"], "retried_24h": counts[f"alerts:{c}:retried"],
                "failed": failed[c], "sent_recent": recent[f"alerts:{c}:sent"],
                "retried_recent": recent[f"alerts:{c}:retried"],
                "consecutive_failures": int(h.get("consecutive_failures") or 0),
                "failing_since": float(h.get("failing_since") or 0) or None,
                "last_failure": float(h.get("last_failure") or 0) or None,
                "last_success": float(h.get("last_success") or 0) or None,
                "last_error": h.get("last_error") if int(h.get("consecutive_failures") or 0) else None}
            for c, h in zip(channels, health)}


def note_archive_failure(conn: redis.Redis, error: BaseException | str, now: float | None = None) -> None:
    """An archive write failed (disk full, database read-only or unreachable): `archive-failing` from now
    until a write succeeds (note_archive_ok)."""
    now = time.time() if now is None else now
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = mask_secrets(" ".join(text.split()))[:300]
    pipe = conn.pipeline()
    pipe.hsetnx(keys.ARCHIVE_HEALTH, "failing_since", f"{now:.3f}")
    pipe.hset(keys.ARCHIVE_HEALTH, mapping={"last_failure": f"{now:.3f}", "last_error": text})
    pipe.hincrby(keys.ARCHIVE_HEALTH, "failures", 1)
    pipe.execute()


def note_archive_ok(pipe: redis.Redis | redis.client.Pipeline, now: float | None = None) -> None:
    """An archive write succeeded: whatever failed before is over (added to the caller's pipeline)."""
    pipe.hset(keys.ARCHIVE_HEALTH, "last_success", f"{time.time() if now is None else now:.3f}")
    pipe.hdel(keys.ARCHIVE_HEALTH, "failing_since", "failures")


def _archive_state(conn: redis.Redis) -> dict[str, Any]:
    raw = {k.decode(): v.decode() for k, v in conn.hgetall(keys.ARCHIVE_HEALTH).items()}
    since = float(raw.get("failing_since") or 0) or None
    return {"failing_since": since, "failures": int(raw.get("failures") or 0),
            "last_error": raw.get("last_error") if since else None,
            "last_failure": float(raw.get("last_failure") or 0) or None,
            "last_success": float(raw.get("last_success") or 0) or None}


def note_delivery(conn: redis.Redis, channel_id: str, error: BaseException | None,
                  now: float | None = None) -> int:
    """Record one delivery attempt on a channel; returns the consecutive failures before it (so a
    success that ends a failing run can send what waited)."""
    now = time.time() if now is None else now
    key = keys.channel_health(channel_id)
    if error is None:
        pipe = conn.pipeline()
        pipe.hget(key, "consecutive_failures")
        pipe.hset(key, mapping={"consecutive_failures": "0", "last_success": f"{now:.3f}"})
        pipe.hdel(key, "failing_since")
        before = pipe.execute()[0]
        return int(before or 0)
    text = mask_secrets(" ".join(f"{type(error).__name__}: {error}".split()))[:300]
    pipe = conn.pipeline()
    pipe.hincrby(key, "consecutive_failures", 1)
    pipe.hsetnx(key, "failing_since", f"{now:.3f}")
    pipe.hset(key, mapping={"last_failure": f"{now:.3f}", "last_error": text})
    return int(pipe.execute()[0]) - 1


LEVELS = ("healthy", "degraded", "unhealthy")


def _failing(row: dict[str, Any], now: float, admin: Any) -> bool:
    """A source whose latest poll failed and that has failed for too long, or never succeeded."""
    if row["status"] not in FAILED_STATUSES or not row["polls_total"]:
        return False
    if row["last_success"] is None:
        return True  # never succeeded since it was enabled
    since = row["failing_since"] or row["last_poll"] or now
    return now - since >= admin.failing_after_minutes * 60 or row["consecutive_failures"] >= admin.failures


def problems(config: Config, status: dict[str, Any], now: float) -> list[dict[str, str]]:
    """What an admin must hear about, each with a stable id (kind:subject) and a level."""
    admin = config.alerts.admin
    found: list[dict[str, str]] = []

    def add(kind: str, subject: str, level: str, message: str) -> None:
        found.append({"id": f"{kind}:{subject}", "kind": kind, "subject": subject, "level": level,
                      "message": message})

    if status.get("config_error"):
        add("config-invalid", "config", "degraded",
            f"the config on disk does not load (running roles keep theirs; a restart would fail): "
            f"{status['config_error']}")
    sources = {s.id: s for s in config.sources.sources}
    enabled_rows = [row for row in status["sources"] if sources[row["id"]].enabled]
    failing = [row for row in enabled_rows if _failing(row, now, admin)]
    if len(enabled_rows) >= 2 and len(failing) == len(enabled_rows):
        kinds = sorted({row["failure"] or "error" for row in failing})
        add("sources-all-failing", "sources", "unhealthy",
            f"every source failing ({len(failing)} of {len(enabled_rows)}: {', '.join(kinds)}): "
            f"is the network down?")
    elif len(enabled_rows) >= 3 and len(failing) * 2 > len(enabled_rows):
        kinds = sorted({row["failure"] or "error" for row in failing})
        add("sources-most-failing", "sources", "degraded",
            f"most sources failing ({len(failing)} of {len(enabled_rows)}: {', '.join(kinds)})")
    folded = any(p["kind"] in ("sources-all-failing", "sources-most-failing") for p in found)
    for row in [] if folded else failing:  # when most sources fail, one problem says so, not one per source
        since = ("never succeeded" if row["last_success"] is None
                 else f"failing for {int(now - (row['failing_since'] or row['last_poll'] or now))} s")
        add(
            "source-failing",
            row["id"],
            "degraded",
            f"{row['id']} {since}, {row['consecutive_failures']} failed poll(s) ({row['failure']}: "
            f"{row['error']})",
        )
    for row in enabled_rows:
        source = sources[row["id"]]
        longest = source.longest_interval
        if (row.get("websub") or {}).get("pushed"):  # polled at the fallback interval meanwhile
            longest = max(longest, config.pipeline.websub.fallback_interval)
        limit = (source.silent_after_intervals or admin.silent_after_intervals) * longest
        since = row["last_success"]
        # silent: no success for long while no poll failed either (polls stuck, skipped or never finishing);
        # a source whose polls fail is the failing rule's
        if since is not None and now - since > limit and row["status"] not in FAILED_STATUSES:
            add("source-silent", row["id"], "degraded",
                f"{row['id']} has not answered for {int(now - since)} s (more than {int(limit)} s)")
    starting = status.get("starting_seconds_left") or 0
    for name, queue in status["queues"].items():
        if queue["oldest_age_seconds"] is not None and queue["oldest_age_seconds"] > admin.backlog_seconds:
            add(
                "queue-backlog",
                name,
                "degraded",
                f"queue {name}: oldest job waiting {int(queue['oldest_age_seconds'])} s, "
                f"{queue['depth']} jobs",
            )
        if queue["failed"]:
            add("failed-jobs", name, "degraded",
                f"queue {name}: {queue['failed']} job(s) failed for good (`newsmon failed list`; "
                f"requeue or purge them)")
        if not starting and not any(name in w["queues"] for w in status["workers"]):
            add("no-worker", name, "unhealthy", f"no worker alive for queue {name}")
    archive = status.get("archive") or {}
    if archive.get("failing_since"):
        add("archive-failing", "archive", "unhealthy",
            f"archive writes failing for {int(now - archive['failing_since'])} s "
            f"({archive['failures']} failed write(s); stories wait in the process queue and are retried): "
            f"{archive['last_error']}")
    for channel, counts in status["deliveries"].items():
        failures = counts.get("consecutive_failures", 0)
        last = counts.get("last_failure") or 0
        if failures >= admin.delivery_failures and now - last <= admin.retrying_minutes * 60:
            add("delivery-failing", channel, "unhealthy",
                f"channel {channel}: the last {failures} delivery attempts failed (for "
                f"{int(now - (counts.get('failing_since') or now))} s; alerts wait and are retried): "
                f"{counts.get('last_error')}")
            continue
        if counts.get("retried_recent", 0) and not counts.get("sent_recent", 0):
            add("delivery-retrying", channel, "degraded",
                f"channel {channel}: {counts['retried_recent']} retries and no delivery in the last "
                f"{admin.retrying_minutes} min")
    enabled = any(s.enabled for s in config.sources.sources)
    scheduler = status["scheduler"]
    if enabled and not starting and scheduler_down(config, scheduler):
        add(
            "scheduler-down",
            "scheduler",
            "unhealthy",
            "no scheduler is ticking: sources are not being polled",
        )
    for role in status.get("roles", []):
        if role["exits_10m"] >= admin.restarts:
            add("role-restarting", role["name"], "unhealthy",
                f"{role['role']} on {role['host']} keeps restarting: {role['exits_10m']} exits in 10 min, "
                f"last exit code {role['last_exit_code']}")
    for refusal in status.get("config", {}).get("refused", []):
        add("config-refused", refusal["worker"], "degraded",
            f"{refusal.get('role', 'worker')} {refusal['worker']} cannot load published config version "
            f"{refusal['version']} and keeps {refusal.get('running')}: {refusal.get('error')}")
    return found


def level_of(found: list[dict[str, str]]) -> str:
    """The worst level among the problems (healthy when there are none)."""
    return max((p["level"] for p in found), key=LEVELS.index, default="healthy")


def collect(config: Config, conn: redis.Redis, now: float | None = None,
            config_error: str | None = None) -> dict[str, Any]:
    """Everything `newsmon status` shows, as plain data (stable keys for scripts)."""
    now = time.time() if now is None else now
    grace = conn.ttl(keys.STARTING)
    status: dict[str, Any] = {
        "at": now,
        "queues": _queues(conn, now),
        "workers": _workers(conn, now, config.pipeline.workers.heartbeat_ttl),
        "scheduler": scheduler_state(conn, now),
        "sources": _sources(config, conn, now),
        "deliveries": _deliveries(config, conn, now),
        "translation": _translation(config, conn, now),
        "roles": _roles(conn, now),
        "archive": _archive_state(conn),
        "config_error": config_error,
        "starting_seconds_left": grace if grace and grace > 0 else 0,
    }
    status["config"] = _config_state(conn, status["workers"], now)
    status["problems"] = problems(config, status, now)
    status["level"] = level_of(status["problems"])
    status["healthy"] = status["level"] == "healthy"
    return status


def mark_starting(conn: redis.Redis, config: Config, fresh: bool = False) -> None:
    """Open the start-up grace period, unless one is already open (every role calls this at start;
    `newsmon run`, a fresh start of the whole system, opens a new one with `fresh`)."""
    grace = config.alerts.admin.startup_grace_seconds
    if grace:
        conn.set(keys.STARTING, str(time.time()), nx=not fresh, ex=grace)


_published_cache: dict[tuple[str, str], Config] = {}


def load_for_status(config_dir: Any, conn: redis.Redis | None, validate: Any = None,
                    follow: bool = True) -> tuple[Config, str | None]:
    """The config to report with, and the error of the directory on disk if it does not load.

    With `follow` (a command given no --config-dir), the running system's published config when there
    is one: what runs, not what the files say now. Else, and when nothing is published, the directory's,
    then the published one, then an empty one. `validate` adds the checks `config check` makes beyond
    the schema (the matcher's), raising ConfigError.
    """

    error = None
    on_disk = None
    try:
        on_disk = load_config(config_dir)
        # the running system validated (compiled) the version it published: the same bytes need no
        # second compile here, which at 10,000 aliases is most of what `status` costs
        if validate is not None and (conn is None or published_version(conn) != on_disk.version):
            validate(on_disk)
    except ConfigError as exc:
        error, on_disk = str(exc), None
    if conn is not None and (follow or on_disk is None):

        version = published_version(conn)
        if version is not None:
            key = (str(config_dir), version)
            if key not in _published_cache:
                try:
                    _published_cache.clear()
                    _published_cache[key] = load_published(conn, config_dir, version)
                except ConfigError:
                    pass
            if key in _published_cache:
                return _published_cache[key], error
    if on_disk is not None:
        return on_disk, None
    return empty_config(config_dir), error


def empty_config(config_dir: Any) -> Config:
    """A config with no sources, topics or channels (to report on a system whose config cannot load)."""


    return Config(
        directory=Path(config_dir),
        sources=SourcesFile.model_construct(sources=[], outlets={}),
        keywords=KeywordsFile.model_construct(topics={}),
        alerts=AlertsFile(channels={}),
        version="none",
    )
