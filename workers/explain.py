"""`newsmon explain`: why a story did or did not alert — topics, suppressions, desk filters, dedupe,
the cluster's earlier alerts, and what routing decided (instant, held for quiet hours or throttle)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from sqlalchemy.engine import Engine

from newsmon import keys
from newsmon.errors import NewsmonError, NothingRunning
from newsmon.models import Story, story_id_for
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
    story = Story(**{k: row[k] for k in ("id", "source_id", "outlet", "language", "url", "canonical_url", "title",
                                         "text", "author", "published", "fetched", "feed_guid")})
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
        desks[desk_id] = {"topics": topics, "routing": decisions.get(desk_id)}
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
        routing = desk["routing"]
        if routing:
            out.write(f"  routing: {routing['decision']}" + (f" ({routing['note']})" if routing.get("note") else "")
                      + f" at {routing['at']}\n")
