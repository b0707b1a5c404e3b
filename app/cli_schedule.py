"""`newsmon schedule simulate`: the fixed intervals against the adaptive schedule at the same requests."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from newsmon.settings import Runtime, default_config_dir, load_config

MIN_STORIES = 500  # an archive with fewer dated stories in the period is too young to replay
SYNTHETIC_SOURCES = 300
SYNTHETIC_DAYS = 14


def add_parser(commands: Any) -> None:
    """Register `schedule simulate` on the CLI's subcommands."""
    schedule = commands.add_parser("schedule", help="try polling schedules before deploying them")
    actions = schedule.add_subparsers(dest="schedule_command", required=True)
    simulate = actions.add_parser(
        "simulate",
        help="replay the archive's publication times (or a synthetic set) under the fixed intervals and the "
             "adaptive schedule at the same requests: p50/p95 delay, requests a day, busiest host")
    simulate.add_argument("--since", default="30d", help="archive period to replay (default 30d)")
    simulate.add_argument("--budget", type=float, default=None,
                          help="polls an hour on average for the adaptive schedule (default: what the fixed "
                               "intervals spend)")
    simulate.add_argument("--synthetic", action="store_true",
                          help="synthetic sources instead of the archive (also when the archive is young)")
    simulate.add_argument("--sources", type=int, default=SYNTHETIC_SOURCES,
                          help=f"synthetic sources (default {SYNTHETIC_SOURCES})")
    simulate.add_argument("--days", type=int, default=SYNTHETIC_DAYS,
                          help=f"synthetic days, half to learn and half measured (default {SYNTHETIC_DAYS})")
    simulate.add_argument("--spread", type=float, default=None,
                          help="synthetic: standard deviation of the logarithm of the sources' rates "
                               "(default 2.0)")
    simulate.add_argument("--json", action="store_true", help="one JSON object")


def _archive_stories(config: Any, since: datetime) -> dict[str, list[float]]:
    """Publication times per enabled source of the archive's stories published since `since`."""
    # imported here: the archive (SQLAlchemy) loads only when it is replayed
    from sqlalchemy import select

    from newsmon.workers.archive import open_engine, stories

    engine = open_engine(Runtime.from_env().archive_url(must_exist=True))
    wanted = {s.id for s in config.enabled_sources()}
    out: dict[str, list[float]] = {i: [] for i in wanted}
    query = select(stories.c.source_id, stories.c.published).where(stories.c.published >= since)
    with engine.connect() as conn:
        for source_id, published in conn.execute(query):
            if source_id in wanted and published is not None:
                moment = published if published.tzinfo else published.replace(tzinfo=UTC)
                out[source_id].append(moment.timestamp())
    return {i: sorted(t) for i, t in out.items()}


def run(args: argparse.Namespace, config_dir: Path | None, out: TextIO = sys.stdout) -> int:
    """Simulate and print; returns the exit code."""
    # imported here: the simulator loads only for this command
    from newsmon.app.cli_archive import parse_since
    from newsmon.errors import NothingRunning
    from newsmon.scheduler import simulate
    from newsmon.scheduler.adaptive import default_budget

    config = load_config(config_dir or default_config_dir())
    settings = config.pipeline.scheduler
    now = time.time()
    note = ""
    source = "archive"
    if not args.synthetic:
        since = parse_since(args.since)
        assert since is not None
        try:
            found = _archive_stories(config, since)
        except NothingRunning:
            found = {}
        if sum(len(t) for t in found.values()) >= MIN_STORIES:
            sources = config.enabled_sources()
            stories, start, end = found, since.timestamp(), now
            budget = args.budget or settings.budget_per_hour or default_budget(config)
        else:
            note = (f"the archive holds fewer than {MIN_STORIES} dated stories since {args.since}: "
                    "a synthetic set instead")
            args.synthetic = True
    if args.synthetic:
        source = "synthetic"
        end = now // 86400 * 86400  # whole days, so that a rerun replays the same stories
        start = end - args.days * 86400
        sources, stories = simulate.synthetic(args.sources, args.days, start,
                                              spread=simulate.SPREAD if args.spread is None else args.spread)
        budget = args.budget or sum(3600.0 / s.interval for s in sources)
    outcomes = simulate.compare(sources, stories, start, end, float(budget), settings.host_polls_per_hour)
    least = simulate.bound(sources, stories, start, end, float(budget), settings.host_polls_per_hour)
    if args.json:
        out.write(json.dumps({"stories_from": source, "note": note or None, "sources": len(sources),
                              "days_measured": round((end - start) / 2 / 86400, 1), "budget_per_hour": budget,
                              "host_polls_per_hour": settings.host_polls_per_hour,
                              "spread": (simulate.SPREAD if args.spread is None else args.spread)
                              if source == "synthetic" else None,
                              "least_possible_p95_seconds": round(least, 1),
                              "schedules": [o.as_dict() for o in outcomes]}) + "\n")
        return 0
    if note:
        out.write(note + "\n")
    header = (f"{len(sources)} sources, stories from the {source}; the first half of "
              f"{(end - start) / 86400:.0f} days teaches, the second is measured; adaptive budget "
              f"{budget:.0f} polls an hour on average, at most {settings.host_polls_per_hour} an hour a host"
              + (f"; rates log-normal, spread {args.spread if args.spread is not None else simulate.SPREAD}"
                 if source == "synthetic" else ""))
    columns = (f"  {'schedule':<10} {'stories':>8} {'p50 delay':>10} {'p95 delay':>10} {'requests/day':>13} "
               f"{'busiest host/h':>15}")
    lines = [header, columns]
    lines += [f"  {o.schedule:<10} {o.stories:>8} {o.p50:>9.0f}s {o.p95:>9.0f}s {o.requests_per_day:>13.0f} "
              f"{o.busiest_host_per_hour:>15}" for o in outcomes]
    fixed, adaptive = outcomes
    if fixed.p50 and fixed.p95:
        requests = adaptive.requests_per_day / max(fixed.requests_per_day, 1)
        lines.append(f"  adaptive / fixed: p50 {adaptive.p50 / fixed.p50:.2f}x, "
                     f"p95 {adaptive.p95 / fixed.p95:.2f}x, requests {requests:.2f}x")
        lines.append(f"  the least p95 any schedule of this budget could give, knowing each source's rate "
                     f"hour by hour: {least:.0f}s ({least / fixed.p95:.2f}x)")
    out.write("\n".join(lines) + "\n")
    return 0
