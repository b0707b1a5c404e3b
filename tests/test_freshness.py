"""How late newsmon is: delays from publication to first sight and to the first alert, per source, with
sources whose clock is off flagged and left out; in status, /metrics and the pages."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from newsmon import freshness, jobcontext
from newsmon.alerts.jobs import deliver
from newsmon.models import Delivery, Story, StoryAlert, TopicMatch, story_id_for
from newsmon.settings import load_config
from newsmon.status import collect
from newsmon.urls import canonical_url
from tests.conftest import process_and_decide, write_config

SOURCE = {"id": "s1", "name": "S", "outlet": "O", "language": "en", "kind": "feed", "url": "http://x/f"}
K1 = ("Two rockets struck the K-1 air base west of Kirkuk late on Friday, a security source said, adding "
      "that no casualties were reported and that the launch site was found in an orchard. ")


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(time.time() - seconds_ago, tz=UTC)


def samples(conn: redis.Redis, source: str, stage: str, delays: list[float], published_at=None) -> None:
    now = time.time()
    with conn.pipeline() as pipe:
        for n, delay in enumerate(delays):
            published = published_at(n) if published_at else datetime.fromtimestamp(now - delay, tz=UTC)
            freshness.record(pipe, source, f"story{n}", stage, published, published.timestamp() + delay)
        pipe.execute()


def test_percentiles_per_day_and_week(redis_conn: redis.Redis) -> None:
    samples(redis_conn, "a", "seen", [float(d) for d in range(1, 101)])  # 1 s ... 100 s, all today
    row = freshness.read(redis_conn, ["a", "none"])
    day = row["a"]["seen"]["day"]
    assert (day["n"], day["p50"], day["p95"]) == (100, 50.0, 95.0)
    assert row["a"]["seen"]["week"]["n"] == 100 and row["a"]["clock"] is None
    assert day["histogram"]["counts"][:2] == [30, 60] and day["histogram"]["sum"] == 5050.0
    assert row["none"]["seen"]["day"] == {"n": 0, "p50": None, "p95": None,
                                         "histogram": {"le": list(freshness.BUCKETS), "counts": [0] * 10,
                                                       "sum": 0}}
    # two days ago: in the week, not the day
    with redis_conn.pipeline() as pipe:
        freshness.record(pipe, "b", "old", "seen", at(2 * 86400 + 600), time.time() - 2 * 86400)
        freshness.record(pipe, "b", "new", "seen", at(60), time.time())
        pipe.execute()
    b = freshness.read(redis_conn, ["b"])["b"]["seen"]
    assert b["day"]["n"] == 1 and b["week"]["n"] == 2 and b["week"]["p95"] == 600.0


def test_a_source_whose_clock_is_off_is_flagged_and_left_out(redis_conn: redis.Redis) -> None:
    samples(redis_conn, "ahead", "seen", [60, 90, -3600])  # one story "published" an hour from now
    ahead = freshness.read(redis_conn, ["ahead"])["ahead"]
    assert ahead["clock"].startswith("publication times in the future: 1 of the last 3 stories, up to 60 min")
    assert ahead["seen"]["day"]["n"] == 0 and ahead["seen"]["day"]["p50"] is None
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    samples(redis_conn, "dates", "seen", [3600.0 * (n + 1) for n in range(5)],
            published_at=lambda n: midnight - timedelta(days=n))
    dates = freshness.read(redis_conn, ["dates"])["dates"]
    assert dates["clock"] == ("every publication time of the last 5 stories is 00:00:00 UTC: "
                              "dates without times")
    assert dates["seen"]["week"]["n"] == 0
    samples(redis_conn, "fine", "seen", [60.0, 120.0, 180.0, 240.0, 300.0])  # times of day differ
    assert freshness.read(redis_conn, ["fine"])["fine"]["clock"] is None


@pytest.fixture
def context(tmp_path: Path, redis_conn: redis.Redis):
    alerts = {"channels": {"box": {"type": "outbox", "path": str(tmp_path / "outbox.jsonl")}},
              "routes": [{"id": "desk", "topics": ["k1_base"], "channels": ["box"]}]}
    config = load_config(write_config(tmp_path / "config", [SOURCE], alerts))
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn,
                                             archive_url=f"sqlite:///{tmp_path / 'archive.sqlite'}"))
    return config


def story(url: str, published: datetime | None, first_poll: bool = False) -> dict:
    return Story(id=story_id_for(canonical_url(url)), source_id="s1", outlet="O", language="en", url=url,
                 canonical_url=canonical_url(url), title="Rockets hit the K-1 base", text=K1 * 3,
                 published=published, fetched=at(5), first_poll=first_poll).model_dump(mode="json")


def test_the_worker_and_the_delivery_record_the_delays_status_and_metrics_show(
        context, redis_conn: redis.Redis) -> None:
    first = process_and_decide(story("https://o.example/1", at(155)))
    assert first["kind"] == "new"
    process_and_decide(story("https://o.example/undated", None))  # no publication time: no sample
    process_and_decide(story("https://o.example/backlog", at(9000), first_poll=True))  # a backlog: none
    alert = StoryAlert(story_id=first["story"], source_id="s1", cluster_id=first["cluster"], title="t",
                       url="https://o.example/1", outlet="O", language="en", published=at(185), snippets=[],
                       topics=[TopicMatch(topic="k1_base", name="K-1", hits=[])])
    for desk in ("desk", "other"):  # the story's first alert is the sample; the second desk's is not
        assert deliver(Delivery(desk_id=desk, channel_id="box", kind="instant", items=[alert])
                       .model_dump(mode="json")) == "sent"
    row = next(r for r in collect(context, redis_conn)["sources"] if r["id"] == "s1")["freshness"]
    assert row["clock"] is None
    seen, sent = row["seen"]["day"], row["alert"]["day"]
    assert seen["n"] == 1 and 145 <= seen["p50"] <= 155  # published 155 s ago, fetched 5 s ago
    assert sent["n"] == 1 and 180 <= sent["p50"] <= 200

    from newsmon.app.web import create_app

    app = create_app(context, redis_conn, lambda _n: [])
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'newsmon_story_delay_seconds_bucket{le="120.0",source="s1",stage="seen"} 0.0' in metrics
    assert 'newsmon_story_delay_seconds_bucket{le="300.0",source="s1",stage="seen"} 1.0' in metrics
    assert 'newsmon_story_delay_seconds_count{source="s1",stage="alert"} 1.0' in metrics
    assert 'newsmon_source_clock_off{source="s1"} 0.0' in metrics
    page = app.test_client().get("/sources/s1").get_data(as_text=True)
    assert "publication → first seen: last day p50 2m, p95 2m (n=1)" in page
