"""Desk alerting with real Redis, a real SMTP server, a webhook receiver and a real RQ worker:
routing to two desks, digests, throttling and quiet hours on a controlled clock, channel faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from newsmon import jobcontext, keys, stats
from newsmon.alerts.desks import next_digest
from newsmon.alerts.jobs import digest_tick, route_story
from newsmon.app.cli_archive import routing_line
from newsmon.models import Story, story_id_for
from newsmon.settings import load_config
from newsmon.urls import canonical_url
from tests.conftest import SmtpServer, WebhookReceiver, write_config
from tests.conftest import process_and_decide as process_story

SOURCE = {"id": "s1", "name": "S", "outlet": "O", "language": "ar", "kind": "feed", "url": "http://x/f"}
K1_AR = "قال مصدر امني إن صاروخين سقطا مساء امس على قاعدة كيه-1 غرب كركوك من دون اصابات. " * 2
K1_EN = "Two rockets struck the K-1 air base west of the city late on Friday, a security source said. " * 2


def story(
    n: int, text: str, language: str, published: datetime | None = None, outlet: str = "Shafaq News"
) -> dict:
    """Story n: the given sentence plus words of its own, so that different n are different stories."""
    import random

    rng = random.Random(n)
    own = " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(60))
    url = f"https://news.example/{language}/story/{n}"
    canonical = canonical_url(url)
    return Story(id=story_id_for(canonical), source_id="s1", outlet=outlet, language=language, url=url,
                 canonical_url=canonical, title=f"Story {n}", text=f"{text} {own}",
                 published=published).model_dump(mode="json")


@pytest.fixture
def desk_config(tmp_path: Path, redis_conn: redis.Redis, smtp_server: SmtpServer, webhook: WebhookReceiver):
    def install(desks: dict, urgent: bool = False) -> None:
        alerts = {
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
            "channels": {
                "arabic-mail": {"type": "email", "to": ["arabic-desk@test"]},
                "all-mail": {"type": "email", "to": ["all-desk@test"]},
                "chat": {"type": "apprise", "url": webhook.url},
            },
            # the stories here are one sentence with words of their own, one happening told again: each
            # desk alerts per cluster (events: false) unless a test says otherwise, so that digests,
            # throttles and retries are seen per story (tests/test_events.py tests events)
            "desks": {d: {"events": False, **desk} for d, desk in desks.items()},
            "retry": {"max": 5, "intervals": [0]},
        }
        directory = write_config(tmp_path / "config", [SOURCE], alerts)
        if urgent:
            import yaml

            keywords = yaml.safe_load((directory / "keywords.yaml").read_text())
            keywords["topics"]["isis"]["urgent"] = True
            (directory / "keywords.yaml").write_text(yaml.safe_dump(keywords, allow_unicode=True))
        config = load_config(directory)
        jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn,
                                                 archive_url=f"sqlite:///{tmp_path / 'archive.sqlite'}"))
    return install


def work(conn: redis.Redis) -> None:
    """Run every queued alerts job with a real RQ worker (burst)."""
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer)
    SimpleWorker([queue], connection=conn, serializer=JSONSerializer).work(
        burst=True, logging_level="WARNING"
    )


def route_queued(conn: redis.Redis, now: datetime) -> None:
    """Take the route_story jobs off the queue and run them on the controlled clock."""
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer)
    for job in queue.jobs:
        if job.func_name == keys.ROUTE_STORY_JOB:
            route_story(job.args[0], now=now)
            queue.remove(job)


def recipients(server: SmtpServer) -> list[str]:
    return [m["To"] for m in server.messages]


def test_two_desks_with_filters_each_get_their_alert(
    desk_config, redis_conn: redis.Redis, smtp_server: SmtpServer, webhook: WebhookReceiver
) -> None:
    desk_config({
        "arabic": {"topics": ["k1_base"], "languages": ["ar", "ckb"], "channels": ["arabic-mail"]},
        "everything": {"topics": ["*"], "channels": ["all-mail", "chat"]},
    })
    process_story(story(1, K1_AR, "ar"))
    process_story(story(2, K1_EN, "en"))
    work(redis_conn)
    assert sorted(recipients(smtp_server)) == ["all-desk@test", "all-desk@test", "arabic-desk@test"]
    assert len(webhook.posts) == 2
    arabic = next(m for m in smtp_server.messages if m["To"] == "arabic-desk@test")
    assert "Story 1" in arabic["Subject"]
    assert 'dir="rtl"' in arabic.get_body(("html",)).get_content()


def test_digest_in_order_and_in_the_desk_time_zone(desk_config, redis_conn: redis.Redis,
                                                   smtp_server: SmtpServer) -> None:
    desk_config({"morning": {"topics": ["*"], "channels": ["all-mail"], "mode": "digest",
                             "digest_schedule": "0 8 * * *", "timezone": "Asia/Baghdad"}})
    day = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    for n, hour in ((3, 7), (1, 5), (2, 6)):  # arrive out of order
        process_story(story(n, K1_EN, "en", published=datetime(2026, 11, 26, hour, 0, tzinfo=UTC)))
    route_queued(redis_conn, day)
    work(redis_conn)
    assert smtp_server.messages == [] and redis_conn.zcard(keys.desk_held("morning")) == 3
    assert (
        digest_tick(jobcontext.current().config, redis_conn, now=datetime(2026, 11, 27, 4, 59, tzinfo=UTC))
        == []
    )
    due = digest_tick(jobcontext.current().config, redis_conn, now=datetime(2026, 11, 27, 5, 1, tzinfo=UTC))
    assert [(d, s.isoformat()) for d, s in due] == [("morning", "2026-11-27T08:00:00+03:00")]
    work(redis_conn)
    assert len(smtp_server.messages) == 1
    text = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "digest for morning: 3 stories" in smtp_server.messages[0]["Subject"]
    assert text.index("Story 1") < text.index("Story 2") < text.index("Story 3")
    assert (
        "2026-11-26 08:00 +03" in text and "2026-11-27 08:00 +03" in text
    )  # published and slot, Baghdad time
    assert redis_conn.zcard(keys.desk_held("morning")) == 0
    assert (
        digest_tick(jobcontext.current().config, redis_conn, now=datetime(2026, 11, 27, 5, 2, tzinfo=UTC))
        == []
    )


def test_throttle_rolls_extra_alerts_into_the_next_digest(desk_config, redis_conn: redis.Redis,
                                                          smtp_server: SmtpServer) -> None:
    desk_config(
        {
            "busy": {
                "topics": ["*"],
                "channels": ["all-mail"],
                "throttle": {"max": 2, "window_minutes": 60},
                "digest_schedule": "0 * * * *",
            }
        }
    )
    start = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)
    for n in range(1, 4):
        process_story(story(n, K1_EN, "en"))
        route_queued(redis_conn, start + timedelta(minutes=n))
    work(redis_conn)
    assert len(smtp_server.messages) == 2
    digest_tick(jobcontext.current().config, redis_conn, now=datetime(2026, 11, 26, 11, 0, 30, tzinfo=UTC))
    work(redis_conn)
    assert len(smtp_server.messages) == 3
    digest = smtp_server.messages[2].get_body(("plain",)).get_content()
    assert "Story 3" in digest and "throttled: over the desk's limit of 2 alerts per 60 min" in digest


def test_quiet_hours_hold_alerts_until_they_end_unless_urgent(desk_config, redis_conn: redis.Redis,
                                                              smtp_server: SmtpServer) -> None:
    desk_config(
        {
            "night": {
                "topics": ["*"],
                "channels": ["all-mail"],
                "timezone": "Asia/Baghdad",
                "quiet_hours": {"start": "22:00", "end": "07:00"},
                "digest_schedule": "0 12 * * *",
            }
        },
        urgent=True,
    )
    night = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 23:00 in Baghdad
    process_story(story(1, K1_EN, "en"))
    route_queued(redis_conn, night)
    process_story(
        story(2, "ISIS fighters attacked a checkpoint near the city, officials said on Thursday. " * 2, "en")
    )
    route_queued(redis_conn, night + timedelta(minutes=30))
    work(redis_conn)
    assert [m["Subject"] for m in smtp_server.messages] == [
        "[newsmon] URGENT ISIS / Daesh: Story 2 (Shafaq News)"
    ]
    config = jobcontext.current().config
    desk = config.alerts.all_desks()["night"]
    held_id, urgent_id = story(1, K1_EN, "en")["id"], story(2, "", "en")["id"]

    def routing(story_id: str, now: datetime) -> str:
        """What `newsmon explain` says routing did for the desk (with the clock at `now`)."""
        record = json.loads(redis_conn.hget(keys.explain(story_id), "night"))
        return routing_line(record, desk.timezone, next_digest(desk, now))

    assert routing(held_id, night + timedelta(hours=1)) == (
        "held for the next digest at 2026-11-26 23:00 +03 (held during quiet hours (22:00-07:00)); "
        "still waiting for the digest of 2026-11-27 07:00 +03")
    assert routing(urgent_id, night) == "sent at once at 2026-11-26 23:30 +03"
    assert digest_tick(config, redis_conn, now=datetime(2026, 11, 27, 3, 59, tzinfo=UTC)) == []  # 06:59 there
    assert digest_tick(config, redis_conn, now=datetime(2026, 11, 27, 4, 0, 30, tzinfo=UTC))
    work(redis_conn)
    assert len(smtp_server.messages) == 2
    held = smtp_server.messages[1].get_body(("plain",)).get_content()
    assert "Story 1" in held and "held during quiet hours (22:00-07:00)" in held
    assert routing(held_id, night + timedelta(hours=9)).startswith(
        "held for the next digest at 2026-11-26 23:00 +03 (held during quiet hours (22:00-07:00)); went "
        "out in the "
        "digest of 2026-11-27 07:00 +03 (1 story), handed to the desk's channels at "
    )


@pytest.mark.parametrize("script", [[500, 200], [429, 200], [500, 500, 429, 200]])
def test_webhook_failures_are_retried_and_delivered_once(desk_config, redis_conn: redis.Redis,
                                                         webhook: WebhookReceiver, smtp_server: SmtpServer,
                                                         script: list[int]) -> None:
    desk_config({"chatty": {"topics": ["*"], "channels": ["chat", "all-mail"]}})
    webhook.script = list(script)
    process_story(story(1, K1_EN, "en"))
    work(redis_conn)
    assert len(webhook.posts) == 1 and webhook.attempts == len(script)
    assert len(smtp_server.messages) == 1  # the other channel was not held up
    assert stats.total(redis_conn, "alerts:chat:retried", 60) == len(script) - 1
    assert stats.total(redis_conn, "alerts:chat:sent", 60) == 1


def test_smtp_down_delivers_once_when_back_and_chat_is_not_delayed(desk_config, redis_conn: redis.Redis,
                                                                   webhook: WebhookReceiver,
                                                                   smtp_server: SmtpServer) -> None:
    desk_config({"desk": {"topics": ["*"], "channels": ["all-mail", "chat"]}})
    smtp_server.stop()
    for n in (1, 2):
        process_story(story(n, K1_EN, "en"))
    work(redis_conn)  # SMTP refuses every retry: the jobs end in the failed registry
    assert len(webhook.posts) == 2 and smtp_server.messages == []
    from rq.registry import FailedJobRegistry

    registry = FailedJobRegistry(
        queue=Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    )
    failed = registry.get_job_ids()
    assert len(failed) == 2
    smtp_server.start()
    for job_id in failed:
        registry.requeue(job_id)
    work(redis_conn)
    assert sorted(m["Subject"] for m in smtp_server.messages) == [
        "[newsmon] K-1 air base (Kirkuk): Story 1 (Shafaq News)",
        "[newsmon] K-1 air base (Kirkuk): Story 2 (Shafaq News)",
    ]
    assert len(webhook.posts) == 2
