"""Decision: which desks hear of a story's topics for the first time in its cluster (one alert per story,
not per copy), claimed once in Redis whichever worker asks first."""

from __future__ import annotations

from typing import Any

from newsmon import keys
from newsmon.models import Story, TopicMatch
from newsmon.redis_conn import acquire
from newsmon.settings import Config


def claimed_id(config: Config, desk_id: str, cluster: str, event: str | None) -> str:
    """What a desk's alert is once per: the story's event (the default), or its cluster for a desk with
    `events: false`."""
    desk = config.alerts.all_desks().get(desk_id)
    return cluster if desk is not None and not desk.events else (event or cluster)


def claim_cluster_topics(config: Config, conn: Any, story: Story, cluster: str,
                         topics: list[TopicMatch], event: str | None = None) -> dict[str, list[TopicMatch]]:
    """Per desk, the story's topics that the desk follows and no earlier story of its event (or, for a desk
    with `events: false`, of its cluster) sent it.

    Each (desk, event or cluster, topic) is claimed once with SET NX as "<story>:pending" and marked
    "<story>:done" once the alert is handed on; a retried job of the same story that finds its own
    pending claims (it died before handing on) still alerts, an edit of the story does not.
    """
    ttl = config.pipeline.dedupe.window_days * 86400
    pending = f"{story.id}:pending".encode()
    fresh: dict[str, list[TopicMatch]] = {}
    for desk_id, desk in config.alerts.all_desks().items():
        for topic in topics:
            if not desk.wants(topic.topic, story.language, story.outlet):
                continue
            key = keys.cluster_alert(desk_id, claimed_id(config, desk_id, cluster, event), topic.topic)
            if acquire(conn, key, pending, ttl) or conn.get(key) == pending:
                fresh.setdefault(desk_id, []).append(topic)
    return fresh


def mark_alerted(conn: Any, story_id: str, cluster: str, fresh: dict[str, list[TopicMatch]],
                 config: Config | None = None, event: str | None = None) -> None:
    """Turn this story's pending claims into done ones once its alerts are handed on."""
    for desk_id, topics in fresh.items():
        claimed = claimed_id(config, desk_id, cluster, event) if config is not None else cluster
        for topic in topics:
            conn.set(
                keys.cluster_alert(desk_id, claimed, topic.topic), f"{story_id}:done", xx=True, keepttl=True
            )
