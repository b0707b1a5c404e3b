"""RQ jobs of the `process` queue: normalize, dedupe, tag, archive, then enqueue one alert per route."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from rq import Queue, Retry
from rq.job import Job

from newsmon import jobcontext, keys, stats
from newsmon.models import BreakingEvent, Carrier, Sighting, Story, StoryAlert, TopicMatch, as_utc, utcnow
from newsmon.normalize import normalize
from newsmon.redis_conn import acquire
from newsmon.serializer import JobSerializer
from newsmon.settings import KEYWORDS_FILE, Config
from newsmon.snippets import excerpts
from newsmon.status import note_archive_failure, note_archive_ok
from newsmon.workers import breaking
from newsmon.workers.archive import Record, shared_archive, storage_failure
from newsmon.workers.dedupe import DedupeIndex, content_hash
from newsmon.workers.matcher import Matcher

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


_indexes: dict[tuple[int, str], DedupeIndex] = {}


def _dedupe_index(ctx: jobcontext.JobContext) -> DedupeIndex:
    """One index per connection and settings, so its generation cache lives across jobs."""
    key = (id(ctx.redis), ctx.config.pipeline.dedupe.model_dump_json())
    if key not in _indexes:
        _indexes[key] = DedupeIndex(ctx.redis, ctx.config.pipeline.dedupe)
    return _indexes[key]


def snippets(
    story: Story, topics: list[TopicMatch], radius: int = SNIPPET_RADIUS, most: int = 3
) -> list[str]:
    """The sentences around the body hits (up to `most` snippets, merged where they touch), or the
    opening of the text when every hit is in the title."""
    return excerpts(story.text, [(h.start, h.end) for t in topics for h in t.hits if h.field == "text"],
                    radius, most)


def process_story(payload: dict[str, Any]) -> dict[str, Any]:
    """Job entry point of the `process` queue for one story.

    Args:
        payload: a Story as JSON.
    Returns:
        what happened: dedupe kind (`new`, `url`, `exact`, `near`), cluster, topics, alerts enqueued.
    Raises:
        whatever validation or storage raises, so RQ records it and retries; every step is safe to repeat.
    """
    done, failed = _process_batch(jobcontext.current(), [payload])
    if failed:
        raise failed[0][1]
    return done[0]


def process_stories(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """Job entry point of the `process` queue for the stories of one poll (the crawler batches them,
    so RQ's cost per job, the round trip to the dedupe index and the archive's commit are paid once
    per batch, not per story).

    Stories are decided in order (a copy later in the batch joins an earlier one's cluster). A story
    that fails is handed to a job of its own (`process_story`, with the usual retries, and the failed
    registry if it keeps failing), so one bad story costs only itself; the rest are not repeated.

    Returns:
        {"stories": [what process_story returns, per story processed], "alone": [job ids handed on]}.
    Raises:
        what the dedupe index or the archive raises for the whole batch (Redis or the database
        unreachable, the commit refused): RQ retries the batch; every step is safe to repeat.
    """
    ctx = jobcontext.current()
    done, failed = _process_batch(ctx, payloads)
    alone = []
    for payload, exc in failed:
        story_id = str(payload.get("id", "?")) if isinstance(payload, dict) else "?"
        log.warning("story failed in a batch, retried in a job of its own: story=%s error=%s: %s", story_id,
                    type(exc).__name__, str(exc)[:300])
        alone.append(enqueue_alone(ctx, payload))
    return {"stories": done, "alone": alone}


def archive_history(ctx: jobcontext.JobContext, payloads: list[Any]) -> tuple[list[dict[str, Any]],
                                                                            list[tuple[Any, Exception]]]:
    """History (`newsmon import`, `newsmon backfill`) in the calling process: the same normalization,
    dedupe, topics and archive as a batch job; stories carry `history`, so nothing alerts."""
    return _process_batch(ctx, payloads)


def enqueue_alone(ctx: jobcontext.JobContext, payload: Any) -> str:
    """Enqueue one story as a `process_story` job (idempotent: a retried batch finds the job)."""
    body = json.dumps(payload, sort_keys=True, default=str)
    job_id = "process-" + hashlib.sha1(body.encode()).hexdigest()[:32]
    if not Job.exists(job_id, connection=ctx.redis):
        attempts, intervals = keys.PROCESS_RETRY
        Queue(keys.PROCESS_QUEUE, connection=ctx.redis, serializer=JobSerializer).enqueue(
            keys.PROCESS_STORY_JOB,
            payload,
            job_id=job_id,
            retry=Retry(max=attempts, interval=intervals),
            failure_ttl=keys.PROCESS_FAILURE_TTL,
            description=f"process {str(payload.get('id', '?'))[:40]} alone"
            if isinstance(payload, dict)
            else "process a malformed story",
        )
    return job_id


def _process_batch(ctx: jobcontext.JobContext, payloads: list[Any]) -> tuple[list[dict[str, Any]],
                                                                               list[tuple[Any, Exception]]]:
    """Tag, dedupe and archive stories, then hand on their alerts: (results, [(payload, error)]).

    Order of effects, so that a failure at any point is safe to retry: the dedupe index (a story the
    archive then refuses is taken back out), the archive (one transaction), then the alerts of the
    stories archived. Per-story failures are returned; failures of the batch as a whole are raised.
    """
    matcher = matcher_for(ctx.config)
    failed: list[tuple[Any, Exception]] = []
    ready: list[tuple[Story, Any, str, str | None]] = []
    sources: list[Any] = []  # the payload of each story in `ready`
    for payload in payloads:
        try:
            story = Story.model_validate(payload)
            norm = normalize(story.text)  # once, for the matcher, dedupe, the content hash and search
            normalized = norm.text.strip()
            ready.append((story, matcher.match(story.title, story.text, story.language, norm), normalized,
                          f"{story.source_id}\n{story.feed_guid}" if story.feed_guid else None))
            sources.append(payload)
        except Exception as exc:  # noqa: BLE001 - named in the story's own job
            failed.append((payload, exc))
    if not ready:
        return [], failed
    index = _dedupe_index(ctx)
    verdicts = index.check_and_add_many([(s.id, s.text, guid, norm) for s, _, norm, guid in ready])
    records = [
        Record(
            story,
            result.matches,
            content_hash(story.title, story.text, normalized),
            ctx.config.version,
            verdict.cluster,
            verdict.kind,
            verdict.duplicate_of,
            verdict.similarity,
            normalized,
        )
        for (story, result, normalized, _), verdict in zip(ready, verdicts)
    ]

    def take_back(which: list[int]) -> None:
        """Stories not archived leave the index, so no later copy points at a missing story."""
        for i in which:
            story, _, _, guid = ready[i]
            if verdicts[i].kind != "url":
                index.remove(story.id, story.text, guid)

    try:
        outcomes = shared_archive(ctx.archive_url).record_many(records)
    except BaseException as exc:
        take_back(list(range(len(ready))))
        if storage_failure(exc):
            note_archive_failure(ctx.redis, exc)
        raise
    refused = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Exception)]
    take_back(refused)
    failed += [(sources[i], outcomes[i]) for i in refused]  # type: ignore[misc]
    done = []
    pipe = ctx.redis.pipeline(transaction=False)
    storage = [outcomes[i] for i in refused if storage_failure(outcomes[i])]  # type: ignore[arg-type]
    if len(storage) == len(outcomes):
        note_archive_failure(ctx.redis, storage[0])  # nothing written: the database refuses every story
    elif len(refused) < len(outcomes):
        note_archive_ok(pipe)
    for (story, result, _, _), verdict, outcome in zip(ready, verdicts, outcomes):
        if isinstance(outcome, Exception):
            continue
        cluster, kind, summary = outcome
        for topic, hits in result.suppressed.items():
            log.info("suppressed story=%s topic=%s by=%s", story.id, topic, [h.text for h in hits])
        backlog = story.history is not None or backlog_age(ctx.config, story) is not None
        if backlog:
            fresh = {}
            hold_back(ctx.config, ctx.redis, story, result.matches)
        else:
            fresh = claim_cluster_topics(ctx.config, ctx.redis, story, cluster, result.matches)
        others = [o for o in summary["outlets"] if o != story.outlet]
        enqueued = hand_on(ctx.config, ctx.redis, story, fresh, cluster_id=cluster, also=others)
        mark_alerted(ctx.redis, story.id, cluster, fresh)
        if not backlog:
            enqueued += check_breaking(ctx.config, ctx.redis, story, cluster, kind == "new", result.matches,
                                       summary.get("topics") or [])
        topics = [t.topic for t in result.matches]
        stats.count(pipe, f"queue:{keys.PROCESS_QUEUE}:out")
        stats.count(pipe, "stories:processed")
        for topic in topics:
            stats.count(pipe, f"topic:{topic}")
        log.info(
            "processed story=%s kind=%s cluster=%s members=%d topics=%s alerts=%d url=%s",
            story.id,
            kind,
            cluster,
            summary["member_count"],
            topics,
            enqueued,
            story.url,
        )
        done.append(
            {
                "kind": kind,
                "story": story.id,
                "cluster": cluster,
                "duplicate_of": verdict.duplicate_of,
                "topics": topics,
                "alerts": enqueued,
            }
        )
    pipe.execute()
    return done, failed


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
    sightings = breaking.record_sighting(conn, cluster, breaking.sighting_of(story))
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
        if breaking.claim(conn, desk_id, event):
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
                        and desk_id not in alerts and breaking.claim(conn, desk_id, event):
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


def backlog_age(config: Config, story: Story, now: datetime | None = None) -> timedelta | None:
    """How old a story from a source's first poll is, when it is older than the alerts' limit
    (`first_poll_max_age_hours`): old news from the backlog, archived but not alerted. None otherwise."""
    limit = config.alerts.first_poll_max_age_hours
    if not story.first_poll or not limit or story.published is None:
        return None
    age = (now or utcnow()) - as_utc(story.published)
    return age if age > timedelta(hours=limit) else None


def hold_back(config: Config, conn: Any, story: Story, topics: list[TopicMatch]) -> None:
    """Record, for `newsmon explain`, that the desks following the story's topics were not alerted
    because it is old news from its source's first poll."""
    limit = config.alerts.first_poll_max_age_hours
    if story.history is not None:
        decision = f"not alerted: history taken by `newsmon {story.history}`"
        note = "archived with dedupe and topics; history never alerts"
    else:
        assert story.published is not None
        decision = "not alerted: old news from the source's first poll"
        note = (f"published {story.published.isoformat(timespec='minutes')}, more than {limit:g} h before it "
                f"was taken (first_poll_max_age_hours)")
    record = json.dumps({"decision": decision, "note": note, "at": utcnow().isoformat(timespec="seconds")})
    desks = [d for d, desk in config.alerts.all_desks().items()
             if any(desk.wants(t.topic, story.language, story.outlet) for t in topics)]
    if desks:
        conn.hset(keys.explain(story.id), mapping=dict.fromkeys(desks, record))
        conn.expire(keys.explain(story.id), config.pipeline.dedupe.window_days * 86400)
    log.info("not alerted story=%s: %s", story.id, decision.removeprefix("not alerted: "))


def claim_cluster_topics(config: Config, conn: Any, story: Story, cluster: str,
                         topics: list[TopicMatch]) -> dict[str, list[TopicMatch]]:
    """Per desk, the story's topics that the desk follows and no earlier story of its cluster sent it.

    Each (desk, cluster, topic) is claimed once with SET NX as "<story>:pending" and marked
    "<story>:done" once the alert is handed on; a retried job of the same story that finds its own
    pending claims (it died before handing on) still alerts, an edit of the story does not.
    """
    ttl = config.pipeline.dedupe.window_days * 86400
    pending = f"{story.id}:pending".encode()
    fresh: dict[str, list[TopicMatch]] = {}
    for desk_id, desk in config.alerts.all_desks().items():
        for topic in topics:
            if not desk.wants(topic.topic, story.language, story.outlet):
                continue
            key = keys.cluster_alert(desk_id, cluster, topic.topic)
            if acquire(conn, key, pending, ttl) or conn.get(key) == pending:
                fresh.setdefault(desk_id, []).append(topic)
    return fresh


def mark_alerted(conn: Any, story_id: str, cluster: str, fresh: dict[str, list[TopicMatch]]) -> None:
    """Turn this story's pending claims into done ones once its alerts are handed on."""
    for desk_id, topics in fresh.items():
        for topic in topics:
            conn.set(
                keys.cluster_alert(desk_id, cluster, topic.topic), f"{story_id}:done", xx=True, keepttl=True
            )


def hand_on(config: Config, conn: Any, story: Story, fresh: dict[str, list[TopicMatch]],
            cluster_id: str | None = None, also: list[str] | None = None) -> int:
    """Enqueue one `route_story` job (alerts queue) with the story as each desk should hear of it.

    The job id names the story and its fresh topics, so a story processed again (a retried job, an
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
            cluster_id=cluster_id or story.id,
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
