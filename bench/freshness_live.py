"""Live publish -> alert delay, fixed against adaptive polling at the same number of requests.

50 sources on one local bench site (bench/pipeline.py's), of which 10 post ten times as often as the
rest. The same stories, at the same moments (one seed), are published in two phases on the real roles
(scheduler, crawler, worker) against one Redis:

- fixed: every source polled every --interval seconds;
- adaptive: no interval; `scheduler.budget_per_hour` set to the polls an hour the fixed phase made while
  its stories were published (below 50 x 3600 / interval: a poll is skipped while the source's previous
  one runs), each source's posting profile taught beforehand from a week of its own rate (as the crawler
  would have observed it), so the plan spends the budget where stories come.

Also printed: the least p95 wait for a poll any plan of that budget could give these sources' rates
(scheduler/adaptive.py least_p95), beside even polling's at the same budget: how much a schedule can do
here at all, before the pipeline's own time.

Each story mentions the K-1 base; a desk with `events: false` (every story alerts) posts to a local
webhook receiver. The figure is the delay from a story appearing in its feed to its alert arriving: p50
and p95 per phase, and the polls each phase spent per hour while stories were published. One local host
stands for 50 outlets here, so `scheduler.host_polls_per_hour` is raised out of the way (real outlets each
have their own host and limit).

    python bench/freshness_live.py [--minutes 6] [--interval 60] [--rate 6] [--seed 7]

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchredis import bench_redis
from bench.machine import describe
from bench.pipeline import ALPHABETS, MENTION, BenchSite, Receiver, Roles, story_text
from newsmon import keys, profile
from newsmon.app.replay import Article, Feed
from newsmon.freshness import percentile
from newsmon.scheduler.adaptive import least_p95, predicted
from newsmon.settings import load_config

SOURCES = 50
BUSY = 10  # sources 0-9 post BUSY_FACTOR times as often
BUSY_FACTOR = 10


def rate_of(source: int, rate: float) -> float:
    return rate * BUSY_FACTOR if source < BUSY else rate


def schedule(seed: int, minutes: float, rate: float) -> list[tuple[float, int]]:
    """(seconds into the phase, source) of every story, a Poisson process per source."""
    rng = random.Random(seed)
    found = []
    for source in range(SOURCES):
        at = rng.expovariate(rate_of(source, rate) / 3600)
        while at < minutes * 60:
            found.append((at, source))
            at += rng.expovariate(rate_of(source, rate) / 3600)
    return sorted(found)


def write_phase_config(directory: Path, base: str, phase: str, interval: int, webhook: str,
                       budget: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    sources = []
    for s in range(SOURCES):
        entry = {"id": f"{phase}{s}", "name": f"{phase}{s}", "outlet": f"Outlet {s}",
                 "language": list(ALPHABETS)[s % 4], "kind": "feed", "url": f"{base}/{phase}{s}/rss",
                 "jitter": 0}
        if phase == "fixed":
            entry["interval"] = interval
        else:
            entry.update({"schedule": "adaptive", "min_interval": 10, "max_interval": 3600})
        sources.append(entry)
    (directory / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    alerts = {"channels": {"hook": {"type": "apprise", "url": webhook}},
              "desks": {"desk": {"topics": ["*"], "channels": ["hook"], "events": False}},
              "retry": {"max": 3, "intervals": [1]}}
    (directory / "alerts.yaml").write_text(yaml.safe_dump(alerts))
    (directory / "keywords.yaml").write_text((ROOT / "config" / "keywords.yaml").read_text())
    (directory / "newsmon.yaml").write_text(yaml.safe_dump({
        "crawler": {"max_polls_in_flight": 8, "concurrency_per_host": 16, "autothrottle": False},
        "scheduler": {"budget_per_hour": budget, "host_polls_per_hour": min(36_000, 20 * budget)},
    }))


def teach_profiles(conn: object, phase: str, rate: float, now: float) -> None:
    """A week of hourly observations at each source's own rate, as the crawler records them."""
    pipe = conn.pipeline(transaction=False)  # type: ignore[attr-defined]
    for s in range(SOURCES):
        for hour in range(7 * 24, 0, -1):
            profile.observe(pipe, f"{phase}{s}", round(rate_of(s, rate)), now - hour * 3600, 1.0)
    pipe.execute()


def polls(conn: object, phase: str) -> int:
    return sum(int(conn.hget(keys.source_state(f"{phase}{s}"), "polls_total") or 0)  # type: ignore[attr-defined]
               for s in range(SOURCES))


