"""The one live config of a running system: the version `newsmon run` (or `keywords reload`) published in
Redis, which every long-running role follows.

A role starts with the config it loaded and, whenever it asks `LiveConfig.get()`, compares the small
published version key with its own (at most once per `every` seconds); when they differ it loads exactly
the published bytes (never the files on disk, which may have been edited since), says so once in its
log, and from then on runs that version. A version it cannot load (a `${VAR}` missing on this machine,
a keyword that does not compile here) is refused: the role keeps its config, logs why once, and records
the refusal in `keys.CONFIG_REFUSED` for `newsmon status` (`config-refused`) until it loads a version.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from newsmon import keys
from newsmon.errors import ConfigError
from newsmon.settings import Config, load_config

log = logging.getLogger(__name__)

REFUSAL_REFRESH = 60  # seconds between new tries of a refused version (each failure is recorded afresh)


def who() -> str:
    """This process, as refusals and status name it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def published_version(conn: redis.Redis) -> str | None:
    raw = conn.get(keys.CONFIG_VERSION)
    return json.loads(raw)["version"] if raw else None


def load_published(conn: redis.Redis, directory: str | Path, wanted: str,
                   validate: Callable[[Config], object] | None = None) -> Config:
    """The published config of version `wanted`, loaded from its bytes in Redis.

    Raises:
        ConfigError: the bytes are missing, give another version, or do not load or validate here.
    """

    raw = conn.get(keys.CONFIG_FILES)
    data = json.loads(raw) if raw else None
    if data is None or data.get("version") != wanted:
        raise ConfigError(keys.CONFIG_FILES, "", f"the files of version {wanted} are not in Redis")
    files = {name: base64.b64decode(b) for name, b in data["files"].items()}
    config = load_config(directory, files=files)
    if config.version != wanted:
        raise ConfigError(keys.CONFIG_FILES, "",
                          f"published files give version {config.version}, not {wanted}")
    if validate is not None:
        validate(config)
    return config


def record_refusal(conn: redis.Redis, role: str, wanted: str, running: str, error: str) -> None:
    conn.hset(keys.CONFIG_REFUSED, who(), json.dumps(
        {"version": wanted, "running": running, "error": error[:500], "at": time.time(), "role": role}))


class LiveConfig:
    """The config a long-running role runs, following the published version (see the module's doc)."""

    def __init__(self, config: Config, conn: redis.Redis, role: str,
                 validate: Callable[[Config], object] | None = None, every: float = 1.0) -> None:
        self.config = config
        self.conn = conn
        self.role = role
        self.validate = validate
        self.every = every
        self._checked = 0.0
        self._refused: str | None = None
        self._refused_at = 0.0
        self.retry_after = REFUSAL_REFRESH
        self._lock = threading.Lock()  # a worker's jobs and its health thread share one

    @property
    def version(self) -> str:
        return self.config.version

    def get(self) -> Config:
        """The running config, after taking a newly published version if there is one."""
        now = time.monotonic()
        if now - self._checked >= self.every:
            self._checked = now
            try:
                self.refresh()
            except redis.RedisError as exc:
                log.debug("%s: published config version not read: %s", self.role, exc)
        return self.config

    def refresh(self) -> bool:
        """Take the published version now if it differs; True when the config changed."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> bool:
        wanted = published_version(self.conn)
        if wanted is None or wanted == self.config.version:
            return False
        again = wanted == self._refused
        if again and time.monotonic() - self._refused_at < self.retry_after:
            return False  # refused a moment ago; tried again every retry_after seconds (a variable set since)
        try:
            config = load_published(self.conn, self.config.directory, wanted, self.validate)
        except ConfigError as exc:
            self._refused, self._refused_at = wanted, time.monotonic()
            if not again:  # said once in the log; the record in Redis is renewed at each try
                log.error("%s: config version %s was published but cannot be loaded here; keeping "
                          "version %s: %s", self.role, wanted, self.config.version, exc)
            record_refusal(self.conn, self.role, wanted, self.config.version, str(exc))
            return False
        log.info("%s: config reloaded: version %s -> %s", self.role, self.config.version, config.version)
        self.config = config
        self._refused = None
        self.conn.hdel(keys.CONFIG_REFUSED, who())
        return True
