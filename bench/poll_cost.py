"""Crawler cost of polling unchanged feeds: CPU milliseconds and bytes per poll.

Runs the real crawler process against the replay site with N feeds of 20 items each, primes the
seen-sets with one full poll per feed, then requests R rounds of polls of every feed and measures the
crawler process's CPU time (user + system) while (a) the server answers 304 to conditional GETs and
(b) the server ignores them and returns the same feed. The baseline is (c), the first full poll of each
feed, which fetches and extracts all 20 articles.

    python bench/poll_cost.py [--feeds 50] [--rounds 5]

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchredis import bench_redis
from bench.machine import describe
from newsmon import keys
from newsmon.app.replay import Article, Feed, ReplaySite
from newsmon.models import PollRequest

PARAGRAPH = (
    "Officials in Kirkuk said on Tuesday that the provincial council would meet next week to discuss "
    "the budget, security arrangements and the return of displaced families to their villages. "
)


def build_site(feeds: int, items: int = 20) -> ReplaySite:
    site = ReplaySite()
    start = datetime.now(UTC) - timedelta(hours=2)
    for f in range(feeds):
        feed = Feed(path=f"/outlet{f}/rss", title=f"Outlet {f}", language="en", outlet=f"Outlet {f}")
        for i in range(items):
            feed.articles.append(Article(path=f"/outlet{f}/story/{i}", title=f"Story {i} of outlet {f}",
                                         paragraphs=[PARAGRAPH * 3] * 6, language="en", outlet=feed.outlet,
                                         published=start + timedelta(minutes=i)))
        site.add_feed(feed)
    return site


def poll_all(conn: redis.Redis, source_ids: list[str]) -> None:
    before = {s: int(conn.hget(keys.source_state(s), "polls_total") or 0) for s in source_ids}
    for source_id in source_ids:
        request = PollRequest(source_id=source_id, poll_id=uuid.uuid4().hex, lock_token="bench",
                              requested_at=datetime.now(UTC))
        conn.rpush(keys.poll_requests("feed"), request.model_dump_json())
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if all(int(conn.hget(keys.source_state(s), "polls_total") or 0) > before[s] for s in source_ids):
            return
        time.sleep(0.02)
    raise SystemExit("polls did not finish in 300 s")


def bytes_per_poll(conn: redis.Redis, source_ids: list[str]) -> float:
    """Mean bytes the sources' last polls fetched."""
    values = [int(conn.hget(keys.source_state(s), "last_bytes") or 0) for s in source_ids]
    return sum(values) / len(values) if values else 0.0


def cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--items", type=int, default=20, help="articles per feed (the first poll fetches them)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="newsmon-bench-"))
    conn, url, server = bench_redis(work)
    site = build_site(args.feeds, args.items)
    base = site.start()
    sources = [{"id": f"outlet{f}", "name": f"Outlet {f}", "outlet": f"Outlet {f}", "language": "en",
                "kind": "feed", "url": f"{base}/outlet{f}/rss", "interval": 300} for f in range(args.feeds)]
    config = work / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    (config / "alerts.yaml").write_text(
        yaml.safe_dump({"channels": {"c": {"type": "console"}}, "routes": []})
    )
    (config / "keywords.yaml").write_text((ROOT / "config" / "keywords.yaml").read_text())
    env = dict(os.environ, REDIS_URL=url)
    with (work / "crawler.log").open("wb") as log:
        crawler = subprocess.Popen([sys.executable, "-m", "newsmon", "--log-level", "WARNING", "--config-dir",
                                    str(config), "crawler"], env=env, stderr=log)
    try:
        process = psutil.Process(crawler.pid)
        ids = [s["id"] for s in sources]
        time.sleep(2)  # let the crawler import and start before measuring
        results = []
        c0, t0 = cpu(process), time.monotonic()
        poll_all(conn, ids)
        results.append(
            (
                f"first poll: feed + {args.items} new articles (baseline)",
                args.feeds,
                cpu(process) - c0,
                time.monotonic() - t0,
                bytes_per_poll(conn, ids),
            )
        )
        for label, honor in (("unchanged feed, server answers 304", True),
                             ("unchanged feed, server ignores conditional GET", False)):
            site.honor_conditional = honor
            poll_all(conn, ids)  # warm: stores the validators of this mode
            c0, t0 = cpu(process), time.monotonic()
            for _ in range(args.rounds):
                poll_all(conn, ids)
            results.append((label, args.feeds * args.rounds, cpu(process) - c0, time.monotonic() - t0,
                            bytes_per_poll(conn, ids)))
        memory = process.memory_info().rss / 2**20
    finally:
        crawler.terminate()
        crawler.wait(timeout=30)
        site.stop()
        if server is not None:
            server.stop(save=False)
    baseline = results[0][2] / results[0][1]
    print(describe())
    print(
        f"crawler poll cost, {args.feeds} feeds x {args.items} items, {args.rounds} rounds; crawler RSS "
        f"{memory:.0f} MiB"
    )
    print(
        f"{'case':<50} {'polls':>6} {'CPU ms/poll':>12} {'vs baseline':>12} {'bytes/poll':>11} {'wall s':>8}"
    )
    for label, polls, cpu_s, wall, size in results:
        per = cpu_s / polls
        print(
            f"{label:<50} {polls:>6} {per * 1000:>12.2f} {per / baseline:>11.3f}x {size:>11.0f} {wall:>8.2f}"
        )
    per_304 = results[1][2] / results[1][1]
    print(f"1,000 sources every 5 min at the 304 cost: {1000 / 300 * per_304 * 100:.1f}% of one core")


if __name__ == "__main__":
    main()
