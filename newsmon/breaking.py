"""Breaking stories: a story spreading across outlets, a topic surging over its usual hour.

- **Spread.** A cluster is breaking when `outlets` distinct outlets carried it within `minutes` of
  its first story. Each outlet counts once, at its first story in the cluster; a story's time is its
  publication time when the outlet gives one, else when it was fetched.
- **Surge.** Per topic, the new clusters of the last hour against the topic's usual count for that
  hour of the day (the mean over the previous 14 days). A surge starts when the count reaches the
  smallest k with a Poisson chance below 1 in 1,000 under the usual mean (and at least
  `SURGE_MINIMUM`); it ends when the count falls below that again. One event per start.

The decisions are pure functions of times (tests drive the clock). `Detector` applies them in memory
(`newsmon breaking --jsonl`, `newsmon backtest --breaking`); on Redis every process sees the same
sightings and counts: the workers record each story's sighting in its cluster as they archive it, the
alerts role counts new clusters per topic and decides, per desk, what is breaking (alerts/breaking.py).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from newsmon import keys
from newsmon.models import BreakingEvent, Sighting, Story, as_utc
from newsmon.redis_conn import acquire

SURGE_MINIMUM = 5  # new stories in an hour below which nothing is a surge
SURGE_CHANCE = 0.001  # a count this unlikely under the usual mean starts a surge
HOUR = 3600


def story_time(story: Story) -> datetime:
    """When a story appeared: its publication time when the outlet gives one, else its fetch time."""
    return as_utc(story.published or story.fetched)


def sighting_of(story: Story) -> Sighting:
    return Sighting(outlet=story.outlet, at=story_time(story), language=story.language, story_id=story.id,
                    title=story.title, url=story.url)


def spread(sightings: list[Sighting], outlets: int, minutes: int) -> list[Sighting] | None:
    """The outlets that make a cluster breaking (its first story's outlet first), or None: each outlet
    at its earliest story; breaking when `outlets` of them fall within `minutes` of the first."""
    first: dict[str, Sighting] = {}
    for sighting in sightings:
        if sighting.outlet not in first or sighting.at < first[sighting.outlet].at:
            first[sighting.outlet] = sighting
    ordered = sorted(first.values(), key=lambda s: s.at)
    if not ordered:
        return None
    window = ordered[0].at + timedelta(minutes=minutes)
    within = [s for s in ordered if s.at <= window]
    return within if len(within) >= outlets else None


def surge_threshold(usual: float, minimum: int = SURGE_MINIMUM, chance: float = SURGE_CHANCE) -> int:
    """The count of new stories in an hour that starts a surge, for a topic whose usual hour has `usual`."""
    rate = max(usual, 0.1)
    k, below = 0, 0.0  # below: P(X < k)
    term = math.exp(-rate)
    while 1.0 - below >= chance:
        below += term
        k += 1
        term *= rate / k
    return max(k, minimum)


def cluster_event(cluster: str, within: list[Sighting], at: datetime) -> BreakingEvent:
    minutes = (within[-1].at - within[0].at).total_seconds() / 60
    return BreakingEvent(kind="cluster", cluster=cluster, outlets=within, minutes=round(minutes, 1), at=at)


# --- in memory: the batch contract and the backtest ------------------------------------------------


@dataclass
class Detector:
    """Breaking events over a stream of stories in arrival order, with their own times as the clock."""

    outlets: int = 3
    minutes: int = 30
    surge: bool = True
    sightings: dict[str, list[Sighting]] = field(default_factory=lambda: defaultdict(list))
    fired: set[str] = field(default_factory=set)
    # per topic: its new clusters of the last two hours (time, story id), and its counts per hour since the
    # epoch (the usual hour is read from them, as on Redis)
    new_clusters: dict[str, list[tuple[datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    hourly: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    surging: dict[str, bool] = field(default_factory=dict)

    def add(self, cluster: str, sighting: Sighting, new_cluster: bool, topics: list[str],
            names: dict[str, str] | None = None) -> list[BreakingEvent]:
        """Take one story; returns the events it makes happen."""
        events = []
        self.sightings[cluster].append(sighting)
        if cluster not in self.fired:
            within = spread(self.sightings[cluster], self.outlets, self.minutes)
            if within is not None:
                self.fired.add(cluster)
                events.append(cluster_event(cluster, within, sighting.at))
        if self.surge and new_cluster:
            for topic in topics:
                events += self._surge(topic, sighting.at, sighting.story_id, (names or {}).get(topic))
        return events

    def recent(self, topic: str, now: datetime) -> list[str]:
        """The story ids of the topic's new clusters in the hour up to `now`."""
        return [story for at, story in self.new_clusters[topic] if now - timedelta(hours=1) < at <= now]

    def _surge(self, topic: str, now: datetime, story_id: str, name: str | None) -> list[BreakingEvent]:
        latest = self.new_clusters[topic]
        latest.append((now, story_id))
        latest[:] = [
            (at, story) for at, story in latest if at > now - timedelta(hours=2)
        ]  # bounded: recent only
        hour = int(now.timestamp() // HOUR)
        self.hourly[topic][hour] += 1
        count = len(self.recent(topic, now))
        usual = (
            sum(self.hourly[topic][hour - 24 * day] for day in range(1, keys.SURGE_DAYS + 1))
            / keys.SURGE_DAYS
        )
        threshold = surge_threshold(usual)
        if count >= threshold and not self.surging.get(topic):
            self.surging[topic] = True
            return [
                BreakingEvent(
                    kind="surge", topic=topic, topic_name=name, count=count, usual=round(usual, 2), at=now
                )
            ]
        if count < threshold:
            self.surging[topic] = False
        return []


# --- on Redis: what every worker agrees on -------------------------------------------------------

# keep an outlet's earliest story: set when absent or earlier (ARGV: outlet, ts, json)
_EARLIEST = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(cjson.decode(current)['ts']) > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return redis.call('HVALS', KEYS[1])
"""


def record_sighting(conn: Any, cluster: str, sighting: Sighting) -> Any:
    """Add a story's sighting to its cluster (each outlet at its earliest). On a pipeline the write is
    queued; on a connection it returns all the cluster's sightings (raw: `sightings` reads them)."""
    value = json.dumps(
        {**sighting.model_dump(mode="json"), "ts": sighting.at.timestamp()}, ensure_ascii=False
    )
    return conn.eval(_EARLIEST, 1, keys.breaking_sightings(cluster), sighting.outlet, sighting.at.timestamp(),
                     value, keys.BREAKING_TTL)


def sightings(conn: Any, cluster: str) -> list[Sighting]:
    """The cluster's sightings, each outlet at its earliest story."""
    return [Sighting.model_validate({k: v for k, v in json.loads(row).items() if k != "ts"})
            for row in conn.hvals(keys.breaking_sightings(cluster))]


def record_new_cluster(conn: Any, topic: str, cluster: str, at: datetime) -> tuple[int, float]:
    """Count a new cluster of the topic; returns (new clusters in the hour up to `at`, the usual count)."""
    stamp = at.timestamp()
    hour = int(stamp // HOUR)
    pipe = conn.pipeline(transaction=False)
    pipe.zadd(keys.surge_recent(topic), {cluster: stamp})
    pipe.zremrangebyscore(keys.surge_recent(topic), 0, stamp - 2 * HOUR)
    pipe.expire(keys.surge_recent(topic), 2 * HOUR)
    pipe.incr(keys.surge_hour(topic, hour))
    pipe.expire(keys.surge_hour(topic, hour), (keys.SURGE_DAYS + 1) * 86400)
    pipe.zcount(keys.surge_recent(topic), stamp - HOUR, "+inf")
    for day in range(1, keys.SURGE_DAYS + 1):
        pipe.get(keys.surge_hour(topic, hour - 24 * day))
    results = pipe.execute()
    count = int(results[5])
    usual = sum(int(v or 0) for v in results[6:]) / keys.SURGE_DAYS
    return count, usual


def surge_change(conn: Any, topic: str, count: int, usual: float, at: datetime) -> bool:
    """Whether a surge of the topic starts now (True once per start, whichever worker asks first);
    a count below the threshold ends a running surge."""
    if count >= surge_threshold(usual):
        return acquire(conn, keys.surge_active(topic), str(int(at.timestamp())), 6 * HOUR)
    conn.delete(keys.surge_active(topic))
    return False


def remember(conn: Any, event: BreakingEvent) -> None:
    """Keep the event for the web page's "spreading now" and /metrics."""
    stamp = event.at.timestamp()
    conn.zadd(keys.BREAKING_EVENTS, {event.model_dump_json(): stamp})
    conn.zremrangebyscore(keys.BREAKING_EVENTS, 0, stamp - keys.BREAKING_TTL)


# --- the batch contract and the backtest ---------------------------------------------------------


def event_record(
    event: BreakingEvent, names: dict[str, Any], stories: list[str] | None = None
) -> dict[str, Any]:
    """An event as one JSON line: {"kind", "cluster", "first_story", "topic", "outlets", "stories", "at"},
    story ids given by their input names where `names` has them."""
    if event.kind == "cluster":
        first = event.outlets[0].story_id
        return {
            "kind": "cluster",
            "cluster": names.get(event.cluster, event.cluster),
            "first_story": names.get(first, first),
            "topic": None,
            "outlets": [
                {"outlet": s.outlet, "at": s.at.isoformat(), "language": s.language} for s in event.outlets
            ],
            "stories": [names.get(s.story_id, s.story_id) for s in event.outlets],
            "minutes": event.minutes,
            "at": event.at.isoformat(),
        }
    return {"kind": "surge", "cluster": None, "first_story": None, "topic": event.topic, "outlets": [],
            "stories": [names.get(s, s) for s in stories or []], "count": event.count, "usual": event.usual,
            "at": event.at.isoformat()}
