"""`newsmon sources list|test`: the source catalogue with each source's last poll, and a dry-run poll."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any, TextIO

import redis

from newsmon.errors import NothingRunning
from newsmon.models import PollRequest, utcnow
from newsmon.redis_conn import find_embedded
from newsmon.settings import Config, Runtime
from newsmon.urls import mask_secrets, mask_url


def add_parser(commands: Any) -> None:
    """Register `sources list` and `sources test`."""
    sources = commands.add_parser("sources", help="list the sources and their health; test one")
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="table of sources: outlet, language, kind, enabled, last poll")
    listing.add_argument("--json", action="store_true", help="one JSON object per source")
    test = actions.add_parser(
        "test", help="poll one source once and print what it would enqueue (stores nothing)"
    )
    test.add_argument("source_id", help="id of the source in sources.yaml")
    test.add_argument("--url", default=None, help="try this URL instead of the configured one")
    test.add_argument("--json", action="store_true", help="print the outcome and stories as JSON")


def run(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO = sys.stdout) -> int:
    """Run a `sources` action; returns the exit code."""
    if args.sources_command == "list":
        return _list(args, config, runtime, out)
    return _test(args, config, out)


def _states(config: Config, runtime: Runtime) -> dict[str, dict[str, str]] | None:
    """Each source's health hash, from the running system; None when nothing is running."""

    # imported here: RQ loads only for the commands that read the queues
    from newsmon.status import source_states

    url = runtime.redis_url or find_embedded(runtime.data_dir)
    if url is None:
        return None
    try:
        return source_states(config, redis.Redis.from_url(url, socket_connect_timeout=2))
    except redis.RedisError:
        return None


def _ago(value: str | None) -> str:
    """How long ago a stored epoch time was ("-" for never)."""
    if not value or value == "0":
        return "-"
    # imported here: each command's module loads only when that command runs
    from newsmon.app.cli_status import duration

    return f"{duration(max(0.0, time.time() - float(value)))} ago"


def _list(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO) -> int:
    found = _states(config, runtime)
    states = found or {}
    rows = []
    for source in config.sources.sources:
        state = states.get(source.id, {})
        outlet = config.sources.outlet(source.outlet)
        rows.append({
            "id": source.id, "outlet": source.outlet, "language": source.language, "kind": source.kind,
            "enabled": source.enabled, "verified": bool(source.evidence), "affiliation": outlet.affiliation,
            "affiliation_source": outlet.affiliation_source,
            "url": mask_url(source.url), "last_poll": state.get("last_poll"), "status": state.get("status"),
            "failure": state.get("failure_kind") or None,
            "error": mask_secrets(state.get("last_error") or "") or None,
            "consecutive_failures": int(state.get("consecutive_failures", 0) or 0),
        })
    nothing = None
    if found is None:

        nothing = (
            str(NothingRunning(runtime.data_dir))
            if not runtime.redis_url
            else "Redis at REDIS_URL does not answer"
        )
    if args.json:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        _print_rows(rows, found is not None, out)
    if nothing:  # the catalogue is listed; the health part is missing, and the exit code says so
        print(f"newsmon sources list: no poll health: {nothing}", file=sys.stderr)
        return 1
    return 0


def _print_rows(rows: list[dict], running: bool, out: TextIO) -> None:
    header = f"{'id':<22} {'outlet':<16} {'lang':<4} {'kind':<8} {'enabled':<7} {'last poll':<10} status"
    out.write(header + "\n" + "-" * len(header) + "\n")
    for row in rows:
        status = row["status"] or ("no poll yet" if running else "-")
        if row["failure"] and row["status"] not in ("ok", "unchanged"):
            status += f" ({row['failure']}, {row['consecutive_failures']}x)"
        out.write(f"{row['id']:<22} {row['outlet'][:16]:<16} {row['language']:<4} {row['kind']:<8} "
                  f"{'yes' if row['enabled'] else 'no':<7} {_ago(row['last_poll']):<10} {status}\n")


def _test(args: argparse.Namespace, config: Config, out: TextIO) -> int:
    # imported here: Scrapy and trafilatura load only for the commands that crawl
    from newsmon.crawler.runner import test_poll

    source = config.source(args.source_id)
    if source is None:
        out.write(f"unknown source {args.source_id!r}; `newsmon sources list` shows the ids\n")
        return 2
    request = PollRequest(source_id=source.id, poll_id=uuid.uuid4().hex, lock_token="test",
                          requested_at=utcnow(), url_override=args.url)
    poll, stories = test_poll(config, request)
    outcome = {
        "source": source.id, "url": mask_url(args.url or source.url),
        "status": poll.status if poll else "no result",
        "failure": poll.failure.kind if poll and poll.failure else None,
        "error": mask_secrets(poll.failure.message) if poll and poll.failure else None,
        "http_status": poll.http_status if poll else None, "items": poll.items if poll else 0,
        "bytes": poll.bytes if poll else 0, "entry_errors": poll.entry_errors if poll else [],
        "skipped": poll.skipped if poll else [],
    }
    if args.json:
        out.write(json.dumps({"poll": outcome, "stories": stories}, ensure_ascii=False, default=str) + "\n")
        return 0 if poll and poll.failure is None else 1
    out.write(f"{source.id} ({source.kind}) {outcome['url']}: {outcome['status']}"
              f"{' - ' + outcome['error'] if outcome['error'] else ''}; "
              f"{outcome['items']} items listed, {len(stories)} stories would be enqueued\n")
    out.writelines(f"  [{story['language']}] {story['published'] or 'no date'}  {story['title'][:90]}\n"
                  f"      {story['url']}\n" for story in stories)
    out.writelines(f"  skipped: {error}\n" for error in [*outcome["skipped"], *outcome["entry_errors"]])
    return 0 if poll and poll.failure is None else 1



