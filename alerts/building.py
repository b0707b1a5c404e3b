"""Decision: what each desk is told of a story (its topics for the desk, the snippets around their hits,
who else carried it, urgency), handed to `route_story` once per story and set of topics."""

from __future__ import annotations

import hashlib
from typing import Any

from rq import Queue, Retry
from rq.job import Job

from newsmon import keys, stats
from newsmon.models import Carrier, Story, StoryAlert, TopicMatch
from newsmon.serializer import JobSerializer
from newsmon.settings import Config
from newsmon.snippets import excerpts

SNIPPET_RADIUS = 120


def snippets(
    story: Story, topics: list[TopicMatch], radius: int = SNIPPET_RADIUS, most: int = 3
) -> list[str]:
    """The sentences around the body hits (up to `most` snippets, merged where they touch), or the
    opening of the text when every hit is in the title."""
    return excerpts(story.text, [(h.start, h.end) for t in topics for h in t.hits if h.field == "text"],
                    radius, most)


def hand_on(config: Config, conn: Any, story: Story, fresh: dict[str, list[TopicMatch]],
            cluster_id: str | None = None, also: list[str] | None = None,
            event_id: str | None = None) -> int:
    """Enqueue one `route_story` job (alerts queue) with the story as each desk should hear of it.

    The job id names the story and its fresh topics, so a story decided again (a retried job, an
    edit in place) finds its job and does not hand it on twice. Returns the number of desks.
    """
    if not fresh:
        return 0
    urgent_topics = {t for t, topic in config.keywords.topics.items() if topic.urgent}
    texts = snippets(story, [t for topics in fresh.values() for t in topics])
    carriers = [Carrier(outlet=o, affiliation=config.sources.outlet(o).affiliation) for o in also or []]
    alerts = {}
    for desk_id, topics in fresh.items():
        desk_texts = snippets(story, topics) if len(fresh) > 1 else texts
        alerts[desk_id] = StoryAlert(
            story_id=story.id,
            source_id=story.source_id,
            cluster_id=cluster_id or story.id,
            event_id=event_id,
            also_reported_by=len(carriers),
            also=carriers,
            title=story.title,
            url=story.url,
            outlet=story.outlet,
            language=story.language,
            affiliation=config.sources.outlet(story.outlet).affiliation,
            published=story.published,
            snippets=desk_texts,
            topics=topics,
            urgent=any(t.topic in urgent_topics for t in topics),
        ).model_dump(mode="json")
    signature = (
        story.id
        + "|"
        + "|".join(f"{d}:{'+'.join(sorted(t.topic for t in ts))}" for d, ts in sorted(fresh.items()))
    )
    job_id = "route-" + hashlib.sha1(signature.encode()).hexdigest()[:32]
    if Job.exists(job_id, connection=conn):
        return 0
    keep = config.job_keep_seconds
    Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer).enqueue(
        keys.ROUTE_STORY_JOB, {"alerts": alerts}, job_id=job_id, result_ttl=keep, failure_ttl=keep,
        retry=Retry(max=config.alerts.retry.max, interval=config.alerts.retry.waits()),
        description=f"route {story.id} to {sorted(fresh)}",
    )
    stats.count(conn, f"queue:{keys.ALERTS_QUEUE}:in")
    return len(fresh)