def run_phase(phase: str, args: argparse.Namespace, conn: object, redis_url: str, work: Path,
              budget: int) -> tuple[list[float], float, int]:
    """(delays of the stories alerted, polls an hour while publishing, stories published)"""
    conn.flushdb()  # type: ignore[attr-defined]
    site = BenchSite()
    base = site.start()
    rng = random.Random(args.seed)
    for s in range(SOURCES):
        language = list(ALPHABETS)[s % 4]
        # one earlier story each, matching nothing: an empty feed is a failing one (and backs off)
        site.add_feed(Feed(path=f"/{phase}{s}/rss", title=f"Outlet {s}", language=language,
                           outlet=f"Outlet {s}", articles=[Article(
                               path=f"/{phase}{s}/story/old", title=f"Earlier {s}",
                               paragraphs=story_text(rng, language, False), language=language,
                               outlet=f"Outlet {s}", published=datetime.now(UTC))]))
    receiver = Receiver()
    webhook = f"json://127.0.0.1:{receiver.server.server_address[1]}/hook"
    config_dir = work / f"{phase}-config"
    write_phase_config(config_dir, base, phase, args.interval, webhook, budget)
    if phase == "adaptive":
        teach_profiles(conn, phase, args.rate, time.time())
    data_dir = work / f"{phase}-data"
    data_dir.mkdir()
    roles = Roles(config_dir, redis_url, data_dir)
    roles.start("scheduler", "scheduler")
    roles.start("crawler", "crawler")
    roles.start("worker", "worker")
    # the first round of polls finds the empty feeds; publishing starts once every source answered
    deadline = time.time() + 120

    def ready() -> bool:
        dead = [name for name, process in roles.processes.items() if process.poll() is not None]
        if dead:
            raise SystemExit(f"{phase}: {', '.join(dead)} exited; see the logs in {data_dir}")
        return all(conn.hget(keys.source_state(f"{phase}{s}"), "polls_total")  # type: ignore[attr-defined]
                   for s in range(SOURCES))

    while not ready():
        if time.time() > deadline:
            raise SystemExit(f"{phase}: not every source polled within 120 s; see the logs in {data_dir}")
        time.sleep(0.5)
    time.sleep(5)  # the adaptive plan (2 s after start) is in place
    published: dict[str, float] = {}
    stories = schedule(args.seed, args.minutes, args.rate)
    before = polls(conn, phase)
    start = time.time()
    for n, (moment, s) in enumerate(stories):
        time.sleep(max(0.0, start + moment - time.time()))
        language = list(ALPHABETS)[s % 4]
        name = f"item-{n}"
        site.publish(f"/{phase}{s}/rss", Article(
            path=f"/{phase}{s}/story/{n}", title=f"K-1 {name}",
            paragraphs=[MENTION[language]] + story_text(rng, language, False), language=language,
            outlet=f"Outlet {s}", published=datetime.now(UTC)))
        published[name] = time.time()
    spent = polls(conn, phase) - before
    per_hour = spent / ((time.time() - start) / 3600)
    drain = time.time() + 3 * args.interval + 60
    while len(receiver.arrivals) < len(published) and time.time() < drain:
        time.sleep(0.5)
    roles.stop()
    site.stop()
    receiver.server.shutdown()
    delays = sorted(receiver.arrivals[k] - published[k] for k in published if k in receiver.arrivals)
    return delays, per_hour, len(published)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6, help="publishing time of each phase")
    parser.add_argument("--interval", type=int, default=60, help="the fixed phase's poll interval (s)")
    parser.add_argument("--rate", type=float, default=6, help="stories an hour of an ordinary source")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsmon-freshness-"))
    conn, url, server = bench_redis(work)
    print(describe())
    results = {}
    try:
        budget = SOURCES * 3600 // args.interval
        for phase in ("fixed", "adaptive"):
            results[phase] = run_phase(phase, args, conn, url, work, budget)
            delays, per_hour, sent = results[phase]
            print(f"  {phase}: {len(delays)} of {sent} stories alerted, {per_hour:.0f} polls/h"
                  f"{'' if phase == 'fixed' else f' (budget {budget})'}", flush=True)
            if phase == "fixed":
                budget = round(per_hour)  # the adaptive phase spends what the fixed one did
    finally:
        if server is not None:
            server.stop(save=False)
    fixed = results["fixed"][0]
    print(f"\npublish -> alert, {SOURCES} sources ({BUSY} posting {BUSY_FACTOR}x as often, {args.rate:g} "
          f"stories/h for the rest), {args.minutes:g} min of stories per phase, same stories and moments")
    print(f"  {'schedule':<10} {'stories':>8} {'p50 s':>8} {'p95 s':>8} {'polls/h':>8}")
    for phase, (delays, per_hour, sent) in results.items():
        p50, p95 = percentile(delays, 50), percentile(delays, 95)
        ratio = "" if phase == "fixed" else (f"  ({p50 / percentile(fixed, 50):.2f}x, "
                                             f"{p95 / percentile(fixed, 95):.2f}x)")
        print(f"  {phase:<10} {len(delays):>8} {p50:>8.1f} {p95:>8.1f} {per_hour:>8.0f}{ratio}")
    sources = load_config(work / "adaptive-config").enabled_sources()
    curves = {source.id: [rate_of(s, args.rate)] * 24 for s, source in enumerate(sources)}
    rates = np.array([rate_of(s, args.rate) for s in range(SOURCES)])
    even = predicted(rates, np.full(SOURCES, budget / SOURCES))[0]
    least = least_p95(sources, budget, 36_000, curves)
    print(f"  the wait for a poll alone at {budget} polls/h: p95 {even:.1f} s polling evenly, {least:.1f} s "
          f"at least whatever the plan ({least / even:.2f}x)")


if __name__ == "__main__":
    main()
