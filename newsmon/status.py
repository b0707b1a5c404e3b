"""The state of a running newsmon, read from Redis: queues, workers, scheduler, sources, deliveries,
and the problems an admin must hear about. Used by `newsmon status`, the web page and health alerts."""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from newsmon import keys, stats
from newsmon.settings import Config

SCHEDULER_HEARTBEAT = "newsmon:scheduler:heartbeat"  # JSON written by the leading scheduler; expires
QUEUES = (keys.PROCESS_QUEUE, keys.ALERTS_QUEUE)
RATE_MINUTES = 5


def _queues(conn: redis.Redis, now: float) -> dict[str, dict[str, Any]]:
    out = {}
    for name in QUEUES:
        queue = Queue(name, connection=conn, serializer=JSONSerializer)
        oldest_age = None
        first = queue.get_job_ids(0, 1)
        if first:
            job = Job.fetch(first[0], connection=conn, serializer=JSONSerializer)
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
    """Workers that sent a heartbeat within `ttl` seconds (RQ keeps a dead one registered a while)."""
    out = []
    for worker in Worker.all(connection=conn):
        beat = worker.last_heartbeat.timestamp() if worker.last_heartbeat else None
        if beat is None or now - beat > ttl:
            continue
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


def _scheduler(conn: redis.Redis, now: float) -> dict[str, Any]:
    raw = conn.get(SCHEDULER_HEARTBEAT)
    if not raw:
        return {"alive": False, "leader": None, "heartbeat_age_seconds": None, "next_polls": {}}
    beat = json.loads(raw)
    return {"alive": True, "leader": beat.get("leader"), "heartbeat_age_seconds": round(now - beat["at"], 1),
            "next_polls": beat.get("next_polls", {})}


def _sources(config: Config, conn: redis.Redis, now: float) -> list[dict[str, Any]]:
    pipe = conn.pipeline()
    for source in config.sources.sources:
        pipe.hgetall(keys.source_state(source.id))
    rows = []
    for source, raw in zip(config.sources.sources, pipe.execute()):
        state = {k.decode(): v.decode() for k, v in raw.items()}

        def when(field: str, state: dict[str, str] = state) -> float | None:
            value = float(state.get(field) or 0)
            return value or None

        rows.append({
            "id": source.id, "outlet": source.outlet, "language": source.language, "kind": source.kind,
            "enabled": source.enabled, "interval": source.interval, "status": state.get("status"),
            "failure": state.get("failure_kind") or None, "error": state.get("last_error"),
            "last_poll": when("last_poll"), "last_success": when("last_success"),
            "last_new_story": when("last_new_story"),
            "consecutive_failures": int(state.get("consecutive_failures") or 0),
            "backoff_remaining_seconds": round(max(0.0, (when("backoff_until") or 0) - now), 1),
            "polls_total": int(state.get("polls_total") or 0),
        })
    return rows


def _deliveries(config: Config, conn: redis.Redis, now: float) -> dict[str, dict[str, int]]:
    channels = list(config.alerts.channels)
    names = [f"alerts:{c}:{what}" for c in channels for what in ("sent", "retried")]
    counts = stats.totals(conn, names, 24 * 60, now)
    failed: dict[str, int] = dict.fromkeys(channels, 0)
    registry = FailedJobRegistry(queue=Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer))
    for job_id in registry.get_job_ids():
        try:
            job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
            channel = (job.args[0] or {}).get("channel_id") if job.args and isinstance(job.args[0], dict) else None
        except Exception:  # noqa: BLE001 - a job that cannot be read still counts as failed somewhere
            channel = None
        if channel in failed:
            failed[channel] += 1
    return {c: {"sent_24h": counts[f"alerts:{c}:sent"], "retried_24h": counts[f"alerts:{c}:retried"],
                "failed": failed[c]} for c in channels}


def problems(config: Config, status: dict[str, Any], now: float) -> list[dict[str, str]]:
    """What an admin must hear about, each with a stable id (kind:subject)."""
    admin = config.alerts.admin
    found: list[dict[str, str]] = []

    def add(kind: str, subject: str, message: str) -> None:
        found.append({"id": f"{kind}:{subject}", "kind": kind, "subject": subject, "message": message})

    sources = {s.id: s for s in config.sources.sources}
    for row in status["sources"]:
        source = sources[row["id"]]
        if not source.enabled or not row["polls_total"]:
            continue
        if row["consecutive_failures"] >= admin.failures and row["failure"] != "stale":
            add("source-failing", row["id"], f"{row['id']} failed {row['consecutive_failures']} polls in a row "
                                             f"({row['failure']}: {row['error']})")
        limit = (source.silent_after_intervals or admin.silent_after_intervals) * source.interval
        since = row["last_success"] or None
        if since is not None and now - since > limit:
            add("source-silent", row["id"], f"{row['id']} has not answered for {int(now - since)} s "
                                            f"(more than {int(limit)} s)")
    for name, queue in status["queues"].items():
        if queue["oldest_age_seconds"] is not None and queue["oldest_age_seconds"] > admin.backlog_seconds:
            add("queue-backlog", name, f"queue {name}: oldest job waiting {int(queue['oldest_age_seconds'])} s, "
                                       f"{queue['depth']} jobs")
        if not any(name in w["queues"] for w in status["workers"]):
            add("no-worker", name, f"no worker alive for queue {name}")
    enabled = any(s.enabled for s in config.sources.sources)
    scheduler = status["scheduler"]
    if enabled and (not scheduler["alive"] or scheduler["heartbeat_age_seconds"] > admin.scheduler_stale_seconds):
        add("scheduler-down", "scheduler", "no scheduler is ticking: sources are not being polled")
    return found


def collect(config: Config, conn: redis.Redis, now: float | None = None) -> dict[str, Any]:
    """Everything `newsmon status` shows, as plain data (stable keys for scripts)."""
    now = time.time() if now is None else now
    status: dict[str, Any] = {
        "at": now,
        "queues": _queues(conn, now),
        "workers": _workers(conn, now, config.pipeline.workers.heartbeat_ttl),
        "scheduler": _scheduler(conn, now),
        "sources": _sources(config, conn, now),
        "deliveries": _deliveries(config, conn, now),
    }
    status["problems"] = problems(config, status, now)
    status["healthy"] = not status["problems"]
    return status
