"""The alerts role's first step for processed stories: every decision about desks, one module each.

The workers archive a poll's stories and hand on, in one `decide_stories` job, each story that carries
topics (its own or its cluster's) with what they know: the story, its cluster, whether it opened the
cluster, the other outlets that carried it, the cluster's topics, the story's topics with their hits
and the config version that tagged it. Here, per story:

    backlog.py   history or old news from a source's first poll: no desk hears of it (explain says why)
    events.py    the story noted among its event's reports (digests list the other languages)
    claims.py    the desks that hear of each topic for the first time in the story's event (or cluster)
    building.py  what each of those desks is told; handed to `route_story` (now, or held for a digest)
    breaking.py  the breaking events the story makes, for the desks that asked for them
"""

from __future__ import annotations

import logging
from typing import Any

from newsmon import jobcontext, keys, stats
from newsmon.alerts.backlog import held_back, hold_back
from newsmon.alerts.breaking import check_breaking
from newsmon.alerts.building import hand_on
from newsmon.alerts.claims import claim_cluster_topics, mark_alerted
from newsmon.alerts.events import record_report
from newsmon.models import Story, TopicMatch
from newsmon.settings import Config

log = logging.getLogger(__name__)


def decide_stories(payload: dict[str, Any]) -> dict[str, Any]:
    """Job entry point: decide, in order, what the desks hear of a batch of processed stories.

    Args:
        payload: {"config_version", "stories": [{"story", "cluster", "new_cluster", "also",
            "cluster_topics", "topics"}]}, as newsmon.workers.jobs hands them on.
    Returns:
        {"stories": [{"story", "alerts"}]}: per story, how many desks (and breaking desks) were handed it.
    Raises:
        what Redis raises: RQ retries the job; every step is safe to repeat (claims, job ids).
    """
    ctx = jobcontext.current()
    if payload.get("config_version") not in (None, ctx.config.version):
        log.info("deciding with config version %s for stories tagged with %s", ctx.config.version,
                 payload.get("config_version"))
    decided = [decide(ctx.config, ctx.redis, item) for item in payload["stories"]]
    stats.count(ctx.redis, f"queue:{keys.ALERTS_QUEUE}:out")
    return {"stories": decided}


def decide(config: Config, conn: Any, item: dict[str, Any]) -> dict[str, Any]:
    """One story's decisions: {"story", "alerts"} (desks handed the story or a breaking event of it)."""
    story = Story.model_validate(item["story"])
    topics = [TopicMatch.model_validate(t) for t in item["topics"]]
    cluster = item["cluster"]
    if held_back(config, story):
        hold_back(config, conn, story, topics)
        return {"story": story.id, "alerts": 0}
    event = item.get("event") or cluster
    record_report(config, conn, event, story)
    fresh = claim_cluster_topics(config, conn, story, cluster, topics, event)
    alerted = hand_on(config, conn, story, fresh, cluster_id=cluster, also=item.get("also") or [],
                      event_id=event)
    mark_alerted(conn, story.id, cluster, fresh, config, event)
    alerted += check_breaking(config, conn, story, event, bool(item.get("new_cluster")), topics,
                              item.get("cluster_topics") or [])
    if alerted:
        log.info("decided story=%s cluster=%s desks=%d", story.id, cluster, alerted)
    return {"story": story.id, "alerts": alerted}
