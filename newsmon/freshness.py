"""How late newsmon is: for each story, the delay from its publication (when the source gives one) to when
newsmon first saw it (the crawler fetched it) and to when its first alert went out; per source, the median
and 95th percentile over the last day and week, for `status --json`, the web pages and /metrics.

A source whose clock is off is flagged and left out of the figures: publication times in the future
(more than FUTURE_TOLERANCE after newsmon saw the story), or every recent publication at one time of
day to the second (dates without times, which feeds give as midnight).

Samples live in Redis, one sorted set per source and stage (score: when, member: story, publication
time and delay), trimmed to a week and to KEEP samples. Stories of a source's first poll (its backlog)
and history brought in by `import` or `backfill` are not samples: their delay is not newsmon's.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import redis

from newsmon import keys

DAY = 86400
WEEK = 7 * DAY
KEEP = 2000  # samples per source and stage: a source posting 12 an hour fills a week with 2,016
FUTURE_TOLERANCE = 300.0  # seconds a publication time may lie after the first sight (clocks drift)
SAME_TIME_AT_LEAST = 5  # recent publications all at one time of day, to the second: dates without times
STAGES = ("seen", "alert")
# the /metrics histogram's bucket bounds, seconds
BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)


def record(pipe: Any, source_id: str, story_id: str, stage: str, published: datetime | None,
           at: float) -> None:
    """Queue one sample on `pipe` (a Redis pipeline): `story_id` of `source_id` reached `stage` at `at`."""
    if published is None:
        return
    key = keys.freshness(source_id, stage)
    sent = published.timestamp()
    pipe.zadd(key, {f"{story_id}|{sent:.0f}|{at - sent:.1f}": at})
    pipe.zremrangebyscore(key, "-inf", at - WEEK)
    pipe.zremrangebyrank(key, 0, -KEEP - 1)
    pipe.expire(key, WEEK + DAY)


def record_alert(conn: redis.Redis, source_id: str | None, story_id: str, published: datetime | None,
                 at: float) -> None:
    """The story's first alert went out at `at` (later deliveries of it, to other desks or channels,
    are not samples)."""
    if source_id is None or published is None:
        return
    if conn.set(keys.freshness_alerted(story_id), "1", nx=True, ex=WEEK + DAY):
        with conn.pipeline(transaction=False) as pipe:
            record(pipe, source_id, story_id, "alert", published, at)
            pipe.execute()


def _samples(raw: list[tuple[bytes, float]]) -> list[tuple[float, float, float]]:
    out = []
    for member, at in raw:
        try:
            _, published, delay = member.decode().rsplit("|", 2)
            out.append((at, float(published), float(delay)))
        except ValueError:
            continue
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def clock_problem(seen: list[tuple[float, float, float]]) -> str | None:
    """Why a source's publication times cannot be trusted, or None."""
    recent = seen[-50:]
    ahead = [d for _, _, d in recent if d < -FUTURE_TOLERANCE]
    if ahead:
        return (f"publication times in the future: {len(ahead)} of the last {len(recent)} stories, "
                f"up to {-min(ahead) / 60:.0f} min ahead")
    if len(recent) >= SAME_TIME_AT_LEAST and len({int(p) % DAY for _, p, _ in recent}) == 1:
        at = int(recent[0][1]) % DAY
        return (f"every publication time of the last {len(recent)} stories is {at // 3600:02d}:"
                f"{at % 3600 // 60:02d}:{at % 60:02d} UTC: dates without times")
    return None


def _figures(samples: list[tuple[float, float, float]], now: float, window: float,
             histogram: bool = False) -> dict[str, Any]:
    delays = [max(0.0, d) for at, _, d in samples if now - at <= window]
    out: dict[str, Any] = {"n": len(delays), "p50": None, "p95": None}
    if delays:
        out.update(p50=round(percentile(delays, 50), 1), p95=round(percentile(delays, 95), 1))
    if histogram:  # cumulative counts at each of BUCKETS, as a Prometheus histogram has them
        out["histogram"] = {"le": list(BUCKETS), "counts": [sum(d <= b for d in delays) for b in BUCKETS],
                            "sum": round(sum(delays), 1)}
    return out


def read(conn: redis.Redis, source_ids: list[str], now: float | None = None) -> dict[str, dict[str, Any]]:
    """Per source: `seen` and `alert`, each {day: {n, p50, p95, histogram}, week: {n, p50, p95}}, and
    `clock`: why the source's figures are left out (empty), or None."""
    now = time.time() if now is None else now
    pipe = conn.pipeline(transaction=False)
    for source_id in source_ids:
        for stage in STAGES:
            pipe.zrangebyscore(keys.freshness(source_id, stage), now - WEEK, "+inf", withscores=True)
    raw = pipe.execute()
    out = {}
    for index, source_id in enumerate(source_ids):
        samples = {stage: _samples(raw[index * len(STAGES) + i]) for i, stage in enumerate(STAGES)}
        clock = clock_problem(samples["seen"])
        row: dict[str, Any] = {"clock": clock}
        for stage, found in samples.items():
            kept = [] if clock is not None else found
            row[stage] = {"day": _figures(kept, now, DAY, histogram=True), "week": _figures(kept, now, WEEK)}
        out[source_id] = row
    return out
