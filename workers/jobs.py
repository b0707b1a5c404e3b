"""RQ jobs of the `process` queue: normalize, tag, dedupe, archive, then hand the stories that carry
topics to the alerts role (one `decide_stories` job a batch), which decides everything about desks.

The stages live in their own modules: the matcher (matcher.py, `matcher_for`), the dedupe index
(dedupe.py, `shared_index`), the archive (archive.py, `shared_archive`); this module runs them in order.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from rq import Queue, Retry
from rq.job import Job

from newsmon import breaking, freshness, jobcontext, keys, stats
from newsmon.models import Story
from newsmon.normalize import normalize
from newsmon.serializer import JobSerializer
from newsmon.settings import Config
from newsmon.status import note_archive_failure, note_archive_ok
from newsmon.workers.archive import Record, shared_archive, storage_failure
from newsmon.workers.dedupe import content_hash, shared_index
from newsmon.workers.events import event_of, shared_events
from newsmon.workers.matcher import matcher_for

log = logging.getLogger(__name__)


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
    index = shared_index(ctx.redis, ctx.config.pipeline.dedupe)
    verdicts = index.check_and_add_many([(s.id, s.text, guid, norm) for s, _, norm, guid in ready])
    events = shared_events(ctx.redis, ctx.config.pipeline)
    assignments = [  # in order: a report later in the batch can join an event opened earlier in it
        event_of(events, story, verdict.cluster, verdict.kind, story.history is None and bool(result.matches))
        for (story, result, _, _), verdict in zip(ready, verdicts)
    ]
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
            assignment.event,
            assignment.evidence,
        )
        for (story, result, normalized, _), verdict, assignment in zip(ready, verdicts, assignments)
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
    handed = []
    for (story, result, _, _), verdict, outcome, assignment in zip(ready, verdicts, outcomes, assignments):
        if isinstance(outcome, Exception):
            continue
        cluster, kind, summary = outcome
        event = assignment.event if kind != "url" else events.copy_event(cluster)
        for topic, hits in result.suppressed.items():
            log.info("suppressed story=%s topic=%s by=%s", story.id, topic, [h.text for h in hits])
        if story.history is None:  # who carried the event when: breaking spreads are read from it
            breaking.record_sighting(pipe, event, breaking.sighting_of(story))
        if story.history is None and not story.first_poll and kind != "url":  # a backlog's delay is not ours
            freshness.record(pipe, story.source_id, story.id, "seen", story.published,
                             story.fetched.timestamp())
        cluster_topics = summary.get("topics") or []
        handing = story.history is None and bool(result.matches or cluster_topics)  # history never alerts
        if handing:
            handed.append({
                "story": story.model_dump(mode="json"), "cluster": cluster, "new_cluster": kind == "new",
                "event": event, "event_evidence": assignment.evidence,
                "also": [o for o in summary["outlets"] if o != story.outlet],
                "cluster_topics": cluster_topics,
                "topics": [m.model_dump(mode="json") for m in result.matches],
            })
        topics = [t.topic for t in result.matches]
        stats.count(pipe, f"queue:{keys.PROCESS_QUEUE}:out")
        stats.count(pipe, "stories:processed")
        for topic in topics:
            stats.count(pipe, f"topic:{topic}")
        log.info("processed story=%s kind=%s cluster=%s event=%s members=%d topics=%s url=%s", story.id, kind,
                 cluster, event, summary["member_count"], topics, story.url)
        done.append({"kind": kind, "story": story.id, "cluster": cluster, "event": event,
                     "duplicate_of": verdict.duplicate_of, "topics": topics, "language": story.language,
                     "outlet": story.outlet, "handed_on": handing})
    if handed:
        hand_on(ctx.config, ctx.redis, handed, pipe)
    pipe.execute()
    return done, failed


def hand_on(config: Config, conn: Any, stories: list[dict[str, Any]], counters: Any = None) -> str:
    """Hand processed stories to the alerts role: one `decide_stories` job, whose id names the stories
    and what they carry, so a retried batch finds its job instead of handing them on twice. The queue's
    counter goes on `counters` (a pipeline) when given."""
    body = json.dumps([(s["story"]["id"], s["cluster"], [t["topic"] for t in s["topics"]],
                        s["cluster_topics"]) for s in stories], sort_keys=True)
    job_id = "decide-" + hashlib.sha1(body.encode()).hexdigest()[:32]
    if not Job.exists(job_id, connection=conn):
        keep = config.job_keep_seconds
        _alerts_queue(conn).enqueue(
            keys.DECIDE_JOB, {"config_version": config.version, "stories": stories}, job_id=job_id,
            result_ttl=keep, failure_ttl=keep,
            retry=Retry(max=config.alerts.retry.max, interval=config.alerts.retry.waits()),
            description=f"decide {len(stories)} stories: "
                        f"{', '.join(s['story']['id'] for s in stories)[:200]}")
        stats.count(counters if counters is not None else conn, f"queue:{keys.ALERTS_QUEUE}:in")
    return job_id


_queues: dict[int, Queue] = {}


def _alerts_queue(conn: Any) -> Queue:
    """The alerts queue of a connection, made once per process."""
    if id(conn) not in _queues:
        _queues[id(conn)] = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer)
    return _queues[id(conn)]
