"""`newsmon dedupe --jsonl`: run dedupe over stories given as JSON lines, to check the threshold."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import redis

from newsmon.models import as_utc, story_id_for, utcnow
from newsmon.redis_conn import EmbeddedRedis
from newsmon.settings import DedupeSettings, default_config_dir, load_config
from newsmon.urls import canonical_url


def add_parser(commands: Any) -> None:
    """Register `dedupe` on the CLI's subcommands."""
    dedupe = commands.add_parser(
        "dedupe", help="cluster stories read as JSON lines; prints kind, cluster and duplicate_of per story")
    dedupe.add_argument("--jsonl", action="store_true", required=True,
                        help='read {"id", "url", "title", "text", "outlet", "published"} lines on stdin')
    dedupe.add_argument("--threshold", type=float, default=None,
                        help="near-duplicate Jaccard threshold (default: newsmon.yaml's, 0.5)")
    dedupe.add_argument("--redis-url", default=None,
                        help="index in this Redis (default: a throw-away embedded index, nothing kept)")


def run(args: argparse.Namespace, config_dir: Path | None, out: TextIO = sys.stdout) -> int:
    """Run dedupe over standard input; returns the exit code."""
    settings = load_config(config_dir or default_config_dir()).pipeline.dedupe
    if args.threshold is not None:
        settings = DedupeSettings(threshold=args.threshold, window_days=settings.window_days)
    with scratch_index(settings, args.redis_url) as index:
        names: dict[str, Any] = {}
        for name, record, story_id in jsonl_stories(sys.stdin):
            names.setdefault(story_id, name)
            verdict = index.check_and_add(
                story_id, record.get("text", ""), now=published_at(record).timestamp()
            )
            original = story_id if verdict.kind == "url" else verdict.duplicate_of
            result = {
                "id": name,
                "cluster": names.get(verdict.cluster, verdict.cluster),
                "duplicate_of": names.get(original, original) if original else None,
                "kind": verdict.kind,
            }
            if verdict.similarity is not None and verdict.kind == "near":
                result["similarity"] = verdict.similarity
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


@contextmanager
def scratch_index(settings: DedupeSettings, redis_url: str | None) -> Iterator[Any]:
    """A dedupe index in the given Redis, or in a throw-away embedded one removed afterwards."""

    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.dedupe import DedupeIndex

    scratch = server = None
    if redis_url:
        conn = redis.Redis.from_url(redis_url)
    else:
        scratch = tempfile.mkdtemp(prefix="newsmon-dedupe-")
        server = EmbeddedRedis(Path(scratch), persist=False).start()
        conn = server.connection()
    try:
        yield DedupeIndex(conn, settings)
    finally:
        conn.close()
        if server is not None:
            server.stop(save=False)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def jsonl_stories(stream: Iterable[str]) -> Iterator[tuple[Any, dict[str, Any], str]]:
    """(input name, record, story id) for each non-blank JSON line: the name is the record's `id`, else
    its line number; the story id is the one newsmon gives the record's `url`."""
    for number, line in enumerate(stream, 1):
        if line.strip():
            record = json.loads(line)
            yield record.get("id", number), record, story_id_for(canonical_url(record["url"]))


def published_at(record: dict[str, Any]) -> datetime:
    """A record's `published` (UTC when it names no zone), or now when it has none."""
    published = record.get("published")
    return as_utc(published) if published else utcnow()
