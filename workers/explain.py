"""What `newsmon explain` tells (app/cli_archive.py prints it): why a story did or did not alert —
topics, suppressions, desk filters, dedupe, its event (the evidence that joined it, the event's other
reports), the event's (or cluster's) earlier alerts, what routing decided."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine

from newsmon import keys
from newsmon.errors import NewsmonError
from newsmon.models import as_utc, story_id_for
from newsmon.settings import Config
from newsmon.urls import canonical_url
from newsmon.workers.archive import Archive, delivery_rows, drain_delivery_log
from newsmon.workers.matcher import matcher_for


def explain(
    config: Config, engine: Engine, conn: Any, reference: str, redis_note: str | None = None
) -> dict[str, Any]:
    """Everything known about a story's way through the pipeline (`conn`: Redis, or None when it is not
    running, `redis_note` saying why: the archive still answers for topics and dedupe).

    Raises:
        NewsmonError: the story is not in the archive.
    """
    archive = Archive(engine)
    story_id = (
        story_id_for(canonical_url(reference)) if reference.startswith(("http://", "https://")) else reference
    )
    row = archive.get(story_id)
    if row is None:
        raise NewsmonError(f"story {reference!r} is not in the archive")
    story = Archive.story_of(row)
    result = matcher_for(config).match(story.title, story.text, story.language)
    decisions = ({k.decode(): json.loads(v) for k, v in conn.hgetall(keys.explain(story.id)).items()}
                 if conn is not None else {})
    if conn is not None:
        drain_delivery_log(conn, archive)  # what the alerts role logged and the scheduler has not moved yet
    logged = delivery_rows(engine, story_id=story.id)
    cluster = archive.cluster(row["cluster_id"]) or {}
    event_id = row.get("event_id") or row["cluster_id"]
    event = {
        "id": event_id,
        "evidence": row.get("event_evidence"),
        "reports": [{"story": m["id"], "title": m["title"], "outlet": m["outlet"], "language": m["language"],
                     "at": as_utc(m["published"] or m["fetched"]).isoformat(timespec="minutes"),
                     "cluster": m["cluster_id"]}
                    for m in archive.event_members(event_id) if m["id"] != story_id],
    }
    desks = {}
    for desk_id, desk in config.alerts.all_desks().items():
        topics = {}
        for match in result.matches:
            if not desk.wants(match.topic, story.language, story.outlet):
                reason = ("language not followed" if desk.languages and story.language not in desk.languages
                          else "outlet not followed" if desk.outlets and story.outlet not in desk.outlets
                          else "topic not followed")
                topics[match.topic] = f"filtered: {reason}"
                continue
            if conn is None:
                sent = [r for r in logged if r["desk"] == desk_id and match.topic in (r["topics"] or [])
                        and r["outcome"] == "sent"]
                topics[match.topic] = ("alerted by this story (from the archive's delivery log)" if sent
                                       else "alert record unknown: Redis is not running and the archive's "
                                            "delivery log has no delivery of it")
                continue
            per = row["cluster_id"] if not desk.events else event_id
            holder = conn.get(keys.cluster_alert(desk_id, per, match.topic))
            owner = holder.decode().split(":")[0] if holder else None
            if owner and owner != story.id:
                # a copy in this story's cluster, or a report of its event in another cluster
                held = archive.get(owner) if desk.events else None
                by = "event" if held is not None and held["cluster_id"] != row["cluster_id"] else "cluster"
                topics[match.topic] = f"already alerted for this {by} by story {owner}"
            else:
                topics[match.topic] = (
                    "alerted by this story" if owner
                    else "no alert record (older than the dedupe window, or not processed under this config)")
        broke = (conn is not None and desk.breaking is not None
                 and bool(conn.exists(keys.breaking_fired(desk_id, f"breaking:{row['cluster_id']}"))))
        desks[desk_id] = {
            "topics": topics,
            "deliveries": [_logged(r) for r in logged if r["desk"] == desk_id],
            "routing": decisions.get(desk_id),
            "timezone": desk.timezone,
            "breaking": decisions.get(keys.explain_field(desk_id, breaking=True)),
            "cluster_broke": broke,
        }
    return {
        "story": {
            "id": story.id,
            "title": story.title,
            "url": story.url,
            "outlet": story.outlet,
            "language": story.language,
            "config_version": row["config_version"],
        },
        "stored_topics": [t["topic"] for t in row["topics"]],
        "topics_now": {m.topic: m.matched_words() for m in result.matches},
        "suppressed": {t: [h.text for h in hits] for t, hits in result.suppressed.items()},
        "dedupe": {
            "kind": row["dedupe_kind"],
            "duplicate_of": row["duplicate_of"],
            "similarity": row["similarity"],
            "cluster": row["cluster_id"],
            "cluster_members": cluster.get("member_count"),
            "cluster_first_story": cluster.get("first_story_id"),
        },
        "event": event,
        "desks": desks,
        "redis": redis_note,
    }


def _logged(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery log row as explain reports it."""

    return {"at": as_utc(row["at"]).isoformat(timespec="seconds"), "channel": row["channel"],
            "mode": row["mode"], "outcome": row["outcome"], "topics": row["topics"], "note": row["note"],
            "slot": row["slot"]}
