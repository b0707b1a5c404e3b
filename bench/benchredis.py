"""The Redis a benchmark uses: NEWSMON_TEST_REDIS_URL (flushed!) if set, else a private embedded one."""

from __future__ import annotations

import os
from pathlib import Path

import redis

from newsmon.redis_conn import EmbeddedRedis


def bench_redis(work: Path) -> tuple[redis.Redis, str, EmbeddedRedis | None]:
    """(a flushed connection, its URL for role processes, the embedded server to stop or None)."""
    url = os.environ.get("NEWSMON_TEST_REDIS_URL")
    server = None
    if not url:
        server = EmbeddedRedis(work, persist=False).start()
        url = server.url
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    return conn, url, server
