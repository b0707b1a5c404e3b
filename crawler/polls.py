"""Poll bookkeeping in Redis: the seen-set, entry failures and source health (the poll lock itself is the
kernel's `newsmon.leases`)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import redis

from newsmon import keys, profile, stats
from newsmon.crawler import health
from newsmon.settings import Source
from newsmon.urls import mask_secrets

MAX_ENTRY_FAILURES = 3

















def entry_id(key: str) -> str:
    """A short stable id of a feed entry's GUID or link."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def first_poll(conn: redis.Redis, source_id: str) -> bool:
    """Whether nothing was taken from the source yet (or in the seen-set's 30 days)."""
    return not conn.exists(keys.seen_entries(source_id))


def unseen(conn: redis.Redis, source_id: str, entry_keys: list[str]) -> list[str]:
    """The entry keys not taken before, in the order given."""
    if not entry_keys:
        return []
    scores = conn.zmscore(keys.seen_entries(source_id), [entry_id(k) for k in entry_keys])
    return [k for k, score in zip(entry_keys, scores) if score is None]


def mark_seen(conn: redis.Redis, source_id: str, *entry_keys: str) -> None:
    """Remember entries as taken (one round trip); entries older than SEEN_TTL are forgotten."""
    if not entry_keys:
        return
    now = time.time()
    seen = keys.seen_entries(source_id)
    ids = [entry_id(k) for k in entry_keys]
    pipe = conn.pipeline()
    pipe.zadd(seen, dict.fromkeys(ids, now))
    pipe.zremrangebyscore(seen, 0, now - keys.SEEN_TTL)
    pipe.expire(seen, keys.SEEN_TTL)
    pipe.hdel(keys.entry_failures(source_id), *ids)
    pipe.execute()


def record_entry_failure(conn: redis.Redis, source_id: str, entry_key: str) -> bool:
    """Count a failed fetch of an entry; True when it failed too often and is given up (marked seen)."""
    failures = conn.hincrby(keys.entry_failures(source_id), entry_id(entry_key), 1)
    conn.expire(keys.entry_failures(source_id), keys.SEEN_TTL)
    if failures >= MAX_ENTRY_FAILURES:
        mark_seen(conn, source_id, entry_key)
        return True
    return False


def has_failed_entries(conn: redis.Redis, source_id: str) -> bool:
    """Whether some entries wait for a retry, so the next poll must read the whole feed."""
    return conn.hlen(keys.entry_failures(source_id)) > 0


def source_state(conn: redis.Redis, source_id: str) -> dict[str, str]:
    """The source's health and validators as strings."""
    raw = conn.hgetall(keys.source_state(source_id))
    return {k.decode(): v.decode() for k, v in raw.items()}


def record_poll(conn: redis.Redis, source: Source, poll: Any, seconds: float, backoff_cap: int) -> None:
    """Write the outcome of a poll: the source's health, its backoff, and a line of poll history.

    A failed poll (`error`, `empty`, `stale`) counts towards consecutive failures; `error` and
    `empty` also pause the source for a doubling, capped time (at least the server's Retry-After).
    """
    now = time.time()
    key = keys.source_state(source.id)
    failure = poll.failure
    mapping: dict[str, str] = {
        "last_poll": f"{now:.3f}",
        "status": poll.status,
        "last_poll_seconds": f"{seconds:.3f}",
        "last_http_status": str(poll.http_status or ""),
        "last_bytes": str(poll.bytes),
        "last_items": str(poll.items),
        "last_new": str(poll.new),
    }
    if poll.newest is not None:
        mapping["newest_item"] = poll.newest.isoformat()
    if poll.status in ("ok", "empty", "stale"):
        mapping.update({k: v for k, v in poll.validators.items()})
    if poll.entry_errors:
        mapping["last_entry_error"] = mask_secrets(poll.entry_errors[-1])[:500]
    skipped = list(getattr(poll, "skipped", []))
    mapping["last_skipped"] = str(len(skipped))
    if skipped:
        mapping["last_skipped_reason"] = mask_secrets(skipped[0])[:500]
    raw_failures, previous = conn.hmget(key, ["consecutive_failures", "last_poll"])
    failures = int(raw_failures or 0)
    observed = failure is None or poll.status == "unchanged"
    if failure is None or poll.status == "unchanged":
        mapping.update({"last_success": f"{now:.3f}", "consecutive_failures": "0", "backoff_until": "0",
                        "failure_kind": "", "failing_since": "0"})
        if poll.new:
            mapping["last_new_story"] = f"{now:.3f}"
    else:
        if failures == 0:
            mapping["failing_since"] = f"{now:.3f}"
        failures += 1
        mapping.update({"last_error": mask_secrets(failure.message)[:500], "last_error_at": f"{now:.3f}",
                        "failure_kind": failure.kind, "consecutive_failures": str(failures)})
        if poll.status == "stale":
            mapping["last_success"] = f"{now:.3f}"  # the source answers; its content is old
            mapping["backoff_until"] = "0"
        else:
            wait = health.backoff_seconds(source.interval, failures, backoff_cap, failure.retry_after)
            mapping["backoff_until"] = f"{now + wait:.3f}"
    history = json.dumps(
        {
            "at": round(now, 3),
            "status": poll.status,
            "failure": failure.kind if failure else None,
            "error": mask_secrets(failure.message)[:200] if failure else None,
            "http": poll.http_status,
            "bytes": poll.bytes,
            "items": poll.items,
            "new": poll.new,
            "seconds": round(seconds, 3),
            "skipped": len(skipped),
            "skipped_reasons": [mask_secrets(r)[:200] for r in skipped[:5]],
        }
    )
    pipe = conn.pipeline()
    if observed and previous:  # the posting profile learns from polls that saw the source (not the first)
        profile.observe(pipe, source.id, poll.new, now, (now - float(previous)) / 3600)
    pipe.hset(key, mapping=mapping)
    pipe.hincrby(key, "polls_total", 1)
    pipe.hincrby(key, f"polls_{poll.status}", 1)  # monotonic counters by outcome, for /metrics
    pipe.lpush(keys.poll_history(source.id), history)
    pipe.ltrim(keys.poll_history(source.id), 0, keys.POLL_HISTORY - 1)
    stats.count(pipe, f"polls:{poll.status}")
    pipe.execute()

