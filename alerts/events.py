"""An event's reports as the alerts role knows them: every story handed on is noted under its event, so
that a digest can list, beside a story, the same happening's reports in other languages ("also in
Sorani: Rudaw 10:12; in English: Kurdistan24 10:20") without a new alert for each (workers/events.py
decides the events; `explain` and the web page read them from the archive)."""

from __future__ import annotations

import json
from typing import Any

from newsmon import keys
from newsmon.breaking import story_time
from newsmon.models import EventReport, Story, StoryAlert
from newsmon.settings import Config

MOST_REPORTS = 50  # an event's reports kept for digests (the archive keeps them all)


def record_report(config: Config, conn: Any, event: str, story: Story) -> None:
    """Note the story among its event's reports (idempotent: keyed by story)."""
    key = keys.event_reports(event)
    report = EventReport(story_id=story.id, outlet=story.outlet, language=story.language,
                         at=story_time(story), title=story.title, url=story.url)
    pipe = conn.pipeline(transaction=False)
    pipe.hset(key, story.id, report.model_dump_json())
    pipe.expire(key, config.pipeline.dedupe.window_days * 86400)
    pipe.execute()


def reports(conn: Any, event: str) -> list[EventReport]:
    """The event's reports noted so far, oldest first."""
    found = [EventReport.model_validate(json.loads(raw)) for raw in conn.hvals(keys.event_reports(event))]
    return sorted(found, key=lambda r: r.at)[:MOST_REPORTS]


def with_other_languages(conn: Any, alert: StoryAlert) -> StoryAlert:
    """The alert with its event's reports in other languages than its own (first per outlet and
    language), for a digest."""
    if not alert.event_id:
        return alert
    seen: set[tuple[str, str]] = set()
    others = []
    for report in reports(conn, alert.event_id):
        if report.language == alert.language or report.story_id == alert.story_id:
            continue
        if (report.outlet, report.language) in seen:
            continue
        seen.add((report.outlet, report.language))
        others.append(report)
    return alert.model_copy(update={"also_in": others}) if others else alert
