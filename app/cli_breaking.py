"""`newsmon breaking --jsonl`: breaking events over stories given as JSON lines, to try thresholds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from newsmon.breaking import Detector, event_record
from newsmon.models import Sighting
from newsmon.settings import default_config_dir, load_config


def add_parser(commands: Any) -> None:
    """Register `breaking` on the CLI's subcommands."""
    breaking = commands.add_parser(
        "breaking", help="breaking events (a story spreading across outlets, a topic surging) over JSON lines"
    )
    breaking.add_argument("--jsonl", action="store_true", required=True,
                          help='read {"id", "url", "title", "text", "outlet", "published", "language", '
                               '"topics"} lines on stdin, in arrival order')
    breaking.add_argument(
        "--outlets", type=int, default=3, help="distinct outlets that make a story breaking (3)"
    )
    breaking.add_argument(
        "--minutes", type=int, default=30, help="... within this many minutes of its first (30)"
    )


def run(args: argparse.Namespace, config_dir: Path | None, out: TextIO = sys.stdout) -> int:
    """Cluster the stories with a throw-away index, each story's `published` as the clock, and print one
    JSON line per event."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.app.cli_dedupe import jsonl_stories, published_at, scratch_index
    from newsmon.workers.matcher import Matcher

    config = load_config(config_dir or default_config_dir())
    matcher = None
    names: dict[str, Any] = {}
    detector = Detector(outlets=args.outlets, minutes=args.minutes)
    topic_names = {t: topic.name for t, topic in config.keywords.topics.items()}
    with scratch_index(config.pipeline.dedupe, None) as index:
        for name, record, story_id in jsonl_stories(sys.stdin):
            names.setdefault(story_id, name)
            at = published_at(record)
            verdict = index.check_and_add(story_id, record.get("text", ""), now=at.timestamp())
            topics = record.get("topics")
            if topics is None:
                matcher = matcher or Matcher(config.keywords)
                topics = [m.topic for m in matcher.match(record.get("title", ""), record.get("text", ""),
                                                          record.get("language")).matches]
            names.setdefault(verdict.cluster, names.get(verdict.cluster, verdict.cluster))
            sighting = Sighting(outlet=record.get("outlet", ""), at=at, language=record.get("language", ""),
                                story_id=story_id, title=record.get("title", ""), url=record["url"])
            for event in detector.add(verdict.cluster, sighting, verdict.kind == "new", topics, topic_names):
                recent = detector.recent(event.topic, at) if event.topic else []
                out.write(json.dumps(event_record(event, names, recent), ensure_ascii=False) + "\n")
    return 0
