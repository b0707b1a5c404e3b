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


def observe(pipe: Any, source_id: str, new: int, at: float, span_hours: float) -> None:
    """Queue one observation on `pipe`: `new` stories found at `at` after `span_hours` without a poll."""
    span = min(max(span_hours, 0.0), MAX_SPAN)
    if span <= 0:
        return
    key = keys.source_profile(source_id)
    b = bucket(at)
    weight = _growth(at)
    pipe.hincrbyfloat(key, f"n{b}", new * weight)
    pipe.hincrbyfloat(key, f"h{b}", span * weight)


def rates(conn: redis.Redis, source_ids: list[str], at: float) -> dict[str, float]:
    """New stories an hour each source is expected to post in the hour of `at`."""
    pipe = conn.pipeline(transaction=False)
    for source_id in source_ids:
        pipe.hgetall(keys.source_profile(source_id))
    out = {}
    b = bucket(at)
    for source_id, raw in zip(source_ids, pipe.execute(), strict=True):
        fields = {k.decode(): float(v) for k, v in raw.items()}
        # the decay factor cancels in every ratio below: counts and hours carry the same weights
        total_n = sum(v for k, v in fields.items() if k.startswith("n"))
        total_h = sum(v for k, v in fields.items() if k.startswith("h"))
        if total_h <= 0:
            out[source_id] = PRIOR_RATE
            continue
        scale = 1.0 / _growth(at)
        mean = total_n / total_h
        # the hour of the day over every weekday (seven times the observations), smoothed towards the
        # source's mean; then the hour of this weekday, smoothed towards that
        same_hour = [f"{day * 24 + b % 24}" for day in range(7)]
        n_day = sum(fields.get(f"n{i}", 0.0) for i in same_hour) * scale
        h_day = sum(fields.get(f"h{i}", 0.0) for i in same_hour) * scale
        hour_of_day = (n_day + SMOOTHING * mean) / (h_day + SMOOTHING)
        n, h = fields.get(f"n{b}", 0.0) * scale, fields.get(f"h{b}", 0.0) * scale
        out[source_id] = (n + SMOOTHING * hour_of_day) / (h + SMOOTHING)
    return out
