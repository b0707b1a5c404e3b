"""`newsmon events --jsonl`: group stories given as JSON lines into events, to check the thresholds.

Each line is {"id", "url", "title", "text", "language", "outlet", "published"}, in arrival order; each
output line is {"id", "event", "cluster"}: stories of one event share `event`, copies of one story share
`cluster` (both are the `id` of the story that opened them). Every story is decided, whether or not it
matches a topic (the workers decide only stories that carry one). `--evidence` adds what joined each
story to its event.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from newsmon.app.cli_dedupe import jsonl_stories, published_at, scratch_index
from newsmon.settings import default_config_dir, load_config


def add_parser(commands: Any) -> None:
    """Register `events` on the CLI's subcommands."""
    events = commands.add_parser(
        "events", help="group stories read as JSON lines into events; prints event and cluster per story")
    events.add_argument("--jsonl", action="store_true", required=True,
                        help='read {"id", "url", "title", "text", "language", "outlet", "published"} lines '
                             "on stdin, in arrival order")
    events.add_argument("--window-hours", type=float, default=None,
                        help="reports further apart are never one event (default: newsmon.yaml's, 24)")
    events.add_argument("--min-score", type=float, default=None, help="override events.min_score")
    events.add_argument("--agreement", type=float, default=None, help="override events.agreement")
    events.add_argument("--agreement-reports", type=int, default=None,
                        help="override events.agreement_reports")
    events.add_argument("--edition-bonus", type=float, default=None, help="override events.edition_bonus")
    events.add_argument("--evidence", action="store_true", help="add the evidence of each membership")
    events.add_argument("--redis-url", default=None,
                        help="indexes in this Redis (default: a throw-away embedded one, nothing kept)")


def run(args: argparse.Namespace, config_dir: Path | None, out: TextIO = sys.stdout,
        stream: TextIO | None = None) -> int:
    """Run dedupe and events over standard input; returns the exit code."""
    # imported here: the features read scripts and thesaurus only where events are decided
    from newsmon.workers.events import EventIndex, features

    pipeline = load_config(config_dir or default_config_dir()).pipeline
    overrides = {name: getattr(args, name) for name in ("window_hours", "min_score", "agreement",
                                                          "agreement_reports", "edition_bonus")
                 if getattr(args, name) is not None}
    settings = pipeline.events.model_copy(update=overrides)
    with scratch_index(pipeline.dedupe, args.redis_url) as dedupe:
        index = EventIndex(dedupe.conn, settings, pipeline.dedupe.window_days)
        names: dict[str, Any] = {}
        for name, record, story_id in jsonl_stories(stream or sys.stdin):
            names.setdefault(story_id, name)
            at = published_at(record)
            verdict = dedupe.check_and_add(story_id, record.get("text", ""), now=at.timestamp())
            if verdict.kind == "new":
                language = str(record.get("language") or "")
                report = features(str(record.get("title") or ""), str(record.get("text") or ""), language, at)
                assignment = index.assign(story_id, verdict.cluster, report, at, language,
                                          str(record.get("outlet") or ""))
                event, evidence = assignment.event, assignment.evidence
            else:
                event, evidence = index.copy_event(verdict.cluster), None
            result: dict[str, Any] = {"id": name, "event": names.get(event, event),
                                      "cluster": names.get(verdict.cluster, verdict.cluster)}
            if args.evidence and evidence:
                matched = names.get(evidence["matched"], evidence["matched"])
                result["evidence"] = {**evidence, "matched": matched}
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0
