"""What RQ job functions need from the process that runs them: the config, Redis and the archive URL.

RQ calls job functions by dotted path with JSON arguments, so the worker entry point installs the
context once here and jobs read it; a job never reads the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from newsmon.errors import NewsmonError
from newsmon.settings import Config


@dataclass(frozen=True)
class JobContext:
    """The loaded config and connections of one worker process."""

    config: Config
    redis: redis.Redis
    archive_url: str


_current: JobContext | None = None


def install(context: JobContext) -> None:
    """Make `context` the one jobs in this process use."""
    global _current
    _current = context


def current() -> JobContext:
    """The installed context; jobs fail loudly when run outside `newsmon worker`."""
    if _current is None:
        raise NewsmonError("no job context: run jobs with `newsmon worker`")
    return _current
