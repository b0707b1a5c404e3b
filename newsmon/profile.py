"""Each source's posting profile: new stories per hour of the week, decayed over weeks, kept in Redis.

The crawler observes every successful poll: the new stories it found, and the hours since the source's
previous poll, both in the hour of the week the poll ended. The scheduler reads the rate (new stories
an hour) of the hour now: that hour of this weekday, smoothed towards that hour of every weekday, itself
smoothed towards the source's mean, so that an hour seen once does not decide alone; and spends the
request budget by it (scheduler/adaptive.py).

Decay without rewriting: a sample at time t is stored multiplied by 2 ** ((t - EPOCH) / HALF_LIFE) and
read divided by the same factor at the time of reading, so old weeks weigh half as much every HALF_LIFE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis

from newsmon import keys

HALF_LIFE = 14 * 86400.0  # seconds after which a week's observations count half
EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
HOURS = 168
MAX_SPAN = 2.0  # hours a single poll can vouch for: a longer gap says little about each of its hours
PRIOR_RATE = 0.5  # new stories an hour assumed for a source with no observation yet
SMOOTHING = 1.0  # hours of the broader rate mixed into a narrower one (weekday hour < day hour < mean)


def bucket(at: float) -> int:
    """The hour of the week (0 = Monday 00:00 UTC) of a Unix time."""
    moment = datetime.fromtimestamp(at, tz=UTC)
    return moment.weekday() * 24 + moment.hour


def _growth(at: float) -> float:
    return 2.0 ** ((at - EPOCH) / HALF_LIFE)


def increments(new: int, at: float, span_hours: float) -> dict[str, float]:
    """The profile fields one observation adds to: `new` stories found at `at` after `span_hours`
    without a poll (none when the span says nothing)."""
    span = min(max(span_hours, 0.0), MAX_SPAN)
    if span <= 0:
        return {}
    b = bucket(at)
    weight = _growth(at)
    return {f"n{b}": new * weight, f"h{b}": span * weight}


def observe(pipe: Any, source_id: str, new: int, at: float, span_hours: float) -> None:
    """Queue one observation on `pipe` (a Redis pipeline)."""
    for field, amount in increments(new, at, span_hours).items():
        pipe.hincrbyfloat(keys.source_profile(source_id), field, amount)


def rate(fields: dict[str, float], at: float) -> float:
    """New stories an hour a source with these profile fields is expected to post in the hour of `at`."""
    return curve(fields, at, 1)[0]


def curve(fields: dict[str, float], at: float, hours: int) -> list[float]:
    """`rate` for the hour of `at` and the `hours` - 1 hours after it."""
    # the decay factor cancels in the mean: counts and hours carry the same weights
    total_n = sum(v for k, v in fields.items() if k.startswith("n"))
    total_h = sum(v for k, v in fields.items() if k.startswith("h"))
    if total_h <= 0:
        return [PRIOR_RATE] * hours
    scale = 1.0 / _growth(at)
    mean = total_n / total_h
    out = []
    for step in range(hours):
        b = bucket(at + step * 3600)
        # the hour of the day over every weekday (seven times the observations), smoothed towards the
        # source's mean; then the hour of this weekday, smoothed towards that
        same_hour = [day * 24 + b % 24 for day in range(7)]
        n_day = sum(fields.get(f"n{i}", 0.0) for i in same_hour) * scale
        h_day = sum(fields.get(f"h{i}", 0.0) for i in same_hour) * scale
        hour_of_day = (n_day + SMOOTHING * mean) / (h_day + SMOOTHING)
        n, h = fields.get(f"n{b}", 0.0) * scale, fields.get(f"h{b}", 0.0) * scale
        out.append((n + SMOOTHING * hour_of_day) / (h + SMOOTHING))
    return out


def rates(conn: redis.Redis, source_ids: list[str], at: float, hours: int = 1) -> dict[str, list[float]]:
    """New stories an hour each source is expected to post in the hour of `at` and the `hours` - 1
    after it, from Redis."""
    pipe = conn.pipeline(transaction=False)
    for source_id in source_ids:
        pipe.hgetall(keys.source_profile(source_id))
    return {source_id: curve({k.decode(): float(v) for k, v in raw.items()}, at, hours)
            for source_id, raw in zip(source_ids, pipe.execute(), strict=True)}
