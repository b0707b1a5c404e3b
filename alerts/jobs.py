"""RQ job of the `alerts` queue: deliver one alert through one channel, exactly once per route."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

from alerts.channels import append_outbox, build_email, print_console, send_apprise, send_email
from alerts.render import render_alert
from newsmon import jobcontext, keys
from newsmon.errors import DeliveryError
from newsmon.models import Alert
from newsmon.settings import AppriseChannel, Config, ConsoleChannel, EmailChannel, OutboxChannel

log = logging.getLogger(__name__)

DELIVERY_STATS = "newsmon:alerts:stats"  # hash of counters per channel; kept for good (admin totals)


def deliver_alert(payload: dict[str, Any]) -> str:
    """Job entry point of the `alerts` queue.

    The delivery is claimed in Redis (SET NX) before anything is sent. A send that fails releases the
    claim and raises, so RQ retries it later; a send that succeeds marks the claim `sent`. A worker
    that dies between claiming and marking leaves the claim `sending`: the retry then does not send
    again, preferring a missing duplicate to a double message.

    Args:
        payload: an Alert as JSON.
    Returns:
        `sent`, or why nothing was sent (`already-sent`, `in-doubt`).
    Raises:
        DeliveryError: the channel failed; RQ retries with backoff, then keeps the job as failed.
    """
    ctx = jobcontext.current()
    alert = Alert.model_validate(payload)
    claim_key = keys.alert_sent(alert.idempotency_key())
    claim = json.dumps({"state": "sending", "at": time.time()})
    if not ctx.redis.set(claim_key, claim, nx=True, ex=keys.ALERT_SENT_TTL):
        state = json.loads(ctx.redis.get(claim_key) or b"{}").get("state")
        if state == "sent":
            log.info("already sent key=%s", alert.idempotency_key())
            return "already-sent"
        log.warning("delivery in doubt, not sending again key=%s (an earlier attempt died mid-send)",
                    alert.idempotency_key())
        return "in-doubt"
    try:
        send(ctx.config, alert)
    except Exception:
        ctx.redis.delete(claim_key)
        _count(ctx.redis, alert.channel_id, "failed_attempts")
        raise
    ctx.redis.set(claim_key, json.dumps({"state": "sent", "at": time.time()}), ex=keys.ALERT_SENT_TTL)
    _count(ctx.redis, alert.channel_id, "sent")
    log.info("sent key=%s title=%r", alert.idempotency_key(), alert.title)
    return "sent"


def send(config: Config, alert: Alert) -> None:
    """Render and send an alert through its channel, with no idempotency (used by the job and tests)."""
    channel = config.alerts.channels.get(alert.channel_id)
    if channel is None:
        raise DeliveryError(f"channel {alert.channel_id!r} is not in alerts.yaml any more")
    rendered = render_alert(alert, config.directory / "templates")
    if isinstance(channel, EmailChannel):
        assert config.alerts.smtp is not None  # checked when the config was loaded
        send_email(build_email(alert, rendered, config.alerts.smtp, channel.to), config.alerts.smtp)
    elif isinstance(channel, AppriseChannel):
        send_apprise(channel, rendered)
    elif isinstance(channel, OutboxChannel):
        append_outbox(channel, alert, rendered, config.directory.parent)
    elif isinstance(channel, ConsoleChannel):
        print_console(channel, rendered)


def _count(conn: redis.Redis, channel_id: str, what: str) -> None:
    conn.hincrby(DELIVERY_STATS, f"{channel_id}:{what}", 1)
