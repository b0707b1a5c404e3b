"""`newsmon schedule simulate`: fixed intervals against the adaptive schedule, on the same stories and the
same number of requests, before either is deployed.

The stories are the archive's (each source's publication times) or a synthetic set: sources whose
rates are log-normal around half a story an hour, following a daily cycle (most at 15:00 UTC, fewest at
03:00), two sources on most hosts. Both schedules poll the same sources on a driven clock: a story
waits from its publication to the next poll of its source. The adaptive one learns each source's
profile from its own polls as the crawler does (newsmon/profile.py) and re-plans every hour
(scheduler/adaptive.py; the running scheduler re-plans every 5 minutes). The first half of the period
teaches, the second is measured: delays of the stories published in it, requests a day, and the
busiest host's polls in any one hour.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from newsmon import freshness, profile
from newsmon.scheduler.adaptive import host_of, least_p95, plan_for
from newsmon.settings import Source

HOUR = 3600.0
REPLAN_SIMULATED = 3600.0
# the synthetic rates' spread (sigma of their logarithm): 2 puts 95 % of sources between one story in
# six days and 25 an hour; measured feed populations spread wider still (Bloglines' most read 100,000
# feeds: 40 % posted daily or more often, 60 % at least weekly, so 40 % less than daily)
SPREAD = 2.0


@dataclass
class Outcome:
    """What one schedule gave over the measured half."""

    schedule: str
    stories: int
    p50: float
    p95: float
    requests_per_day: float
    busiest_host_per_hour: int

    def as_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "stories": self.stories, "p50_seconds": round(self.p50, 1),
                "p95_seconds": round(self.p95, 1), "requests_per_day": round(self.requests_per_day),
                "busiest_host_polls_per_hour": self.busiest_host_per_hour}


def synthetic(count: int, days: float, start: float, seed: int = 1,
              spread: float = SPREAD) -> tuple[list[Source], dict[str, list[float]]]:
    """`count` sources polled every 300 s when fixed (two to a host for the most part) and their
    publication times over `days` from `start`: log-normal rates (median 0.5 an hour, `spread` the
    standard deviation of their logarithm), each following a daily cycle."""
    rng = random.Random(seed)
    sources, stories = [], {}
    for index in range(count):
        source = Source.model_validate({
            "id": f"s{index:03d}", "name": f"s{index}", "outlet": "O", "language": "en", "kind": "feed",
            "url": f"https://h{index * 2 // 3}.example/s{index}/rss"})
        base = math.exp(rng.gauss(math.log(0.5), spread))  # stories an hour, on average over the day
        peak = base * 1.9
        times, t = [], start
        while True:  # a Poisson process thinned by the daily cycle
            t += rng.expovariate(peak / HOUR)
            if t >= start + days * 86400:
                break
            hour = (t % 86400) / HOUR
            if rng.random() < (1 + 0.9 * math.sin(2 * math.pi * (hour - 9) / 24)) / 1.9:
                times.append(t)
        sources.append(source)
        stories[source.id] = times
    return sources, stories


def run(sources: list[Source], stories: dict[str, list[float]], start: float, end: float, adaptive: bool,
        budget: float, host_limit: float, seed: int = 2) -> Outcome:
    """Poll `sources` from `start` to `end`, each every `interval` or, `adaptive`, as planned for
    `budget` polls an hour on average; measure the second half."""
    rng = random.Random(seed)
    measure_from = start + (end - start) / 2
    # stories of the last max_interval may be seen by one schedule and not yet by the other: not measured
    measure_until = end - max((s.max_interval for s in sources), default=0)
    by_id = {s.id: s for s in sources}
    interval = {s.id: float(s.interval) for s in sources}
    fields: dict[str, dict[str, float]] = {s.id: defaultdict(float) for s in sources}
    last = dict.fromkeys(by_id, start)
    seen = dict.fromkeys(by_id, 0)
    version = dict.fromkeys(by_id, 0)
    events: list[tuple[float, int, str, int]] = []  # (time, kind 0 = replan 1 = poll, source, version)
    for source_id, every in interval.items():
        heapq.heappush(events, (start + rng.uniform(0, every), 1, source_id, 0))
    if adaptive:
        sources = [s.model_copy(update={"schedule": "adaptive"}) for s in sources]
        heapq.heappush(events, (start, 0, "", 0))
    delays: list[float] = []
    polls = 0
    per_host_hour: dict[tuple[str, int], int] = defaultdict(int)
    while events:
        at, kind, source_id, stamp = heapq.heappop(events)
        if at >= end:
            break
        if kind == 0:  # re-plan: the hour's rates from what each source's polls taught
            curves = {i: profile.curve(fields[i], at, 24) for i in by_id}
            for i, every in plan_for(sources, budget, host_limit, curves).intervals.items():
                interval[i] = every
                version[i] += 1
                heapq.heappush(events, (max(at, min(last[i] + every, at + every)), 1, i, version[i]))
            heapq.heappush(events, (at + REPLAN_SIMULATED, 0, "", 0))
            continue
        if stamp != version[source_id]:
            continue  # a poll re-planned since
        times = stories[source_id]
        first = seen[source_id]
        while seen[source_id] < len(times) and times[seen[source_id]] <= at:
            published = times[seen[source_id]]
            if measure_from <= published < measure_until:
                delays.append(at - published)
            seen[source_id] += 1
        if adaptive:
            for field, amount in profile.increments(seen[source_id] - first, at,
                                                    (at - last[source_id]) / HOUR).items():
                fields[source_id][field] += amount
        last[source_id] = at
        if at >= measure_from:
            polls += 1
            per_host_hour[(host_of(by_id[source_id]), int(at // HOUR))] += 1
        heapq.heappush(events, (at + interval[source_id], 1, source_id, version[source_id]))
    p50, p95 = (freshness.percentile(delays, q) if delays else 0.0 for q in (50, 95))
    return Outcome("adaptive" if adaptive else "fixed", len(delays), p50, p95,
                   polls / ((end - measure_from) / 86400), max(per_host_hour.values(), default=0))


def compare(sources: list[Source], stories: dict[str, list[float]], start: float, end: float,
            budget: float, host_limit: float) -> list[Outcome]:
    """The fixed intervals, then the adaptive schedule at `budget` polls an hour (on average)."""
    return [run(sources, stories, start, end, False, budget, host_limit),
            run(sources, stories, start, end, True, budget, host_limit)]


def bound(sources: list[Source], stories: dict[str, list[float]], start: float, end: float,
          budget: float, host_limit: float) -> float:
    """The least 95th percentile delay (seconds) a schedule of `budget` polls an hour could give the
    measured half's stories if it knew each source's rate for each hour of the day, taken from those
    stories themselves (adaptive.least_p95): the bound the adaptive schedule's tail is judged by."""
    measure_from = start + (end - start) / 2
    days = (end - measure_from) / 86400
    curves = {}
    for source in sources:
        curve = [0.0] * 24
        for t in stories.get(source.id, []):
            if measure_from <= t < end:
                curve[int(t % 86400 // HOUR)] += 1 / days
        curves[source.id] = curve
    adaptive = [s.model_copy(update={"schedule": "adaptive"}) for s in sources]
    # the curves are by hour of the day, UTC: a plan at midnight lays out the day from hour 0
    return least_p95(adaptive, budget, host_limit, curves)
