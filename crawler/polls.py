"""Poll bookkeeping in Redis: the per-source poll lock, the seen-set, entry failures and source health."""

from __future__ import annotations

import hashlib
import time

import redis

from newsmon import keys

MAX_ENTRY_FAILURES = 3

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def poll_lock_ttl(interval: int) -> int:
    """How long a poll lock may live: long enough for a slow poll, short enough after a crash."""
    return max(120, 2 * interval)


def acquire_poll(conn: redis.Redis, source_id: str, token: str, interval: int) -> bool:
    """Take the source's poll lock; False while a previous poll is requested or running."""
    return bool(conn.set(keys.poll_lock(source_id), token, nx=True, ex=poll_lock_ttl(interval)))


def release_if_owner(conn: redis.Redis, key: str, token: str) -> bool:
    """Delete a lock key only if it still holds `token` (an expired lock may belong to someone else now)."""
    return bool(conn.eval(_RELEASE, 1, key, token))


def release_poll(conn: redis.Redis, source_id: str, token: str) -> bool:
    """Release the poll lock if this poll still holds it."""
    return release_if_owner(conn, keys.poll_lock(source_id), token)


def entry_id(key: str) -> str:
    """A short stable id of a feed entry's GUID or link."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def unseen(conn: redis.Redis, source_id: str, entry_keys: list[str]) -> list[str]:
    """The entry keys not taken before, in the order given."""
    if not entry_keys:
        return []
    scores = conn.zmscore(keys.seen_entries(source_id), [entry_id(k) for k in entry_keys])
    return [k for k, score in zip(entry_keys, scores) if score is None]


def mark_seen(conn: redis.Redis, source_id: str, entry_key: str) -> None:
    """Remember an entry as taken; entries older than SEEN_TTL are forgotten."""
    now = time.time()
    seen = keys.seen_entries(source_id)
    pipe = conn.pipeline()
    pipe.zadd(seen, {entry_id(entry_key): now})
    pipe.zremrangebyscore(seen, 0, now - keys.SEEN_TTL)
    pipe.expire(seen, keys.SEEN_TTL)
    pipe.hdel(keys.entry_failures(source_id), entry_id(entry_key))
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


def record_poll(conn: redis.Redis, source_id: str, status: str, *, error: str | None = None,
                new: int = 0, **fields: str) -> None:
    """Write the outcome of a poll: `ok`, `unchanged`, `empty` or `error` with its reason."""
    now = f"{time.time():.3f}"
    key = keys.source_state(source_id)
    mapping = {"last_poll": now, "status": status, **fields}
    pipe = conn.pipeline()
    if status == "error":
        mapping.update({"last_error": error or "unknown error", "last_error_at": now})
        pipe.hincrby(key, "consecutive_failures", 1)
    else:
        mapping["last_success"] = now
        mapping["consecutive_failures"] = "0"
        if new:
            mapping["last_new_story"] = now
    pipe.hset(key, mapping=mapping)
    pipe.hincrby(key, "polls_total", 1)
    pipe.execute()
