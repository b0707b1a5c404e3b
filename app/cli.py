"""The `newsmon` command line: config check, the roles (scheduler, crawler, worker), run and demo."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import redis

from newsmon import jobcontext
from newsmon.app.configs import config_validator, explicit_config, load, load_running, reporting_config_dir
from newsmon.errors import ConfigError, MissingExtra, NewsmonError, NothingRunning, UsageError
from newsmon.liveconfig import LiveConfig
from newsmon.logs import configure
from newsmon.models import as_utc
from newsmon.paths import display_path, remember_config_dir
from newsmon.redis_conn import EmbeddedRedis, RedisUnreachable, connect, describe
from newsmon.settings import Config, Runtime, default_config_dir, load_config

log = logging.getLogger("newsmon")

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(prog="newsmon", description="News monitoring crawler with alerts.")
    parser.add_argument("--config-dir", type=Path, default=None,
                        help="directory with sources.yaml, keywords.yaml, alerts.yaml "
                             "(default: $NEWSMON_CONFIG_DIR, ./config, or the shipped config)")
    parser.add_argument("--log-level", default=None,
                        help="DEBUG, INFO, WARNING or ERROR (default INFO; WARNING for the demo)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="work with the config files")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="validate the config; exit 0 if valid, 2 if not")
    check.add_argument("--config-dir", type=Path, default=None, dest="check_dir",
                       help="directory to check (default: the global --config-dir)")

    # imported here: each command's module loads only when that command runs
    from newsmon.app import (
        cli_alerts,
        cli_archive,
        cli_breaking,
        cli_dedupe,
        cli_events,
        cli_history,
        cli_keywords,
        cli_schedule,
        cli_sources,
        cli_status,
    )

    cli_keywords.add_parser(commands)
    cli_dedupe.add_parser(commands)
    cli_events.add_parser(commands)
    cli_schedule.add_parser(commands)
    cli_breaking.add_parser(commands)
    cli_sources.add_parser(commands)
    cli_alerts.add_parser(commands)
    cli_status.add_parser(commands)
    cli_archive.add_parser(commands)
    cli_history.add_parser(commands)
    web = commands.add_parser("web", help="status page, /metrics and /healthz over HTTP")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; "
                                                         "elsewhere NEWSMON_WEB_TOKEN is required)")
    web.add_argument("--port", type=int, default=8470, help="port (default 8470)")

    commands.add_parser("scheduler", help="run the scheduler: request polls of each source on its interval")
    commands.add_parser("crawler", help="run the crawler: fetch feeds and articles on poll requests")
    worker = commands.add_parser("worker", help="run an RQ worker on the process and alerts queues")
    worker.add_argument(
        "--queues", nargs="+", default=None, help="queues to work on (default: process alerts)"
    )
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")

    commands.add_parser(
        "healthcheck",
        help="exit 0 when the role beside this command is alive (its heartbeat in NEWSMON_HEALTH_FILE is "
        "recent, or the web's /healthz answers 200), 1 when not: a container's HEALTHCHECK",
    )
    run = commands.add_parser("run", help="run scheduler, crawler and workers on this machine")
    run.add_argument("--workers", type=int, default=2, help="number of worker processes (default 2)")

    demo = commands.add_parser("demo", help="run the pipeline on a bundled replay site, print alerts, exit")
    demo.add_argument("--json", action="store_true", help="print each alert as one JSON object per line")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep the replay site and every role running, publishing a new story every 4 s (generated "
             "in four languages; about two in three alert), "
        "until Ctrl-C",
    )
    return parser


def _configure_logging(level: str) -> None:

    configure(level)






def main(argv: list[str] | None = None) -> int:
    """Entry point of the `newsmon` console script."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `newsmon ... | head` ends quietly
    if args.log_level is None:
        args.log_level = "WARNING" if args.command == "demo" else "INFO"
    _configure_logging(args.log_level)
    signal.signal(signal.SIGTERM, _terminate)  # atexit and finally blocks run on SIGTERM too
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as exc:
        print(f"newsmon {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (NothingRunning, RedisUnreachable, MissingExtra) as exc:
        print(f"newsmon {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except redis.RedisError as exc:
        print(f"newsmon {args.command}: Redis failed: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except NewsmonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130






def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _config_check(args: argparse.Namespace, _runtime: Runtime) -> int:
    directory = args.check_dir or args.config_dir or default_config_dir()
    config = load_config(directory)
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.matcher import Matcher

    Matcher(config.keywords, source=str(config.directory / "keywords.yaml"))
    enabled = len(config.enabled_sources())
    desks = config.alerts.all_desks()
    digest = sum(d.mode == "digest" for d in desks.values())
    breaking = sum(d.breaking is not None for d in desks.values())
    print(f"{directory}: valid (version {config.version}; {len(config.sources.sources)} sources, "
          f"{enabled} enabled; {len(config.keywords.topics)} topics; {len(desks)} desks "
          f"({len(config.alerts.routes)} of them routes, {digest} digest, {breaking} with breaking alerts); "
          f"{len(config.alerts.channels)} channels)")
    if config.pipeline.translate.backend != "none":
        # imported here: the translation engines load only for configs that name one
        from newsmon.alerts.translate import TranslationError, check

        try:
            print(f"translate: {check(config.pipeline.translate)}")
        except TranslationError as exc:
            print(f"translate: {config.pipeline.translate.backend} does not work: {exc}", file=sys.stderr)
            return 1
    return 0


def _keywords(args: argparse.Namespace, _runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_keywords

    return cli_keywords.run(args, args.config_dir or default_config_dir(), explicit=explicit_config(args))


def _dedupe(args: argparse.Namespace, _runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_dedupe

    return cli_dedupe.run(args, args.config_dir)


def _schedule(args: argparse.Namespace, _runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_schedule

    return cli_schedule.run(args, args.config_dir)


def _events(args: argparse.Namespace, _runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_events

    return cli_events.run(args, args.config_dir)


def _breaking(args: argparse.Namespace, _runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_breaking

    return cli_breaking.run(args, args.config_dir)


def _demo(args: argparse.Namespace, runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app.demo import run_demo

    return run_demo(args.config_dir or default_config_dir(), args.json, log_level=args.log_level,
                    serve=args.serve, runtime=runtime)


def _status(args: argparse.Namespace, runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_status

    return cli_status.run(args, reporting_config_dir(args, runtime), runtime)




def _web_command(args: argparse.Namespace, runtime: Runtime) -> int:
    return _web(args, reporting_config_dir(args, runtime), runtime)


def _archive(args: argparse.Namespace, runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_archive

    return cli_archive.run(args, load_running(args, runtime), runtime)


def _history(args: argparse.Namespace, runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import backfill, cli_history

    if args.command == "backfill":
        return backfill.backfill(args, load_running(args, runtime), runtime, sys.stdout)
    return cli_history.run(args, load_running(args, runtime), runtime)


def _alerts(args: argparse.Namespace, runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_alerts

    return cli_alerts.run(args, load_running(args, runtime), runtime)


def _sources(args: argparse.Namespace, runtime: Runtime) -> int:
    # imported here: each command's module loads only when that command runs
    from newsmon.app import cli_sources

    return cli_sources.run(args, load_running(args, runtime), runtime)


def _run_command(args: argparse.Namespace, runtime: Runtime) -> int:
    return _run(args, load(args), runtime)


def _role(args: argparse.Namespace, runtime: Runtime) -> int:
    """One role in this process: the scheduler, a crawler or a worker."""
    config = load(args)
    archive_url = runtime.archive_url() if args.command == "worker" else ""  # a missing driver is said first
    # imported here: only the long-running roles write a heartbeat for a container's health check
    from newsmon import probe

    probe.clear()

    conn = connect(runtime.redis_url, runtime.data_dir)
    log.info("%s using redis %s, config %s (version %s)", args.command, describe(conn), config.directory,
             config.version)
    # imported here: Scrapy and trafilatura load only for the commands that crawl
    from newsmon.status import mark_starting

    mark_starting(conn, config)
    if args.command == "scheduler":
        from newsmon.scheduler.clock import run_scheduler

        validate = config_validator()  # one cache for every tick: the keywords compile once per version
        run_scheduler(config, conn, live=LiveConfig(config, conn, "scheduler", validate), validate=validate)
    elif args.command == "crawler":
        from newsmon.crawler.runner import run_crawler

        return run_crawler(config, conn, live=LiveConfig(config, conn, "crawler", config_validator()))
    elif args.command == "worker":
        from newsmon.health import start_standby
        from newsmon.workers.matcher import matcher_for
        from newsmon.workers.runner import run_worker

        live = LiveConfig(config, conn, "worker", matcher_for, every=0)  # each job looks (one GET)
        if not args.burst:
            start_standby(live, conn, validate=config_validator())
        run_worker(config, conn, archive_url, queues=args.queues, burst=args.burst, live=live)
    return 0


def _healthcheck(_args: argparse.Namespace, _runtime: Runtime) -> int:
    """One line, and exit 0 (alive) or 1 (not), as a container engine's health check expects."""
    # imported here: urllib's HTTP client loads only for the health check
    from newsmon import probe

    alive, why = probe.check()
    print(why)
    return 0 if alive else 1


# each command and what runs it (the handler imports what it needs, so `newsmon --help` stays light)
_COMMANDS: dict[str, Callable[[argparse.Namespace, Runtime], int]] = {
    "config": _config_check, "keywords": _keywords, "dedupe": _dedupe, "events": _events,
    "schedule": _schedule,
    "breaking": _breaking, "demo": _demo,
    "status": _status, "failed": _status, "web": _web_command, "search": _archive, "backtest": _archive,
    "explain": _archive, "alerts": _alerts, "sources": _sources, "run": _run_command, "scheduler": _role,
    "crawler": _role, "worker": _role, "import": _history, "backfill": _history, "healthcheck": _healthcheck,
}


def _dispatch(args: argparse.Namespace) -> int:
    return _COMMANDS[args.command](args, Runtime.from_env())


def _run(args: argparse.Namespace, config: Config, runtime: Runtime) -> int:
    # imported here: RQ loads only for the commands that read the queues
    from newsmon.app.demo import MARKER
    from newsmon.app.supervisor import Supervisor, child_env

    server = None
    redis_url = runtime.redis_url
    if (runtime.data_dir / MARKER).exists():
        raise UsageError(f"{display_path(runtime.data_dir)} holds a demo's data (from a newsmon before "
                         f"demos kept theirs in {display_path(runtime.data_dir / 'demo')}); `run` keeps real "
                         f"data apart: remove {display_path(runtime.data_dir)} or set NEWSMON_DATA_DIR to "
                         f"another directory")
    if not redis_url:
        server = EmbeddedRedis(runtime.data_dir).start()
        redis_url = server.url
    try:
        conn = connect(redis_url, runtime.data_dir)
        jobcontext.publish(conn, config)  # starting is deploying: the workers run this version
        remember_config_dir(runtime.data_dir, config.directory)
        from newsmon.status import mark_starting

        mark_starting(conn, config, fresh=True)
        env = child_env(redis_url, {"NEWSMON_DATA_DIR": str(runtime.data_dir)})
        log.info("newsmon run: config %s (version %s), %d sources, %d workers, redis %s", config.directory,
                 config.version, len(config.enabled_sources()), args.workers,
                 "embedded under " + str(runtime.data_dir / "redis") if server else "at REDIS_URL")
        Supervisor(config.directory, env, workers=args.workers, log_level=args.log_level,
                   redis_conn=conn).run_forever()
    finally:
        if server is not None:
            server.stop(save=True)
    return 0


def _web(args: argparse.Namespace, config_dir: Path, runtime: Runtime) -> int:

    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.app.web import create_app, serve
    from newsmon.status import load_for_status
    from newsmon.workers.archive import Archive, open_engine

    conn = connect(runtime.redis_url, runtime.data_dir)
    opened: list[Archive] = []

    def recent(limit: int) -> list[dict]:
        """Recent stories, once an archive exists (the page never creates an empty one)."""
        if not opened:
            try:
                opened.append(Archive(open_engine(runtime.archive_url(must_exist=True))))
            except NothingRunning:
                return []
        return opened[0].recent(limit)

    def sent(limit: int) -> list[dict]:
        """The delivery log's newest rows (what the alerts role logged is moved in first)."""
        # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
        from newsmon.workers.archive import delivery_rows, drain_delivery_log

        recent(0)  # opens the archive once it exists
        if not opened:
            return []
        drain_delivery_log(conn, opened[0])
        return [{**row, "at": as_utc(row["at"])} for row in delivery_rows(opened[0].engine, limit=limit)]

    follow = not explicit_config(args)
    config, _error = load_for_status(config_dir, conn, config_validator(), follow=follow)
    app = create_app(config, conn, recent, validate=config_validator(), follow=follow, recent_deliveries=sent,
                     host=args.host, token=os.environ.get("NEWSMON_WEB_TOKEN") or None, config_dir=config_dir)
    serve(app, args.host, args.port)
    return 0


