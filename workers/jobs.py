"""RQ jobs of the `process` queue: normalize, dedupe, tag, archive, then enqueue one alert per route."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from rq import Queue, Retry
from rq.serializers import JSONSerializer

from newsmon import jobcontext, keys
from newsmon.models import Alert, Story, TopicMatch
from newsmon.settings import KEYWORDS_FILE, Config
from workers.archive import Archive, open_engine
from workers.dedupe import claim, content_hash
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


def routes_for(config: Config, topics: list[TopicMatch]) -> list[tuple[str, str, list[TopicMatch]]]:
    """(route id, channel id, topics of that route) for every channel that must hear of the story."""
    out = []
    for route in config.alerts.routes:
        wanted = [t for t in topics if "*" in route.topics or t.topic in route.topics]
        if wanted:
            out.extend((route.id, channel, wanted) for channel in route.channels)
    return out


def process_story(payload: dict[str, Any]) -> dict[str, Any]:
    """Job entry point of the `process` queue.

    Args:
        payload: a Story as JSON.
    Returns:
        what happened: status (`new`, `updated`, `duplicate`), topics, alerts enqueued.
    Raises:
        whatever storage raises, so RQ records it and retries.
    """
    ctx = jobcontext.current()
    story = Story.model_validate(payload)
    text_hash = content_hash(story.title, story.text)
    duplicate_of = claim(ctx.redis, story, text_hash)
    result = matcher_for(ctx.config).match(story.title, story.text, story.language)
    archive = _archive(ctx.archive_url)
    is_new = archive.store(story, result.matches, text_hash, ctx.config.version, duplicate_of=duplicate_of)
    topics = [t.topic for t in result.matches]
    if duplicate_of:
        log.info("duplicate story=%s of=%s url=%s", story.id, duplicate_of, story.url)
        return {"status": "duplicate", "story": story.id, "duplicate_of": duplicate_of, "topics": topics}
    for topic, hits in result.suppressed.items():
        log.info("suppressed story=%s topic=%s by=%s", story.id, topic, [h.text for h in hits])
    enqueued = enqueue_alerts(ctx.config, ctx.redis, story, result.matches)
    log.info("processed story=%s new=%s topics=%s alerts=%d url=%s", story.id, is_new, topics, enqueued, story.url)
    return {"status": "new" if is_new else "updated", "story": story.id, "topics": topics, "alerts": enqueued}


def enqueue_alerts(config: Config, conn: Any, story: Story, topics: list[TopicMatch]) -> int:
    """Enqueue one delivery job per (route, channel); sending is made idempotent by the alert job."""
    targets = routes_for(config, topics)
    if not targets:
        return 0
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer)
    retry = config.alerts.retry
    text = snippet(story, topics)
    for route_id, channel_id, wanted in targets:
        alert = Alert(
            route_id=route_id,
            channel_id=channel_id,
            story_id=story.id,
            title=story.title,
            url=story.url,
            outlet=story.outlet,
            language=story.language,
            published=story.published,
            snippet=text,
            topics=wanted,
        )
        queue.enqueue(
            "alerts.jobs.deliver_alert",
            alert.model_dump(mode="json"),
            retry=Retry(max=retry.max, interval=retry.intervals),
            description=f"alert {alert.idempotency_key()}",
            failure_ttl=30 * 24 * 3600,
        )
    return len(targets)
