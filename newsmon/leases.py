"""The poll lease between the scheduler and the crawlers, in Redis: the per-source poll lock (taken by
the scheduler when it requests a poll, released by the crawler when the poll ends), which crawler took
it, the crawlers' heartbeats, and a source's pause after failures. Both roles read and write it, so it
lives in the kernel.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from newsmon import keys, probe
from newsmon.redis_conn import acquire, release_if_owner


def poll_lock_ttl(interval: int) -> int:
    """How long a poll lock may live: long enough for a slow poll, short enough after a crash."""
    return max(120, 2 * interval)


def acquire_poll(conn: redis.Redis, source_id: str, token: str, interval: int) -> bool:
    """Take the source's poll lock; False while a previous poll is requested or running."""
    return acquire(conn, keys.poll_lock(source_id), token, poll_lock_ttl(interval))


def release_poll(conn: redis.Redis, source_id: str, token: str) -> bool:
    """Release the poll lock if this poll still holds it."""
    return release_if_owner(conn, keys.poll_lock(source_id), token)


def took_poll(conn: redis.Redis, source_id: str, token: str, crawler: str) -> None:
    """A crawler took the poll request: if the crawler dies, the scheduler can release the poll."""
    record = {"token": token, "crawler": crawler, "at": time.time()}
    conn.hset(keys.POLLS_RUNNING, source_id, json.dumps(record))


def finished_poll(conn: redis.Redis, source_id: str, token: str) -> None:
    """The poll ended (its lock is released by the caller)."""
    raw = conn.hget(keys.POLLS_RUNNING, source_id)
    if raw and json.loads(raw).get("token") == token:
        conn.hdel(keys.POLLS_RUNNING, source_id)


def release_orphaned(conn: redis.Redis, source_id: str) -> bool:
    """Release the source's poll lock if the crawler that took the poll has stopped beating (killed,
    or its machine gone), rather than waiting for the lock's TTL. True when released."""
    raw = conn.hget(keys.POLLS_RUNNING, source_id)
    if not raw:
        return False  # the request still waits for a crawler, or no poll runs
    record = json.loads(raw)
    if conn.exists(keys.crawler_alive(record.get("crawler", ""))):
        return False
    released = release_poll(conn, source_id, record.get("token", ""))
    conn.hdel(keys.POLLS_RUNNING, source_id)
    return released


def beat(conn: redis.Redis, identity: str, stop: Any) -> None:
    """A crawler's heartbeat (run in a thread until `stop` is set): the polls it took stay its own."""
    key = keys.crawler_alive(identity)
    while True:
        try:
            conn.set(key, str(time.time()), ex=keys.CRAWLER_TTL)
            probe.beat("crawler", identity=identity)
        except redis.RedisError:
            pass  # the spiders notice a lost Redis and stop the crawler
        if stop.wait(keys.CRAWLER_BEAT):
            break
    try:
        conn.delete(key)
    except redis.RedisError:
        pass


def backoff_remaining(conn: redis.Redis, source_id: str, now: float | None = None) -> float:
    """Seconds the source is still paused after failures (0 when it may be polled)."""
    until = float(conn.hget(keys.source_state(source_id), "backoff_until") or 0)
    return max(0.0, until - (time.time() if now is None else now))
