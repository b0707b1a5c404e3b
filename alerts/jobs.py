"""RQ jobs of the `alerts` queue: route a story to its desks, send digests, deliver through a channel.

    route_story   per desk: deliver now (instant), or hold for the desk's next digest (digest mode,
                  quiet hours, throttling), with a note saying why
    send_digest   gather a desk's held stories up to a slot and deliver them as one message a channel
    deliver       send one delivery through one channel, exactly once
    digests_due   start the digests that are due (the scheduler enqueues it while stories are held)
    notify_admins deliver a health problem that started or cleared on the admin channels

Delivery is at least once with an idempotency key claimed in Redis (SET NX) before anything is
sent: a failed send releases the claim and raises, so RQ retries with backoff; a send that succeeds
marks the claim `sent`; a worker that dies between sending and marking leaves the claim `sending`,
and the retry then does not send again, preferring a missing duplicate to a double message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis
from rq import Queue, Retry, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from newsmon import deliverylog, freshness, jobcontext, keys, stats
from newsmon.alerts import desks, translate
from newsmon.alerts.channels import (
    MessageRefused,
    append_outbox,
    build_email,
    print_console,
    send_apprise,
    send_email,
)
from newsmon.alerts.events import with_other_languages
from newsmon.alerts.render import render_delivery
from newsmon.errors import DeliveryError
from newsmon.models import Delivery, StoryAlert, utcnow
from newsmon.redis_conn import acquire
from newsmon.serializer import JobSerializer
from newsmon.settings import AppriseChannel, Config, ConsoleChannel, Desk, EmailChannel, OutboxChannel
from newsmon.status import note_delivery

log = logging.getLogger(__name__)



# --- routing --------------------------------------------------------------------------------------


def route_story(payload: dict[str, Any], now: datetime | None = None) -> dict[str, str]:
    """Job entry point: send each desk's alert now or hold it for the desk's digest.

    Args:
        payload: {"alerts": {desk id: StoryAlert as JSON}}.
        now: the time to decide by (tests); the current time otherwise.
    Returns:
        per desk, `instant` or `hold`.
    """
    ctx = jobcontext.current()
    now = now or utcnow()
    all_desks = ctx.config.alerts.all_desks()
    outcome = {}
    for desk_id, raw in payload["alerts"].items():
        desk = all_desks.get(desk_id)
        if desk is None:
            log.warning("alert for desk=%s dropped: the desk is no longer in alerts.yaml", desk_id)
            continue
        alert = StoryAlert.model_validate(raw)
        decision, note = desks.decide(ctx.redis, desk_id, desk, alert.urgent, now)
        if decision == desks.INSTANT:
            enqueue_deliveries(ctx.config, ctx.redis, desk_id, desk, "instant", [alert])
            desks.count_instant(ctx.redis, desk_id, desk, f"{alert.cluster_id}:{alert.topic_key()}", now)
        else:
            held = alert.model_copy(update={"note": note})
            ctx.redis.zadd(keys.desk_held(desk_id), {held.model_dump_json(): now.timestamp()})
            deliverylog.held(ctx.redis, desk_id, held, note or "the desk takes digests only")
        outcome[desk_id] = decision
        if decision != desks.INSTANT and note is None:
            note = "the desk takes digests only"
        record = {"decision": "sent at once" if decision == desks.INSTANT else "held for the next digest",
                  "note": note, "at": now.isoformat(timespec="seconds")}
        field = keys.explain_field(desk_id, alert.breaking is not None)
        ctx.redis.hset(keys.explain(alert.story_id), field, json.dumps(record))
        ctx.redis.expire(keys.explain(alert.story_id), ctx.config.pipeline.dedupe.window_days * 86400)
        log.info("routed story=%s desk=%s decision=%s%s", alert.story_id, desk_id, decision,
                 f" ({note})" if note else "")
    stats.count(ctx.redis, f"queue:{keys.ALERTS_QUEUE}:out")
    return outcome


def enqueue_deliveries(config: Config, conn: redis.Redis, desk_id: str, desk: Desk, kind: str,
                       items: list[StoryAlert], slot: datetime | None = None,
                       health: dict[str, str] | None = None) -> int:
    """One `deliver` job per channel of the desk; the job id is the delivery's idempotency key, so
    the same delivery is never enqueued twice. Returns the number enqueued."""
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer)
    retry = config.alerts.retry
    keep = config.job_keep_seconds
    count = 0
    dressed = False
    for channel_id in desk.channels:
        delivery = Delivery(desk_id=desk_id, channel_id=channel_id, kind=kind, items=items,  # type: ignore[arg-type]
                            timezone=desk.timezone, slot=slot, health=health)
        job_id = "deliver-" + hashlib.sha1(delivery.idempotency_key().encode()).hexdigest()[:32]
        if Job.exists(job_id, connection=conn):
            continue
        if not dressed and items:  # the desk's glosses, once for all its channels (the key does not change)
            items, dressed = translate.dress(config.pipeline.translate, conn, desk, items), True
            delivery = delivery.model_copy(update={"items": items})
        queue.enqueue(keys.DELIVER_JOB, delivery.model_dump(mode="json"), job_id=job_id,
                      retry=Retry(max=retry.max, interval=retry.waits()), result_ttl=keep, failure_ttl=keep,
                      description=f"deliver {delivery.idempotency_key()}")
        count += 1
    if count:
        stats.count(conn, f"queue:{keys.ALERTS_QUEUE}:in", count)
    return count


def notify_admins(notice: dict[str, str]) -> int:
    """Job entry point: one `deliver` job per admin channel for a health notice (`newsmon.health` hands
    it on: {"id", "state", "message", "at"}). Returns the number enqueued."""
    ctx = jobcontext.current()
    channels = ctx.config.alerts.admin.channels
    if not channels:
        return 0
    admins = Desk(channels=channels, topics=["*"])
    return enqueue_deliveries(ctx.config, ctx.redis, ADMIN_DESK, admins, "health", [], health=notice)


ADMIN_DESK = "admin"  # the desk id health notices are delivered as


# --- digests --------------------------------------------------------------------------------------


def digest_tick(config: Config, conn: redis.Redis, now: datetime | None = None) -> list[tuple[str, datetime]]:
    """Enqueue `send_digest` for every desk whose digest is due (run as `digests_due`, which the
    scheduler enqueues while a desk holds stories). Returns the (desk, slot) pairs enqueued."""
    now = now or utcnow()
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer)
    started = []
    for desk_id, desk in config.alerts.all_desks().items():
        oldest = conn.zrange(keys.desk_held(desk_id), 0, 0, withscores=True)
        if not oldest:
            continue
        held_since = datetime.fromtimestamp(oldest[0][1], tz=now.tzinfo)
        last = conn.get(keys.desk_last_digest(desk_id))
        last_slot = datetime.fromtimestamp(float(last), tz=now.tzinfo) if last else None
        slot = desks.due_slot(desk, held_since, last_slot, now)
        if slot is None:
            continue
        job_id = f"digest-{desk_id}-{int(slot.timestamp())}".replace(".", "_")
        if not Job.exists(job_id, connection=conn):
            queue.enqueue(keys.SEND_DIGEST_JOB, desk_id, slot.isoformat(), job_id=job_id,
                          description=f"digest {desk_id} {slot.isoformat()}")
        conn.set(keys.desk_last_digest(desk_id), slot.timestamp())
        started.append((desk_id, slot))
    return started


def digests_due() -> list[list[str]]:
    """Job entry point: `digest_tick` with the live config (the scheduler enqueues it every DIGEST_CHECK s
    while some desk holds stories). Returns the (desk, slot) pairs started."""
    ctx = jobcontext.current()
    return [[desk_id, slot.isoformat()] for desk_id, slot in digest_tick(ctx.config, ctx.redis)]


def _record_digest(
    config: Config, conn: redis.Redis, desk_id: str, items: list[StoryAlert], slot: datetime
) -> None:
    """Tell `newsmon explain` which digest each held story went out in, and when."""
    ttl = config.pipeline.dedupe.window_days * 86400
    sent = utcnow().isoformat(timespec="seconds")
    for item in items:
        key = keys.explain(item.story_id)
        field = keys.explain_field(desk_id, item.breaking is not None)
        raw = conn.hget(key, field)
        record = json.loads(raw) if raw else {"decision": "held for the next digest", "note": item.note}
        record.update(
            {"digest": slot.isoformat(timespec="seconds"), "digest_stories": len(items), "digest_sent": sent}
        )
        conn.hset(key, field, json.dumps(record))
        conn.expire(key, ttl)


def send_digest(desk_id: str, slot_iso: str) -> int:
    """Job entry point: deliver the desk's held stories up to the slot as one digest per channel.

    Returns:
        the number of stories in the digest.
    """
    ctx = jobcontext.current()
    desk = ctx.config.alerts.all_desks().get(desk_id)
    slot = datetime.fromisoformat(slot_iso)
    members = ctx.redis.zrangebyscore(keys.desk_held(desk_id), "-inf", slot.timestamp())
    if desk is None or not members:
        return 0
    items = [with_other_languages(ctx.redis, StoryAlert.model_validate_json(m)) for m in members]
    items.sort(key=lambda a: (a.published or a.received, a.received))
    enqueue_deliveries(ctx.config, ctx.redis, desk_id, desk, "digest", items, slot=slot)
    ctx.redis.zrem(keys.desk_held(desk_id), *members)
    _record_digest(ctx.config, ctx.redis, desk_id, items, slot)
    log.info("digest desk=%s slot=%s stories=%d", desk_id, slot_iso, len(items))
    return len(items)


# --- delivery -------------------------------------------------------------------------------------


def deliver(payload: dict[str, Any]) -> str:
    """Job entry point: send one delivery through its channel, exactly once.

    Args:
        payload: a Delivery as JSON.
    Returns:
        `sent`, or why nothing was sent (`already-sent`, `in-doubt`, `refused`: the message as written
        would not carry the headers newsmon set, so it is never sent).
    Raises:
        DeliveryError: the channel failed; RQ retries with backoff, then keeps the job as failed.
    """
    ctx = jobcontext.current()
    delivery = Delivery.model_validate(payload)
    claim_key = keys.alert_sent(delivery.idempotency_key())
    claim = json.dumps({"state": "sending", "at": time.time()})
    if not acquire(ctx.redis, claim_key, claim, keys.ALERT_SENT_TTL):
        state = json.loads(ctx.redis.get(claim_key) or b"{}").get("state")
        if state in ("sent", "refused"):
            log.info("already %s key=%s", state, delivery.idempotency_key())
            return "already-sent" if state == "sent" else "refused"
        log.warning("delivery in doubt, not sending again key=%s (an earlier attempt died mid-send)",
                    delivery.idempotency_key())
        deliverylog.delivered(ctx.redis, delivery, "in-doubt", "an earlier attempt died mid-send")
        return "in-doubt"
    try:
        send(ctx.config, delivery)
    except MessageRefused as exc:  # retrying would write the same message: it is not sent, and said so
        ctx.redis.set(claim_key, json.dumps({"state": "refused", "at": time.time(), "error": str(exc)[:500]}),
                      ex=keys.ALERT_SENT_TTL)
        stats.count(ctx.redis, f"alerts:{delivery.channel_id}:refused")
        deliverylog.delivered(ctx.redis, delivery, "refused", str(exc)[:300])
        log.error("delivery refused key=%s: %s", delivery.idempotency_key(), exc)
        return "refused"
    except Exception as exc:
        ctx.redis.delete(claim_key)
        stats.count(ctx.redis, f"alerts:{delivery.channel_id}:retried")
        note_delivery(ctx.redis, delivery.channel_id, exc)
        # one line per attempt; RQ's traceback of an expected DeliveryError is shown only at DEBUG (logs.py)
        log.warning("delivery failed channel=%s key=%s %s: %s", delivery.channel_id,
                    delivery.idempotency_key(), attempt_of(get_current_job()), exc)
        raise
    ctx.redis.set(claim_key, json.dumps({"state": "sent", "at": time.time()}), ex=keys.ALERT_SENT_TTL)
    stats.count(ctx.redis, f"alerts:{delivery.channel_id}:sent")
    stats.count(ctx.redis, f"queue:{keys.ALERTS_QUEUE}:out")
    deliverylog.delivered(ctx.redis, delivery, "sent")
    if delivery.kind == "instant":  # a digest's delay is the desk's choice, not newsmon's
        sent_at = time.time()
        for item in delivery.items:
            if item.breaking is None:
                freshness.record_alert(ctx.redis, item.source_id, item.story_id, item.published, sent_at)
    log.info("sent key=%s items=%d", delivery.idempotency_key(), len(delivery.items))
    if note_delivery(ctx.redis, delivery.channel_id, None):
        flush_waiting(ctx.redis, delivery.channel_id)
    return "sent"


def attempt_of(job: Job | None) -> str:
    """`attempt n of m, next retry in s s` (or `, no retry left: kept as failed`) for a job enqueued with
    RQ's Retry, from its public `retries_left` and `retry_intervals` (one interval per retry, as
    AlertRetry.waits gives them); RQ takes one retry off after this attempt fails."""
    if job is None or not job.retry_intervals:
        return "attempt 1 of 1, no retry"
    total = len(job.retry_intervals) + 1
    left = job.retries_left or 0
    attempt = total - left
    if left <= 0:
        return f"attempt {attempt} of {total}, no retry left: kept as failed (`newsmon alerts failed`)"
    return f"attempt {attempt} of {total}, next retry in {job.retry_intervals[total - 1 - left]} s"


def flush_waiting(conn: redis.Redis, channel_id: str) -> list[str]:
    """A channel works again after failures: its deliveries waiting for a retry are run now rather than at
    their next retry (up to the retry interval later), and those that ran out of retries during the
    outage are requeued, so nobody has to `failed requeue` them. Each delivery is claimed before it is
    sent, so a job that runs twice sends once. Returns the job ids moved."""
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JobSerializer)
    moved = []
    for failed, registry in ((False, queue.scheduled_job_registry), (True, queue.failed_job_registry)):
        for job_id in registry.get_job_ids():
            if not job_id.startswith("deliver-"):
                continue
            try:
                job = Job.fetch(job_id, connection=conn, serializer=JobSerializer)
            except NoSuchJobError:
                continue
            payload = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
            if payload.get("channel_id") != channel_id:
                continue
            try:
                if failed:
                    registry.requeue(job_id)
                else:
                    registry.schedule(job, datetime.now(UTC))  # the worker's scheduler runs it in a second
            except InvalidJobOperation:
                continue  # another worker moved it first
            moved.append(job_id)
    if moved:
        log.info("channel %s works again: %d waiting deliveries sent now", channel_id, len(moved))
    return moved


def send(config: Config, delivery: Delivery) -> None:
    """Render and send a delivery through its channel, without idempotency (the job, tests, `alerts test`).

    Raises:
        DeliveryError: the channel is unknown or failed.
    """
    channel = config.alerts.channels.get(delivery.channel_id)
    if channel is None:
        raise DeliveryError(f"channel {delivery.channel_id!r} is not in alerts.yaml any more")
    rendered = render_delivery(delivery, config.directory / "templates")
    if isinstance(channel, EmailChannel):
        assert config.alerts.smtp is not None  # checked when the config was loaded
        send_email(build_email(delivery, rendered, config.alerts.smtp, channel.to), config.alerts.smtp)
    elif isinstance(channel, AppriseChannel):
        send_apprise(channel, rendered)
    elif isinstance(channel, OutboxChannel):
        append_outbox(channel, delivery, rendered, config.directory.parent)
    elif isinstance(channel, ConsoleChannel):
        print_console(channel, rendered)
