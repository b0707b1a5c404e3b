"""What RQ job functions need from the process that runs them: the config, Redis and the archive URL.

RQ calls job functions by dotted path with JSON arguments, so the worker entry point installs the
context once here and jobs read it; a job never reads the environment itself.

Hot reload: `newsmon keywords reload` validates the config directory and publishes the files' bytes
and their version in Redis (`CONFIG_FILES`, then `CONFIG_VERSION`); each job compares the small
version key with the running version and, when it differs, loads exactly the published bytes — never
the files on disk, which may have been edited since. A worker that cannot load the published version
keeps its running config, says so once, and records the refusal in `keys.CONFIG_REFUSED` for
`newsmon status`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import redis

from newsmon import keys
from newsmon.errors import ConfigError, NewsmonError
from newsmon.settings import Config, load_config, read_config_files

log = logging.getLogger(__name__)

CONFIG_VERSION = keys.CONFIG_VERSION
CONFIG_FILES = keys.CONFIG_FILES


@dataclass(frozen=True)
class JobContext:
    """The loaded config and connections of one worker process."""

    config: Config
    redis: redis.Redis
    archive_url: str
    validate: Callable[[Config], object] | None = None  # extra checks a reloaded config must pass


_current: JobContext | None = None
_refused: str | None = None


def install(context: JobContext) -> None:
    """Make `context` the one jobs in this process use."""
    global _current
    _current = context


def current() -> JobContext:
    """The installed context, reloaded first if a newer config version was published.

    Raises:
        NewsmonError: no context installed (jobs run outside `newsmon worker`).
    """
    if _current is None:
        raise NewsmonError("no job context: run jobs with `newsmon worker`")
    _reload_if_published(_current)
    assert _current is not None
    return _current


def publish(conn: redis.Redis, config: Config, files: dict[str, bytes] | None = None) -> None:
    """Announce a validated config version, with the bytes it was loaded from, to every worker.

    `files` are the bytes `config` was loaded from; without them the directory is read again and
    must still give the same version.
    """
    if files is None:
        files = read_config_files(config.directory)
        if load_config(config.directory, files=files).version != config.version:
            raise ConfigError(str(config.directory), "", "the files changed while being published; try again")
    encoded = {name: base64.b64encode(raw).decode() for name, raw in files.items()}
    pipe = conn.pipeline(transaction=True)
    pipe.set(CONFIG_FILES, json.dumps({"version": config.version, "files": encoded,
                                       "directory": str(Path(config.directory).resolve())}))
    pipe.set(CONFIG_VERSION, json.dumps({"version": config.version, "at": time.time()}))
    pipe.execute()


def published(conn: redis.Redis) -> tuple[str, dict[str, bytes]] | None:
    """The published version and its files, or None when nothing was published."""
    raw = conn.get(CONFIG_FILES)
    if not raw:
        return None
    data = json.loads(raw)
    return data["version"], {name: base64.b64decode(b) for name, b in data["files"].items()}


def published_directory(conn: redis.Redis) -> Path | None:
    """The config directory the running system was started (or last reloaded) with, when it exists here."""
    raw = conn.get(CONFIG_FILES)
    directory = json.loads(raw).get("directory") if raw else None
    return Path(directory) if directory and Path(directory).is_dir() else None


def published_version(conn: redis.Redis) -> str | None:
    raw = conn.get(CONFIG_VERSION)
    return json.loads(raw)["version"] if raw else None


def _who() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _reload_if_published(context: JobContext) -> None:
    global _refused
    wanted = published_version(context.redis)
    if wanted is None or wanted == context.config.version or wanted == _refused:
        return
    found = published(context.redis)
    try:
        if found is None or found[0] != wanted:
            raise ConfigError(CONFIG_FILES, "", f"the files of version {wanted} are not in Redis")
        config = load_config(context.config.directory, files=found[1])
        if config.version != wanted:
            raise ConfigError(
                CONFIG_FILES, "", f"published files give version {config.version}, not {wanted}"
            )
        if context.validate is not None:
            context.validate(config)
    except ConfigError as exc:
        _refused = wanted
        log.error("config version %s was published but cannot be loaded here; keeping version %s: %s",
                  wanted, context.config.version, exc)
        context.redis.hset(
            keys.CONFIG_REFUSED,
            _who(),
            json.dumps(
                {
                    "version": wanted,
                    "running": context.config.version,
                    "error": str(exc)[:500],
                    "at": time.time(),
                }
            ),
        )
        return
    install(replace(context, config=config))
    context.redis.hdel(keys.CONFIG_REFUSED, _who())
    log.info("config reloaded: version %s -> %s", context.config.version, config.version)
