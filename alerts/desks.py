"""What a desk gets and when: topic, language and outlet filters; quiet hours; throttling; digest slots.

Every function takes the time as an argument, so tests drive the clock instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import redis
from apscheduler.triggers.cron import CronTrigger

from newsmon import keys
from newsmon.settings import Desk

INSTANT, HOLD = "instant", "hold"


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(desk: Desk, now: datetime) -> bool:
    """Whether `now` falls in the desk's quiet hours (in its time zone; the span may cross midnight)."""
    if desk.quiet_hours is None:
        return False
    local = now.astimezone(ZoneInfo(desk.timezone)).time()
    start, end = _clock(desk.quiet_hours.start), _clock(desk.quiet_hours.end)
    return start <= local < end if start <= end else (local >= start or local < end)


def quiet_end(desk: Desk, now: datetime) -> datetime:
    """When the quiet hours running at `now` end."""
    assert desk.quiet_hours is not None
    zone = ZoneInfo(desk.timezone)
    local = now.astimezone(zone)
    end = _clock(desk.quiet_hours.end)
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate




def decide(
    conn: redis.Redis, desk_id: str, desk: Desk, urgent: bool, now: datetime
) -> tuple[str, str | None]:
    """Send now (`instant`) or hold for the next digest (`hold`, with the note saying why)."""
    if desk.mode == "digest":
        return HOLD, None
    if urgent:
        return INSTANT, None
    if in_quiet_hours(desk, now):
        assert desk.quiet_hours is not None
        return HOLD, f"held during quiet hours ({desk.quiet_hours.start}-{desk.quiet_hours.end})"
    if desk.throttle is not None:
        key = keys.desk_instant(desk_id)
        window = desk.throttle.window_minutes * 60
        stamp = now.timestamp()
        conn.zremrangebyscore(key, 0, stamp - window)
        if conn.zcard(key) >= desk.throttle.max:
            return HOLD, (f"throttled: over the desk's limit of {desk.throttle.max} alerts "
                          f"per {desk.throttle.window_minutes} min")
    return INSTANT, None


def count_instant(conn: redis.Redis, desk_id: str, desk: Desk, member: str, now: datetime) -> None:
    """Count an instant alert towards the desk's throttle."""
    if desk.throttle is None:
        return
    key = keys.desk_instant(desk_id)
    conn.zadd(key, {member: now.timestamp()})
    conn.expire(key, desk.throttle.window_minutes * 60 + 60)


def next_digest(desk: Desk, now: datetime) -> datetime:
    """When the desk's next digest goes out after `now`: its `digest_schedule`'s next slot, or for an
    instant desk in quiet hours their end if that comes first (what `due_slot` will pick)."""
    trigger = CronTrigger.from_crontab(desk.digest_schedule, timezone=ZoneInfo(desk.timezone))
    slot = trigger.get_next_fire_time(None, now)
    assert slot is not None  # a validated crontab always fires again
    if desk.mode == "instant" and in_quiet_hours(desk, now):
        slot = min(slot, quiet_end(desk, now))
    return slot


def due_slot(
    desk: Desk, held_since: datetime | None, last_slot: datetime | None, now: datetime
) -> datetime | None:
    """The digest slot to send now, if any: the latest scheduled time (or the end of quiet hours that
    held alerts back) that has passed since the last digest and since the oldest held story."""
    if held_since is None:
        return None
    zone = ZoneInfo(desk.timezone)
    trigger = CronTrigger.from_crontab(desk.digest_schedule, timezone=zone)
    after = max(held_since, last_slot) if last_slot else held_since
    slot = None
    candidate = trigger.get_next_fire_time(None, after)
    while candidate is not None and candidate <= now:
        if last_slot is None or candidate > last_slot:
            slot = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(seconds=1))
    if desk.quiet_hours is not None and desk.mode == "instant":
        end = quiet_end(desk, held_since)
        if end <= now and (last_slot is None or end > last_slot) and not in_quiet_hours(desk, now):
            slot = max(slot, end) if slot else end
    return slot
