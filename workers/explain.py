"""`newsmon explain`: why a story did or did not alert — topics, suppressions, desk filters, dedupe,
the cluster's earlier alerts, and what routing decided (instant, held for quiet hours or throttle)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from newsmon import keys
from newsmon.errors import NewsmonError, NothingRunning
from newsmon.models import story_id_for
from newsmon.settings import Config, Runtime
from newsmon.urls import canonical_url
from workers.archive import Archive
from workers.jobs import matcher_for


def explain(config: Config, engine: Engine, runtime: Runtime, reference: str) -> dict[str, Any]:
    """Everything known about a story's way through the pipeline.

    Raises:
        NewsmonError: the story is not in the archive.
    """
    from newsmon.redis_conn import connect

    archive = Archive(engine)
    story_id = story_id_for(canonical_url(reference)) if reference.startswith(("http://", "https://")) else reference
    row = archive.get(story_id)
    if row is None:
        raise NewsmonError(f"story {reference!r} is not in the archive")
    story = Archive.story_of(row)
    result = matcher_for(config).match(story.title, story.text, story.language)
    try:
        conn = connect(runtime.redis_url, runtime.data_dir)
    except NothingRunning as exc:
        conn, redis_note = None, str(exc)  # the archive still answers for topics and dedupe
    else:
        redis_note = None
    decisions = ({k.decode(): json.loads(v) for k, v in conn.hgetall(keys.explain(story.id)).items()}
                 if conn is not None else {})
    cluster = archive.cluster(row["cluster_id"]) or {}
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
                topics[match.topic] = "alert record unknown: Redis is not running"
                continue
            holder = conn.get(keys.cluster_alert(desk_id, row["cluster_id"], match.topic))
            owner = holder.decode().split(":")[0] if holder else None
            topics[match.topic] = ("alerted by this story" if owner == story.id else
                                   f"already alerted for this cluster by story {owner}" if owner else
                                   "no alert record (older than the dedupe window, or not processed under this config)")
        broke = (conn is not None and desk.breaking is not None
                 and bool(conn.exists(keys.breaking_fired(desk_id, f"breaking:{row['cluster_id']}"))))
        desks[desk_id] = {"topics": topics, "routing": decisions.get(desk_id), "timezone": desk.timezone,
                          "breaking": decisions.get(f"{desk_id}:breaking"), "cluster_broke": broke}
    return {
        "story": {"id": story.id, "title": story.title, "url": story.url, "outlet": story.outlet,
                  "language": story.language, "config_version": row["config_version"]},
        "stored_topics": [t["topic"] for t in row["topics"]],
        "topics_now": {m.topic: m.matched_words() for m in result.matches},
        "suppressed": {t: [h.text for h in hits] for t, hits in result.suppressed.items()},
        "dedupe": {"kind": row["dedupe_kind"], "duplicate_of": row["duplicate_of"], "similarity": row["similarity"],
                   "cluster": row["cluster_id"], "cluster_members": cluster.get("member_count"),
                   "cluster_first_story": cluster.get("first_story_id")},
        "desks": desks,
        "redis": redis_note,
    }


def print_explanation(report: dict[str, Any], out: TextIO) -> None:
    """The explanation as text."""
    story = report["story"]
    out.write(f"story {story['id']} [{story['language']}] {story['outlet']}: {story['title']}\n{story['url']}\n")
    out.write(f"tagged when processed (config {story['config_version']}): "
              f"{', '.join(report['stored_topics']) or 'no topic'}\n")
    out.write("topics with the current config: " + (", ".join(
        f"{t} ({', '.join(w)})" for t, w in report["topics_now"].items()) or "none") + "\n")
    out.writelines(f"suppressed: {topic} by the none term(s) {', '.join(words)}\n" for topic, words in report["suppressed"].items())
    d = report["dedupe"]
    kind = {"new": "a new story", "url": "a URL seen before (edit or re-poll)", "exact": "an exact copy",
            "near": f"a near copy (similarity {d['similarity']})"}.get(d["kind"], d["kind"])
    out.write(f"dedupe: {kind}; cluster {d['cluster']} with {d['cluster_members']} member(s), first story "
              f"{d['cluster_first_story']}" + (f"; copy of {d['duplicate_of']}" if d["duplicate_of"] else "") + "\n")
    if report.get("redis"):
        out.write(f"alert records and routing: {report['redis']}\n")
    for desk_id, desk in report["desks"].items():
        out.write(f"desk {desk_id}:\n")
        if not desk["topics"]:
            out.write("  no topic of the story\n")
        out.writelines(f"  {topic}: {why}\n" for topic, why in desk["topics"].items())
        if desk["routing"]:
            out.write(f"  routing: {routing_line(desk['routing'], desk['timezone'], desk.get('next_digest'))}\n")
        if desk.get("breaking"):
            out.write(f"  breaking alert with this story: {routing_line(desk['breaking'], desk['timezone'])}\n")
        elif desk.get("cluster_broke"):
            out.write("  its cluster broke (spread across outlets): the breaking alert named the cluster's first story\n")


def _local(moment: str | datetime, zone: str, seconds: bool = False) -> str:
    """An ISO time (or datetime) in the desk's zone, as desks read it."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def routing_line(routing: dict[str, Any], zone: str, next_digest: datetime | None = None) -> str:
    """What routing did with the story for one desk: sent at once; held (when and why) and in which
    digest it went out, or that it is still waiting (for the next digest, when known); not alerted."""
    decision = routing["decision"]
    note = f" ({routing['note']})" if routing.get("note") else ""
    if decision == "sent at once":
        return f"sent at once at {_local(routing['at'], zone)}"
    if not decision.startswith("held"):
        return f"{decision}{note}"
    line = f"held for the next digest at {_local(routing['at'], zone)}{note}; "
    if routing.get("digest"):
        count = routing.get("digest_stories")
        size = f" ({count} stor{'y' if count == 1 else 'ies'})" if count else ""
        return (line + f"went out in the digest of {_local(routing['digest'], zone)}{size}, handed to the desk's "
                f"channels at {_local(routing['digest_sent'], zone, seconds=True)}")
    if next_digest is not None:
        return line + f"still waiting for the digest of {_local(next_digest, zone)}"
    return line + "still waiting"
