"""What was sent, held or refused, for the archive's delivery log (`newsmon alerts sent`, `explain`).

The alerts role writes one row per story of each delivery, hold and refusal to a Redis list (it does
not open the archive); the scheduler's leader moves them into the archive's `deliveries` table every
few seconds (workers/archive.py `drain_delivery_log`), and the commands that read the log move what is
waiting first. Redis stays the source of the once-only claims; the archive keeps the record.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from newsmon import keys
from newsmon.models import Delivery, StoryAlert


def _row(at: float, desk: str, channel: str | None, mode: str, outcome: str, item: StoryAlert | None,
         key: str | None = None, slot: str | None = None, note: str | None = None) -> dict[str, Any]:
    return {
        "at": at, "desk": desk, "channel": channel, "mode": mode, "outcome": outcome, "key": key,
        "slot": slot, "note": note if note is not None else (item.note if item else None),
        "story_id": item.story_id if item else None, "cluster_id": item.cluster_id if item else None,
        "topics": [t.topic for t in item.topics] if item else [],
        "title": item.title if item else None, "url": item.url if item else None,
        "outlet": item.outlet if item else None, "language": item.language if item else None,
    }


def mode_of(delivery: Delivery) -> str:
    """instant, digest, breaking, test or health."""
    if delivery.kind == "instant" and delivery.items and delivery.items[0].breaking is not None:
        return "breaking"
    return delivery.kind


def delivered(conn: redis.Redis, delivery: Delivery, outcome: str, note: str | None = None) -> None:
    """A delivery's outcome (sent, refused, in-doubt), one row per story (one row for a health alert)."""
    now = time.time()
    slot = delivery.slot.isoformat() if delivery.slot else None
    items: list[StoryAlert | None] = list(delivery.items) or [None]
    if delivery.kind == "health" and delivery.health:
        note = note or delivery.health.get("message")
    rows = [_row(now, delivery.desk_id, delivery.channel_id, mode_of(delivery), outcome, item,
                 delivery.idempotency_key(), slot, note) for item in items]
    conn.rpush(keys.DELIVERY_LOG, *[json.dumps(r, ensure_ascii=False) for r in rows])


def held(conn: redis.Redis, desk_id: str, alert: StoryAlert, note: str | None) -> None:
    """A story held for the desk's next digest, and why."""
    mode = "breaking" if alert.breaking is not None else "instant"
    conn.rpush(keys.DELIVERY_LOG, json.dumps(_row(time.time(), desk_id, None, mode, "held", alert, note=note),
                                             ensure_ascii=False))
