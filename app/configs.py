"""Which config a command reads (given, or the running system's), and what `config check` checks beyond
the schema: shared by the commands, so none of them imports another."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path

import redis

from newsmon.errors import ConfigError, NothingRunning
from newsmon.jobcontext import published_directory
from newsmon.liveconfig import load_published, published_version
from newsmon.paths import remembered_config_dir
from newsmon.redis_conn import RedisUnreachable, connect
from newsmon.settings import Config, Runtime, default_config_dir, load_config

log = logging.getLogger("newsmon")


def load(args: argparse.Namespace) -> Config:
    return load_config(args.config_dir or default_config_dir())


def load_running(args: argparse.Namespace, runtime: Runtime) -> Config:
    """The config a command reads: --config-dir (or $NEWSMON_CONFIG_DIR) when given; else the running
    system's published version (what runs, whichever directory it came from); else ./config."""
    if explicit_config(args):
        return load(args)

    try:
        conn = connect(runtime.redis_url, runtime.data_dir)
        version = published_version(conn)
        if version is not None:
            return load_published(conn, published_directory(conn) or default_config_dir(), version)
    except (NothingRunning, RedisUnreachable, redis.RedisError):

        remembered = remembered_config_dir(runtime.data_dir)  # the system that ran here, now stopped
        if remembered is not None:
            return load_config(remembered)
    except ConfigError as exc:
        log.warning("the running system's config cannot be loaded here (%s); using %s", exc,
                    default_config_dir())
    return load(args)


def config_validator() -> Callable[[Config], None]:
    """What `config check` checks beyond the schema (the keywords compile into a matcher), for status and
    health; remembered per config version, so a large keywords file is compiled once per change, and
    the matcher compiled is the process's own (`matcher_for`): a worker checking a new version compiles
    the matcher its jobs then use."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.matcher import matcher_for

    checked: dict[str, ConfigError | None] = {}

    def validate(config: Config) -> None:
        if config.version not in checked:
            try:
                matcher_for(config)
                checked[config.version] = None
            except ConfigError as exc:
                checked[config.version] = exc
        found = checked[config.version]
        if found is not None:
            raise found

    return validate


def reporting_config_dir(args: argparse.Namespace, runtime: Runtime) -> Path:
    """The config that `status` and `web` report with: --config-dir or $NEWSMON_CONFIG_DIR when given,
    else the directory the running system was started with (published in Redis), else the default."""
    if explicit_config(args):
        return args.config_dir or default_config_dir()

    try:
        return published_directory(connect(runtime.redis_url, runtime.data_dir)) or default_config_dir()
    except (NothingRunning, RedisUnreachable, redis.RedisError):
        return default_config_dir()


def explicit_config(args: argparse.Namespace) -> bool:
    """Whether the command was told which config to use (--config-dir or $NEWSMON_CONFIG_DIR)."""

    return bool(args.config_dir or os.environ.get("NEWSMON_CONFIG_DIR"))
