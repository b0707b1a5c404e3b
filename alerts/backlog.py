"""Decision: is a story old news from its source's first poll (or history), so that no desk hears of it?"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from newsmon import keys
from newsmon.models import Story, TopicMatch, as_utc, utcnow
from newsmon.settings import Config

log = logging.getLogger(__name__)


def backlog_age(config: Config, story: Story, now: datetime | None = None) -> timedelta | None:
    """How old a story from a source's first poll is, when it is older than the alerts' limit
    (`first_poll_max_age_hours`): old news from the backlog, archived but not alerted. None otherwise."""
    limit = config.alerts.first_poll_max_age_hours
    if not story.first_poll or not limit or story.published is None:
        return None
    age = (now or utcnow()) - as_utc(story.published)
    return age if age > timedelta(hours=limit) else None


def held_back(config: Config, story: Story) -> bool:
    """Whether no desk hears of the story: history (`newsmon import`/`backfill`) or first-poll backlog."""
    return story.history is not None or backlog_age(config, story) is not None


def hold_back(config: Config, conn: Any, story: Story, topics: list[TopicMatch]) -> None:
    """Record, for `newsmon explain`, that the desks following the story's topics were not alerted
    because it is history or old news from its source's first poll."""
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
