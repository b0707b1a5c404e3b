"""What RQ job functions need from the process that runs them: the config, Redis and the archive URL.

RQ calls job functions by dotted path with JSON arguments, so the worker entry point installs the
context once here and jobs read it; a job never reads the environment itself.

Hot reload: `newsmon keywords reload` validates the config directory and publishes the files' bytes
and their version in Redis (`keys.CONFIG_FILES`, then `keys.CONFIG_VERSION`); each job takes the published
version through `newsmon.liveconfig.LiveConfig`, as every other role does (the published bytes, never
the files on disk; a version that cannot be loaded here is refused and recorded for `status`).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import redis

from newsmon import keys
from newsmon.errors import ConfigError, NewsmonError
from newsmon.liveconfig import LiveConfig
from newsmon.settings import Config, load_config, read_config_files

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class JobContext:
    """The loaded config and connections of one worker process."""

    config: Config
    redis: redis.Redis
    archive_url: str
    validate: Callable[[Config], object] | None = None  # extra checks a reloaded config must pass


_current: JobContext | None = None
_live: LiveConfig | None = None  # follows the published version for the installed context


def install(context: JobContext, live: LiveConfig | None = None) -> None:
    """Make `context` the one jobs in this process use (following `live`, the process's LiveConfig, when
    given: the worker's jobs and its health thread then take a new version together)."""
    global _current, _live
    _current = context
    if live is not None:
        _live = live


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
    pipe.set(keys.CONFIG_FILES, json.dumps({"version": config.version, "files": encoded,
                                       "directory": str(Path(config.directory).resolve())}))
    pipe.set(keys.CONFIG_VERSION, json.dumps({"version": config.version, "at": time.time()}))
    pipe.execute()


def published_directory(conn: redis.Redis) -> Path | None:
    """The config directory the running system was started (or last reloaded) with, when it exists here."""
    raw = conn.get(keys.CONFIG_FILES)
    directory = json.loads(raw).get("directory") if raw else None
    return Path(directory) if directory and Path(directory).is_dir() else None


def _reload_if_published(context: JobContext) -> None:
    global _live
    if _live is None or _live.conn is not context.redis:
        _live = LiveConfig(context.config, context.redis, "worker", context.validate, every=0)
    config = _live.get()
    if config is not context.config:
        install(replace(context, config=config))
