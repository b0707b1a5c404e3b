"""What deciding a story's event costs on the worker, and the memory it takes.

Replays the real reports of tests/corpus/events.yaml (154 reports, six languages) `--rounds` times, each
round shifted in time so that a window (24 h) holds `--per-window` reports with topics: the load of a
busy desk. Each report is read (title and lead: names, numbers, concepts) and decided against the real
EventIndex in Redis; the time per story is the median of `--runs` runs with their spread, client and
Redis together. Also printed: the Redis memory the index takes per report (MEMORY USAGE of its keys) and
the worker's memory for the events modules (resident size before and after loading them, and after the
run, whose word caches grow, and with the caches full).

    python bench/events_bench.py [--rounds 20] [--per-window 300] [--runs 5]

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchredis import bench_redis
from bench.machine import describe, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-window", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(describe())
    process = psutil.Process()
    # what a worker has loaded anyway (settings, normalize, numpy, redis), so it is not counted below
    importlib.import_module("newsmon.workers.dedupe")
    from newsmon.settings import EventSettings

    before = process.memory_info().rss
    from newsmon.workers.eventconcepts import concept_of, name_of
    from newsmon.workers.events import EventIndex, features

    concept_of("drone"), name_of("zakho")  # the thesauri are built on first use
    loaded = process.memory_info().rss
    reports = yaml.safe_load((ROOT / "tests" / "corpus" / "events.yaml").read_text(encoding="utf-8"))
    reports.sort(key=lambda r: r["published"])
    span = 86400 * len(reports) / args.per_window  # seconds one round of the corpus takes
    stories = []
    for round_number in range(args.rounds):
        for n, report in enumerate(reports):
            stories.append((f"{round_number}-{n}", report, 1_800_000_000 + round_number * span + n * span
                            / len(reports)))
    with tempfile.TemporaryDirectory() as work:
        conn, _url, server = bench_redis(Path(work))
        try:
            times = []
            for _run in range(args.runs):
                conn.flushdb()
                index = EventIndex(conn, EventSettings())
                start = time.perf_counter()
                for story_id, report, at in stories:
                    published = datetime.fromtimestamp(at).astimezone()
                    found = features(report["title"], report["text"], report["lang"], published)
                    index.assign(story_id, story_id, found, at, report["lang"], report["outlet"])
                times.append((time.perf_counter() - start) / len(stories) * 1000)
            keys = list(conn.scan_iter("newsmon:events:*", count=1000))
            used = sum(conn.memory_usage(k) or 0 for k in keys)
            live = conn.zcard("newsmon:events:recent")
        finally:
            conn.close()
            if server is not None:
                server.stop(save=False)
    print(f"{len(stories)} reports ({args.rounds} rounds of {len(reports)}), {args.per_window} per 24 h "
          "window")
    print(f"per story (read + decide + register): {spread(times, 2)} ms, median of {args.runs} runs "
          f"(min-max)")
    print(f"Redis: {used / max(live, 1) / 1024:.1f} KiB per report held ({live} reports in two windows, "
          f"{used / 2**20:.1f} MiB)")
    print(f"worker: the events modules (thesaurus, stop lists) {(loaded - before) / 2**20:.1f} MiB resident, "
          f"{(process.memory_info().rss - loaded) / 2**20:.1f} MiB more after the run (word caches)")
    # The word caches are bounded; fill them with made-up words to show what they hold at most.
    from newsmon.workers.eventfeatures import normalize_text

    filled = process.memory_info().rss
    rng = random.Random(1)
    letters = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
    size = normalize_text.cache_info().maxsize
    for _ in range(size):
        word = normalize_text("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
        concept_of(word), name_of(word)
    print(f"worker: word caches full ({size:,} words each): "
          f"{(process.memory_info().rss - filled) / 2**20:.1f} MiB more")


if __name__ == "__main__":
    main()
