"""RQ jobs of the `process` queue: normalize, dedupe, tag, archive, then enqueue one alert per route."""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from typing import Any

from rq import Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from newsmon import jobcontext, keys
from newsmon.models import Alert, Story, TopicMatch
from newsmon.settings import KEYWORDS_FILE, Config
from workers.archive import Archive, open_engine
from workers.dedupe import DedupeIndex, content_hash
from workers.matcher import Matcher

log = logging.getLogger(__name__)

SNIPPET_RADIUS = 120


_matchers: dict[str, Matcher] = {}


def matcher_for(config: Config) -> Matcher:
    """The compiled matcher of a config version, built once per process.

    Raises:
        ConfigError: an alias cannot be compiled.
    """
    if config.version not in _matchers:
        _matchers.clear()
        _matchers[config.version] = Matcher(config.keywords, source=str(config.directory / KEYWORDS_FILE))
    return _matchers[config.version]


@lru_cache(maxsize=4)
def _archive(url: str) -> Archive:
    return Archive(open_engine(url))


def snippet(story: Story, topics: list[TopicMatch], radius: int = SNIPPET_RADIUS) -> str:
    """The text around the first body hit (or the opening of the text), on word boundaries."""
    body_hits = [h for t in topics for h in t.hits if h.field == "text"]
    if not body_hits:
        return story.text[: 2 * radius].strip()
    first = min(body_hits, key=lambda h: h.start)
    start = max(0, first.start - radius)
    end = min(len(story.text), first.end + radius)
    while start > 0 and not story.text[start - 1].isspace():
        start += 1
    while end < len(story.text) and not story.text[end].isspace():
        end -= 1
    text = story.text[start:end].strip()
    return ("… " if start > 0 else "") + text + (" …" if end < len(story.text) else "")


def process_story(payload: dict[str, Any]) -> dict[str, Any]:
    """Job entry point of the `process` queue.

    Args:
        payload: a Story as JSON.
    Returns:
        what happened: dedupe kind (`new`, `url`, `exact`, `near`), cluster, topics, alerts enqueued.
    Raises:
        whatever storage raises, so RQ records it and retries; every step is safe to repeat.
    """
    ctx = jobcontext.current()
    story = Story.model_validate(payload)
    archive = _archive(ctx.archive_url)
    existing = archive.get(story.id)
    guid_key = f"{story.source_id}\n{story.feed_guid}" if story.feed_guid else None
    verdict = DedupeIndex(ctx.redis, ctx.config.pipeline.dedupe).check_and_add(story.id, story.text, guid_key)
    cluster, kind = verdict.cluster, verdict.kind
    if existing:  # the same URL again: an edit in place or a retried job; it stays in its cluster
        cluster, kind = existing["cluster_id"], "url"
    result = matcher_for(ctx.config).match(story.title, story.text, story.language)
    archive.store(story, result.matches, content_hash(story.title, story.text), ctx.config.version,
                  cluster_id=cluster, dedupe_kind=kind, duplicate_of=verdict.duplicate_of,
                  similarity=verdict.similarity)
    summary = archive.update_cluster(cluster)
    for topic, hits in result.suppressed.items():
        log.info("suppressed story=%s topic=%s by=%s", story.id, topic, [h.text for h in hits])
    fresh = claim_cluster_topics(ctx.config, ctx.redis, story.id, cluster, result.matches)
    others = len([o for o in summary["outlets"] if o != story.outlet])
    enqueued = enqueue_alerts(ctx.config, ctx.redis, story, fresh, cluster_id=cluster, also_reported_by=others)
    mark_alerted(ctx.redis, story.id, cluster, fresh)
    topics = [t.topic for t in result.matches]
    log.info("processed story=%s kind=%s cluster=%s members=%d topics=%s alerts=%d url=%s", story.id, kind,
             cluster, summary["member_count"], topics, enqueued, story.url)
    return {"kind": kind, "story": story.id, "cluster": cluster, "duplicate_of": verdict.duplicate_of,
            "topics": topics, "alerts": enqueued}


def claim_cluster_topics(config: Config, conn: Any, story_id: str, cluster: str,
                         topics: list[TopicMatch]) -> dict[str, list[TopicMatch]]:
    """Per route, the story's topics that no earlier story of its cluster alerted on.

    Each (route, cluster, topic) is claimed once with SET NX as "<story>:pending" and marked
    "<story>:done" once its alert job is enqueued; a retried job of the same story that finds its own
    pending claims (it died before enqueuing) still alerts, an edit of the story does not.
    """
    ttl = config.pipeline.dedupe.window_days * 86400
    pending = f"{story_id}:pending".encode()
    fresh: dict[str, list[TopicMatch]] = {}
    for route in config.alerts.routes:
        wanted = [t for t in topics if "*" in route.topics or t.topic in route.topics]
        for topic in wanted:
            key = keys.cluster_alert(route.id, cluster, topic.topic)
            if conn.set(key, pending, nx=True, ex=ttl) or conn.get(key) == pending:
                fresh.setdefault(route.id, []).append(topic)
    return fresh


def mark_alerted(conn: Any, story_id: str, cluster: str, fresh: dict[str, list[TopicMatch]]) -> None:
    """Turn this story's pending claims into done ones once its alert jobs are enqueued."""
    for route_id, topics in fresh.items():
        for topic in topics:
            conn.set(keys.cluster_alert(route_id, cluster, topic.topic), f"{story_id}:done", xx=True, keepttl=True)


def enqueue_alerts(config: Config, conn: Any, story: Story, fresh: dict[str, list[TopicMatch]],
                   cluster_id: str | None = None, also_reported_by: int = 0) -> int:
    """Enqueue one delivery job per (route, channel) for the routes with fresh topics.

    The job id is the delivery's idempotency key, so a story processed again (a retried job, an edit
    in place) finds its alert job and does not enqueue it twice.
    """
    if not fresh:
        return 0
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer)
    retry = config.alerts.retry
    keep = max(config.pipeline.dedupe.window_days, 30) * 86400  # the job id remembers the alert this long
    all_topics = [t for topics in fresh.values() for t in topics]
    text = snippet(story, all_topics)
    count = 0
    for route in config.alerts.routes:
        if route.id not in fresh:
            continue
        for channel_id in route.channels:
            alert = Alert(
                route_id=route.id,
                channel_id=channel_id,
                story_id=story.id,
                cluster_id=cluster_id or story.id,
                also_reported_by=also_reported_by,
                title=story.title,
                url=story.url,
                outlet=story.outlet,
                language=story.language,
                published=story.published,
                snippet=text,
                topics=fresh[route.id],
            )
            job_id = "alert-" + hashlib.sha1(alert.idempotency_key().encode()).hexdigest()[:32]
            if Job.exists(job_id, connection=conn):
                continue  # queued, sent or failed already: an edit or a retried job must not alert twice
            queue.enqueue(
                "alerts.jobs.deliver_alert",
                alert.model_dump(mode="json"),
                job_id=job_id,
                retry=Retry(max=retry.max, interval=retry.intervals),
                description=f"alert {alert.idempotency_key()}",
                result_ttl=keep,
                failure_ttl=keep,
            )
            count += 1
    return count
