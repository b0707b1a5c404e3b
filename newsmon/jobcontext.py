"""What RQ job functions need from the process that runs them: the config, Redis and the archive URL.

RQ calls job functions by dotted path with JSON arguments, so the worker entry point installs the
context once here and jobs read it; a job never reads the environment itself.

Hot reload: `newsmon keywords reload` validates the config directory and publishes its version in
Redis (`CONFIG_VERSION`); each job compares it with the running version and, when it differs,
reloads the files — keeping the running config if they do not validate.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import redis

from newsmon.errors import ConfigError, NewsmonError
from newsmon.settings import Config, load_config

log = logging.getLogger(__name__)

CONFIG_VERSION = "newsmon:config:version"  # JSON {version, at}; kept for good (the deployed config)


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


def publish(conn: redis.Redis, config: Config) -> None:
    """Announce a validated config version to every worker."""
    conn.set(CONFIG_VERSION, json.dumps({"version": config.version, "at": time.time()}))


def _reload_if_published(context: JobContext) -> None:
    global _refused
    raw = context.redis.get(CONFIG_VERSION)
    if not raw:
        return
    wanted = json.loads(raw)["version"]
    if wanted == context.config.version or wanted == _refused:
        return
    try:
        config = load_config(context.config.directory)
        if context.validate is not None:
            context.validate(config)
    except ConfigError as exc:
        _refused = wanted
        log.error("config version %s published but the files do not validate; keeping version %s: %s",
                  wanted, context.config.version, exc)
        return
    install(replace(context, config=config))
    log.info("config reloaded: version %s -> %s", context.config.version, config.version)
