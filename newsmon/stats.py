"""Counters per minute in Redis, for rates (jobs/min in and out) and last-24-hour totals.

Each counter is a small key per minute, `newsmon:stats:<name>:<minute>`, kept 26 hours, so every
process on every machine adds to the same totals and a dead process leaves them correct.
"""

from __future__ import annotations

import time

import redis

from newsmon import keys

KEEP = 26 * 3600


def _minute(now: float | None) -> int:
    return int((time.time() if now is None else now) // 60)


def count(
    conn: redis.Redis | redis.client.Pipeline, name: str, amount: int = 1, now: float | None = None
) -> None:
    """Add to a counter in the current minute."""
    key = f"{keys.STATS_PREFIX}:{name}:{_minute(now)}"
    conn.incrby(key, amount)
    conn.expire(key, KEEP)


def total(conn: redis.Redis, name: str, minutes: int, now: float | None = None) -> int:
    """The counter's sum over the last `minutes` minutes (the current one included)."""
    last = _minute(now)
    values = conn.mget([f"{keys.STATS_PREFIX}:{name}:{m}" for m in range(last - minutes + 1, last + 1)])
    return sum(int(v) for v in values if v)


def totals(conn: redis.Redis, names: list[str], minutes: int, now: float | None = None) -> dict[str, int]:
    """Several counters' sums over the last `minutes` minutes, in one round trip."""
    last = _minute(now)
    window = range(last - minutes + 1, last + 1)
    counters = [f"{keys.STATS_PREFIX}:{name}:{m}" for name in names for m in window]
    values = conn.mget(counters) if counters else []
    out = {}
    for index, name in enumerate(names):
        chunk = values[index * len(window):(index + 1) * len(window)]
        out[name] = sum(int(v) for v in chunk if v)
    return out


def names(conn: redis.Redis, prefix: str) -> set[str]:
    """Counter names starting with `prefix` that have values in the last 26 hours."""
    found = set()
    for key in conn.scan_iter(f"{keys.STATS_PREFIX}:{prefix}*", count=1000):
        name = key.decode().removeprefix(f"{keys.STATS_PREFIX}:")
        found.add(name.rsplit(":", 1)[0])
    return found
