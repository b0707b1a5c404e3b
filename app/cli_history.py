"""`newsmon import` and `newsmon backfill`: history for the archive, so that `backtest`, `keywords
suggest` and `search` have something to work on from day one.

Both archive stories exactly as the workers do (normalization, dedupe into clusters, topics) but never
alert: each story carries `history` (`import` or `backfill`), which the worker treats like old news
from a source's first poll. They need the running system's Redis (dedupe index, seen-sets) and archive.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from newsmon.jobcontext import JobContext
from newsmon.models import Story, story_id_for
from newsmon.redis_conn import connect
from newsmon.settings import Config, Runtime
from newsmon.urls import canonical_url

BATCH = 16


def add_parser(commands: Any) -> None:
    """Register `import` and `backfill`."""
    imported = commands.add_parser("import", help="archive stories given as JSON lines (history kept "
                                                  "elsewhere): dedupe and topics, no alerts")
    imported.add_argument("--jsonl", required=True, metavar="FILE",
                          help='a file of {"url", "title", "text", "language", "outlet", "published"} '
                               "lines, or - for standard input")
    backfill = commands.add_parser("backfill", help="archive each enabled source's recent history (sitemaps "
                                                    "newest first, full feeds): no alerts, marked seen")
    backfill.add_argument("--days", type=float, default=30, help="how far back (default 30)")
    backfill.add_argument("--source", default=None, help="only this source")
    backfill.add_argument("--again", action="store_true",
                          help="also the sources an earlier backfill finished (it resumes otherwise)")


def run(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO = sys.stdout) -> int:
    """`newsmon import` (`newsmon backfill` is app/backfill.py, which archives through this module)."""
    return _import(args, config, runtime, out)


def context(config: Config, runtime: Runtime) -> Any:
    """The job context the workers would use, in this process."""

    conn = connect(runtime.redis_url, runtime.data_dir)
    return JobContext(config=config, redis=conn, archive_url=runtime.archive_url())


class Tally:
    """What happened to the stories given, for the progress lines."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {"new": 0, "copies": 0, "already": 0, "failed": 0, "bad": 0}

    def add(self, done: list[dict[str, Any]], failed: list[Any]) -> None:
        for result in done:
            kind = result["kind"]
            self.counts["new" if kind == "new" else "already" if kind == "url" else "copies"] += 1
        self.counts["failed"] += len(failed)

    def line(self) -> str:
        c = self.counts
        return (f"{c['new']} new, {c['copies']} copies of stories archived before, {c['already']} already "
                f"archived, {c['failed']} failed, {c['bad']} unusable")


def archive_batches(ctx: Any, payloads: Iterable[dict[str, Any]], tally: Tally,
                    on_batch: Any = None) -> None:
    """Archive stories in batches of BATCH, as a worker's batch job would (never alerting); `explain`
    then says, for the desks that follow a story's topics, that history does not alert."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.alerts.backlog import history_held_back
    from newsmon.workers.jobs import archive_history

    def archive(batch: list[dict[str, Any]]) -> None:
        done, failed = archive_history(ctx, batch)
        command = next((p["history"] for p in batch if isinstance(p, dict) and p.get("history")), "import")
        for result in done:
            if result["topics"]:
                history_held_back(ctx.config, ctx.redis, result["story"], result["language"],
                                  result["outlet"], result["topics"], command)
        tally.add(done, failed)
        if on_batch:
            on_batch()

    batch: list[dict[str, Any]] = []
    for payload in payloads:
        batch.append(payload)
        if len(batch) == BATCH:
            archive(batch)
            batch = []
    if batch:
        archive(batch)


def _records(handle: TextIO, tally: Tally, out: TextIO) -> Iterator[dict[str, Any]]:
    # imported here: Scrapy and trafilatura load only for the commands that crawl
    from newsmon.crawler.language import detect_language

    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError("not a JSON object")
            missing = [f for f in ("url", "title", "text")
                       if not isinstance(record.get(f), str) or not record[f]]
            if missing:
                raise ValueError(f"{', '.join(missing)} missing or not text")
            published = record.get("published")
            when = datetime.fromisoformat(published) if published else None
            if when is not None and when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            canonical = canonical_url(record["url"])
            text = record["text"]
            story = Story(id=story_id_for(canonical), source_id=str(record.get("source") or "import"),
                          outlet=str(record.get("outlet") or "imported"),
                          language=record.get("language") or detect_language(f"{record['title']}\n{text}"),
                          url=record["url"], canonical_url=canonical, title=record["title"], text=text,
                          published=when, history="import")
        except (ValueError, TypeError) as exc:
            tally.counts["bad"] += 1
            out.write(f"line {number}: skipped: {str(exc)[:200]}\n")
            continue
        yield story.model_dump(mode="json")


def _import(args: argparse.Namespace, config: Config, runtime: Runtime, out: TextIO) -> int:
    ctx = context(config, runtime)
    tally = Tally()
    seen = [0]

    def progress() -> None:
        seen[0] += 1
        if seen[0] % 10 == 0:
            out.write(f"  ... {tally.line()}\n")
            out.flush()

    handle = sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8")  # noqa: SIM115
    try:
        archive_batches(ctx, _records(handle, tally, out), tally, progress)
    finally:
        if handle is not sys.stdin:
            handle.close()
    out.write(f"import: {tally.line()}; nothing was alerted\n")
    return 0 if not tally.counts["failed"] else 1
