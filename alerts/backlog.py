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
    """Whether no desk hears of the story: old news from its source's first poll (history never reaches
    the alerts role: the workers archive it without handing it on)."""
    return backlog_age(config, story) is not None


def hold_back(config: Config, conn: Any, story: Story, topics: list[TopicMatch]) -> None:
    """Record, for `newsmon explain`, that the desks following the story's topics were not alerted
    because it is old news from its source's first poll."""
    assert story.published is not None
    limit = config.alerts.first_poll_max_age_hours
    note = (f"published {story.published.isoformat(timespec='minutes')}, more than {limit:g} h before it "
            f"was taken (first_poll_max_age_hours)")
    explain_not_alerted(config, conn, story.id, story.language, story.outlet, [t.topic for t in topics],
                        "not alerted: old news from the source's first poll", note)


def history_held_back(config: Config, conn: Any, story_id: str, language: str, outlet: str,
                      topics: list[str], command: str) -> None:
    """Record, for `newsmon explain`, that history taken by `newsmon import` or `backfill` alerted no desk
    that follows its topics (called where the history is archived)."""
    explain_not_alerted(config, conn, story_id, language, outlet, topics,
                        f"not alerted: history taken by `newsmon {command}`",
                        "archived with dedupe and topics; history never alerts")


def explain_not_alerted(config: Config, conn: Any, story_id: str, language: str, outlet: str,
                        topics: list[str], decision: str, note: str) -> None:
    record = json.dumps({"decision": decision, "note": note, "at": utcnow().isoformat(timespec="seconds")})
    desks = [d for d, desk in config.alerts.all_desks().items()
             if any(desk.wants(topic, language, outlet) for topic in topics)]
    if desks:
        conn.hset(keys.explain(story_id), mapping=dict.fromkeys(desks, record))
        conn.expire(keys.explain(story_id), config.pipeline.dedupe.window_days * 86400)
    log.info("not alerted story=%s: %s", story_id, decision.removeprefix("not alerted: "))
