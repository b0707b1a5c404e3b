"""End to end with real processes: scheduler, crawler and worker on a real Redis, the replay site,
a real SMTP server and a chat webhook receiver."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import StartedJobRegistry

from newsmon import keys, stats
from newsmon.app.replay import ReplaySite
from newsmon.workers.archive import Archive, open_engine
from tests.conftest import (
    Roles,
    SmtpServer,
    WebhookReceiver,
    add_feed,
    feed_source,
    make_article,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e

K1_STORY = ["A rocket landed inside the K-1 base west of Kirkuk late on Friday, a security source said.",
            "Coalition troops left the base in 2017; Iraqi forces have held it since."]
AR_STORY = ["قالت مصادر امنية إن صاروخا سقط قرب قاعدة كيه-1 غرب كركوك مساء الجمعة.",
            "ولا توجد اي زيادة لقوات التحالف في القاعدة بحسب المصادر."]
OIL_STORY = ["Iraq's oil exports rose by four percent in November, the oil ministry said on Sunday.",
             "Exports through the southern ports averaged 3.4 million barrels per day."]


def polls_total(conn: redis.Redis, source_id: str) -> int:
    return int(conn.hget(keys.source_state(source_id), "polls_total") or 0)


def queues_drained(conn: redis.Redis) -> bool:
    """No job waiting, taken (RQ moves a job through an intermediate list before it is registered as
    started), running or scheduled for a retry."""
    from rq.registry import ScheduledJobRegistry

    for name in (keys.PROCESS_QUEUE, keys.ALERTS_QUEUE):
        queue = Queue(name, connection=conn)
        if (queue.count or conn.llen(queue.intermediate_queue_key) or StartedJobRegistry(queue=queue).count
                or ScheduledJobRegistry(queue=queue).count):
            return False
    return True


def settle(conn: redis.Redis, source_id: str, polls: int = 2) -> None:
    """Wait for `polls` more polls of the source and for both queues to drain."""
    target = polls_total(conn, source_id) + polls
    wait_for(lambda: polls_total(conn, source_id) >= target and queues_drained(conn), timeout=60,
             what=f"{polls} more polls and drained queues")


def test_new_story_alerts_once_by_email_and_chat_and_survives_smtp_outage(
    replay: ReplaySite, roles: Roles, redis_conn: redis.Redis, smtp_server: SmtpServer,
    webhook: WebhookReceiver, tmp_path: Path,
) -> None:
    add_feed(
        replay,
        "/k24/rss",
        [make_article("/k24/oil", "Oil exports rise", OIL_STORY, outlet="Kurdistan24")],
        outlet="Kurdistan24",
    )
    sources = [feed_source("k24-en", f"{replay.base_url}/k24/rss", interval=2, outlet="Kurdistan24")]
    alerts = {
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
        "channels": {
            "mail": {"type": "email", "to": ["desk@test"]},
            "chat": {"type": "apprise", "url": webhook.url},
        },
        "routes": [
            {"id": "kirkuk-desk", "topics": ["k1_base", "coalition_troops"], "channels": ["mail", "chat"]}
        ],
        "retry": {"max": 10, "intervals": [1, 1, 2, 2, 2, 2, 2, 2, 2, 2]},
    }
    config_dir = write_config(tmp_path / "config", sources, alerts)
    for role in ("scheduler", "crawler", "worker"):
        roles.start(role, config_dir, role)
    archive_path = tmp_path / "data" / "archive.sqlite"

    # the first poll takes the existing, non-matching story: archived, no alert
    wait_for(lambda: archive_path.exists() and Archive(open_engine(f"sqlite:///{archive_path}")).count() == 1,
             timeout=60, what="the first story archived")
    settle(redis_conn, "k24-en", polls=1)
    assert smtp_server.messages == [] and webhook.posts == []

    # a new matching story: exactly one email and one chat post
    replay.publish("/k24/rss", make_article("/k24/k1", "Rocket lands inside K-1 base", K1_STORY,
                                            outlet="Kurdistan24", published="2026-11-21T19:05:00+00:00"))
    wait_for(lambda: len(smtp_server.messages) == 1 and len(webhook.posts) == 1, timeout=60,
             what="one email and one chat post")
    message = smtp_server.messages[0]
    assert "Rocket lands inside K-1 base" in message["Subject"] and "Kurdistan24" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    for expected in ("Rocket lands inside K-1 base", "Kurdistan24", "2026-11-21 22:05 +03", "K-1 air base",
                     "K-1", "Coalition troops", f"{replay.base_url}/k24/k1"):
        assert expected in text, expected
    assert "<mark>K-1</mark>" in message.get_body(("html",)).get_content()
    post = webhook.posts[0]
    assert "Rocket lands inside K-1 base" in post["title"]
    assert f"{replay.base_url}/k24/k1" in post["message"] and "Kurdistan24" in post["message"]

    # later polls find nothing new
    settle(redis_conn, "k24-en", polls=2)
    assert len(smtp_server.messages) == 1 and len(webhook.posts) == 1

    # SMTP down: chat goes out at once, email waits and is delivered once the server is back
    smtp_server.stop()
    replay.publish("/k24/rss", make_article("/k24/k1-ar", "صاروخ يسقط قرب قاعدة كيه-1", AR_STORY,
                                            language="ar", outlet="Kurdistan24"))
    wait_for(lambda: len(webhook.posts) == 2, timeout=60, what="the second chat post")
    # the counter `newsmon status` shows as the channel's retries
    wait_for(lambda: stats.total(redis_conn, "alerts:mail:retried", 60) >= 2, timeout=60,
             what="failed email attempts while SMTP is down")
    assert len(smtp_server.messages) == 1
    smtp_server.start()
    wait_for(lambda: len(smtp_server.messages) == 2, timeout=60, what="the email after SMTP came back")
    settle(redis_conn, "k24-en", polls=2)
    assert len(smtp_server.messages) == 2 and len(webhook.posts) == 2
    assert len({m["X-Newsmon-Key"] for m in smtp_server.messages}) == 2
    arabic = smtp_server.messages[1].get_body(("html",)).get_content()
    assert 'dir="rtl"' in arabic and "كيه-1" in arabic


def test_two_schedulers_do_not_double_polls(replay: ReplaySite, roles: Roles, redis_conn: redis.Redis,
                                            tmp_path: Path) -> None:
    add_feed(replay, "/k24/rss", [make_article("/k24/oil", "Oil exports rise", OIL_STORY)])
    sources = [feed_source("k24-en", f"{replay.base_url}/k24/rss", interval=1)]
    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    config_dir = write_config(tmp_path / "config", sources, alerts)
    roles.start("scheduler-a", config_dir, "scheduler")
    roles.start("scheduler-b", config_dir, "scheduler")
    roles.start("crawler", config_dir, "crawler")
    wait_for(lambda: polls_total(redis_conn, "k24-en") >= 4, timeout=60, what="four polls")
    leaders = [name for name in ("scheduler-a", "scheduler-b") if "leader=True" in roles.log(name)]
    assert len(leaders) == 1, leaders
    standby = {"scheduler-a": "scheduler-b", "scheduler-b": "scheduler-a"}[leaders[0]]
    # the feed was fetched once per poll (one more if a poll is in flight right now), never twice
    done = polls_total(redis_conn, "k24-en")
    assert done <= replay.hits["/k24/rss"] <= done + 1

    # the standby takes over when the leader stops
    roles.processes[leaders[0]].terminate()
    roles.processes[leaders[0]].wait(timeout=30)
    wait_for(lambda: "leader=True" in roles.log(standby), timeout=30, what="the standby to take over")
    before = polls_total(redis_conn, "k24-en")
    wait_for(
        lambda: polls_total(redis_conn, "k24-en") >= before + 2, timeout=30, what="polls after take-over"
    )


def test_same_story_from_three_outlets_alerts_once_and_forms_one_cluster(
    replay: ReplaySite, roles: Roles, redis_conn: redis.Redis, smtp_server: SmtpServer,
    webhook: WebhookReceiver, tmp_path: Path,
) -> None:
    from tests.test_dedupe_corpus import SEED

    title, body = SEED[0], SEED[1:]
    copies = {
        "k24": ("Kurdistan24", title, body),
        "shafaq": (
            "Shafaq News",
            "بغداد تنفي ارسال قوات امريكية الى قاعدة قرب كركوك",
            ["تحرير: محمد علي - بغداد", *body[:10], "تابعونا على تلغرام ليصلكم كل جديد"],
        ),
        "sumaria": (
            "Alsumaria",
            "نفي عراقي لتحرك قوات امريكية",
            ["اكدت مصادر سياسية في بغداد اليوم ان الحكومة تتابع ملف كركوك عن كثب.", *body[:4], *body[5:]],
        ),
    }
    sources = []
    for name, (outlet, headline, paragraphs) in copies.items():
        add_feed(
            replay,
            f"/{name}/rss",
            [make_article(f"/{name}/story-1", headline, paragraphs, language="ar", outlet=outlet)],
            language="ar",
            outlet=outlet,
        )
        sources.append(
            feed_source(name, f"{replay.base_url}/{name}/rss", language="ar", interval=2, outlet=outlet)
        )
    alerts = {
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
        "channels": {
            "mail": {"type": "email", "to": ["desk@test"]},
            "chat": {"type": "apprise", "url": webhook.url},
        },
        "routes": [
            {"id": "kirkuk-desk", "topics": ["k1_base", "coalition_troops"], "channels": ["mail", "chat"]}
        ],
    }
    config_dir = write_config(tmp_path / "config", sources, alerts)
    for role in ("scheduler", "crawler", "worker", "worker-2"):
        roles.start(role, config_dir, "worker" if role.startswith("worker") else role)
    archive_path = tmp_path / "data" / "archive.sqlite"
    wait_for(lambda: archive_path.exists() and Archive(open_engine(f"sqlite:///{archive_path}")).count() == 3,
             timeout=60, what="three copies archived")
    # readiness: both deliveries arrived (a job in flight between the queue and the started registry is
    # invisible to `settle` for a moment); then a poll more of every source, and still one of each
    wait_for(lambda: smtp_server.messages and webhook.posts, timeout=60, what="the alert by email and chat")
    for source in copies:
        settle(redis_conn, source, polls=1)
    assert len(smtp_server.messages) == 1 and len(webhook.posts) == 1
    archive = Archive(open_engine(f"sqlite:///{archive_path}"))
    stories = archive.recent()
    assert len({s["cluster_id"] for s in stories}) == 1
    cluster = archive.cluster(stories[0]["cluster_id"])
    assert cluster["member_count"] == 3
    assert sorted(cluster["outlets"]) == ["Alsumaria", "Kurdistan24", "Shafaq News"]
    assert sorted(s["dedupe_kind"] for s in stories) == ["near", "near", "new"]
