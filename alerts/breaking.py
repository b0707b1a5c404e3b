"""Decision: which desks hear of a breaking event, once per desk and event: a story's cluster spread
across enough outlets within a desk's minutes (`breaking: {outlets, minutes}`), or a topic surging
(`breaking: {surge: true}`). The rules themselves are the kernel's (newsmon/breaking.py)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from rq import Queue, Retry

from newsmon import breaking, keys, stats
from newsmon.models import BreakingEvent, Sighting, Story, StoryAlert, TopicMatch, utcnow
from newsmon.redis_conn import acquire
from newsmon.serializer import JobSerializer
from newsmon.settings import Config

log = logging.getLogger(__name__)


def claim(conn: Any, desk_id: str, event: BreakingEvent) -> bool:
    """Claim the event for the desk: True for exactly one caller."""
    return acquire(conn, keys.breaking_fired(desk_id, event.key()), "1", keys.BREAKING_TTL)


def check_breaking(config: Config, conn: Any, story: Story, cluster: str, new_cluster: bool,
                   matches: list[TopicMatch], cluster_topics: list[str]) -> int:
    """Record the story for breaking detection and hand on the breaking alerts it makes due: its cluster
    now spread across enough outlets for a desk (once per desk and cluster), or a topic surging (once
    per desk and surge). Returns the number of desks alerted."""
    desks = {d: desk for d, desk in config.alerts.all_desks().items() if desk.breaking is not None}
    if not desks:
        return 0
    now = utcnow()
    topics = {t: config.keywords.topics[t].name for t in {*cluster_topics, *(m.topic for m in matches)}
              if t in config.keywords.topics}
    by_topic = {m.topic: m for m in matches}
    sightings = breaking.sightings(conn, cluster)  # the workers recorded this story's as they archived it
    alerts: dict[str, StoryAlert] = {}
    events: list[BreakingEvent] = []

    def follows(desk_topics: list[str], topic: str) -> bool:
        return "*" in desk_topics or topic in desk_topics

    def alert_for(desk_id: str, event: BreakingEvent, followed: list[str], first: Sighting) -> None:
        alerts[desk_id] = StoryAlert(
            story_id=first.story_id,
            cluster_id=cluster,
            title=first.title,
            url=first.url,
            outlet=first.outlet,
            affiliation=config.sources.outlet(first.outlet).affiliation,
            language=first.language,
            published=first.at,
            snippets=[],
            breaking=event,
            urgent=bool(desks[desk_id].breaking.urgent),
            topics=[by_topic.get(t) or TopicMatch(topic=t, name=topics[t], hits=[]) for t in followed],
        )

    for desk_id, desk in desks.items():
        assert desk.breaking is not None
        followed = [t for t in sorted(topics) if follows(desk.topics, t)]
        within = (
            breaking.spread(sightings, desk.breaking.outlets, desk.breaking.minutes) if followed else None
        )
        if within is None:
            continue
        event = breaking.cluster_event(cluster, within, now)
        if claim(conn, desk_id, event):
            alert_for(desk_id, event, followed, within[0])
            events.append(event)
    if new_cluster:
        for match in matches:
            count, usual = breaking.record_new_cluster(conn, match.topic, cluster, breaking.story_time(story))
            if not breaking.surge_change(conn, match.topic, count, usual, now):
                continue
            event = BreakingEvent(
                kind="surge",
                topic=match.topic,
                topic_name=topics.get(match.topic),
                count=count,
                usual=round(usual, 2),
                at=now,
            )
            events.append(event)
            for desk_id, desk in desks.items():
                if desk.breaking and desk.breaking.surge and follows(desk.topics, match.topic) \
                        and desk_id not in alerts and claim(conn, desk_id, event):
                    alert_for(desk_id, event, [match.topic], breaking.sighting_of(story))
    for event in {e.key(): e for e in events}.values():
        breaking.remember(conn, event)
        stats.count(conn, f"breaking:{event.kind}")
        log.info("breaking %s cluster=%s topic=%s desks=%s", event.kind, event.cluster, event.topic,
                 sorted(d for d, a in alerts.items() if a.breaking and a.breaking.key() == event.key()))
    if not alerts:
        return 0
    keep = config.job_keep_seconds
    signature = "|".join(f"{d}:{a.topic_key()}" for d, a in sorted(alerts.items()))
    Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer).enqueue(
        keys.ROUTE_STORY_JOB,
        {"alerts": {d: a.model_dump(mode="json") for d, a in alerts.items()}},
        job_id="route-" + hashlib.sha1(signature.encode()).hexdigest()[:32],
        result_ttl=keep,
        failure_ttl=keep,
        retry=Retry(max=config.alerts.retry.max, interval=config.alerts.retry.waits()),
        description=f"route breaking {sorted(alerts)}",
    )
    stats.count(conn, f"queue:{keys.ALERTS_QUEUE}:in")
    return len(alerts)
