"""A source's first poll brings its backlog: old stories are archived, not alerted, and `explain` says why."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from newsmon.alerts.backlog import backlog_age
from newsmon.app.replay import ReplaySite
from newsmon.models import Story
from newsmon.settings import load_config
from newsmon.workers.archive import Archive, open_engine
from tests.conftest import Roles, WebhookReceiver, add_feed, feed_source, make_article, wait_for, write_config
from tests.test_e2e import settle

pytestmark = pytest.mark.e2e

OLD = ["A rocket landed inside the K-1 base west of Kirkuk, a security source said in November 2017.",
       "Coalition troops were stationed at the base at the time."]
NEW = ["Two drones were shot down near the K-1 air base north-west of Kirkuk, the joint command said.",
       "No one was hurt; an investigation has begun."]
LATE = ["A third drone came down near the K-1 base on Tuesday, officials said only today.",
        "The base has been run by Iraqi forces since the coalition left."]


def test_first_poll_archives_old_stories_without_alerting(
    replay: ReplaySite, roles: Roles, redis_conn: redis.Redis, webhook: WebhookReceiver, tmp_path: Path
) -> None:
    add_feed(replay, "/nw/rss", [
        make_article("/nw/2017", "Rocket hits K-1 base", OLD, outlet="Northern Wire",
                     published="2017-11-16T08:30:00+00:00"),
        make_article("/nw/new", "Drones downed near K-1", NEW, outlet="Northern Wire"),  # an hour ago
    ], outlet="Northern Wire")
    alerts = {"channels": {"chat": {"type": "apprise", "url": webhook.url}},
              "routes": [{"id": "desk", "topics": ["k1_base"], "channels": ["chat"]}]}
    config_dir = write_config(tmp_path / "config", [feed_source("nw", f"{replay.base_url}/nw/rss", interval=2,
                                                                outlet="Northern Wire")], alerts)
    for role in ("scheduler", "crawler", "worker"):
        roles.start(role, config_dir, role)
    archive_path = tmp_path / "data" / "archive.sqlite"
    wait_for(lambda: archive_path.exists() and Archive(open_engine(f"sqlite:///{archive_path}")).count() == 2,
             timeout=60, what="both stories of the first poll archived")
    settle(redis_conn, "nw", polls=1)
    assert len(webhook.posts) == 1 and "Drones downed near K-1" in webhook.posts[0]["title"]

    env = {**os.environ, "REDIS_URL": roles.redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    explained = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsmon",
            "--config-dir",
            str(config_dir),
            "explain",
            f"{replay.base_url}/nw/2017",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert explained.returncode == 0, explained.stderr
    assert "not alerted: old news from the source's first poll" in explained.stdout
    assert "published 2017-11-16T08:30+00:00, more than 48 h before" in explained.stdout

    # later polls are not the first: a story published three days ago is news to the desk now
    three_days = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    replay.publish("/nw/rss", make_article("/nw/late", "Third drone near K-1", LATE, outlet="Northern Wire",
                                           published=three_days))
    wait_for(lambda: len(webhook.posts) == 2, timeout=60, what="the alert of a late story on a later poll")


def test_the_age_limit_is_the_configs(tmp_path: Path) -> None:
    def story(days: float, first_poll: bool = True) -> Story:
        return Story(
            id="s",
            source_id="x",
            outlet="O",
            language="en",
            url="https://o/1",
            canonical_url="https://o/1",
            title="t",
            text="x",
            first_poll=first_poll,
            published=datetime.now(UTC) - timedelta(days=days),
        )

    alerts = {
        "channels": {"c": {"type": "console"}},
        "routes": [{"id": "d", "topics": ["*"], "channels": ["c"]}],
    }
    config = load_config(write_config(tmp_path / "a", [], alerts))
    assert backlog_age(config, story(3)) is not None and backlog_age(config, story(1)) is None
    assert backlog_age(config, story(3, first_poll=False)) is None
    relaxed = load_config(write_config(tmp_path / "b", [], {**alerts, "first_poll_max_age_hours": 0}))
    assert backlog_age(relaxed, story(3000)) is None
    strict = load_config(write_config(tmp_path / "c", [], {**alerts, "first_poll_max_age_hours": 12}))
    assert backlog_age(strict, story(1)) is not None
