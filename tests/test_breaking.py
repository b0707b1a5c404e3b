"""Breaking stories: spread across outlets and topic surges, with a driven clock; on Redis with two
workers at once; through the worker and the desks; the batch contract and the backtest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from newsmon import breaking, jobcontext, keys
from newsmon.alerts.breaking import claim
from newsmon.alerts.render import render_delivery
from newsmon.models import BreakingEvent, Delivery, Sighting, Story, StoryAlert, TopicMatch, story_id_for
from newsmon.settings import load_config
from newsmon.urls import canonical_url
from newsmon.workers.archive import Archive, open_engine
from tests.conftest import FIXTURES, SHIPPED_CONFIG, write_config
from tests.conftest import process_and_decide as process_story

T0 = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # 10:00 in Baghdad
SEED = (FIXTURES / "seed" / "000_128dad676d5a1ee3.txt").read_text(encoding="utf-8")
SEED_TITLE, _, SEED_TEXT = SEED.partition("\n")
OUTLETS = [("Kurdistan24", "ar"), ("Shafaq News", "ar"), ("Rudaw", "ar"), ("Alsumaria", "ar"), ("INA", "ar")]


def seen(outlet: str, minutes: float, story: str = "") -> Sighting:
    return Sighting(
        outlet=outlet,
        at=T0 + timedelta(minutes=minutes),
        language="ar",
        story_id=story or outlet,
        title="t",
        url=f"https://{outlet.replace(' ', '').lower()}.example/1",
    )


def test_three_outlets_within_the_window_fire_once_and_copies_of_one_outlet_count_once() -> None:
    detector = breaking.Detector(outlets=3, minutes=30)
    events = []
    for outlet, minutes in (("Kurdistan24", 0), ("Kurdistan24", 2), ("Shafaq News", 8), ("Kurdistan24", 9)):
        events += detector.add("c1", seen(outlet, minutes), False, [])
    assert events == []  # two outlets, however many copies
    events += detector.add("c1", seen("Rudaw", 14), False, [])
    assert [e.kind for e in events] == ["cluster"]
    assert [s.outlet for s in events[0].outlets] == ["Kurdistan24", "Shafaq News", "Rudaw"]
    assert events[0].minutes == 14.0
    assert detector.add("c1", seen("INA", 20), False, []) == []  # a fourth outlet adds nothing


def test_the_same_copies_over_five_hours_fire_nothing() -> None:
    detector = breaking.Detector(outlets=3, minutes=30)
    events = []
    for n, (outlet, _) in enumerate(OUTLETS):
        events += detector.add("c1", seen(outlet, n * 75), False, [])
    assert events == []
    assert breaking.spread([seen(o, n * 75) for n, (o, _) in enumerate(OUTLETS)], 3, 30) is None


def test_a_late_arrival_with_an_earlier_time_becomes_the_first_story() -> None:
    within = breaking.spread([seen("Rudaw", 20), seen("Shafaq News", 25), seen("Kurdistan24", 5)], 3, 30)
    assert within is not None and [s.outlet for s in within] == ["Kurdistan24", "Rudaw", "Shafaq News"]


def test_a_topic_surge_fires_once_and_clears() -> None:
    detector = breaking.Detector(outlets=3, minutes=30)
    for day in range(1, 15):  # the usual hour: two new Kirkuk stories
        for n in range(2):
            detector.add(f"old{day}-{n}", seen("INA", -day * 1440 + 10 * n), True, ["kirkuk"])
    events = []
    for n in range(14):  # fourteen new clusters in the hour
        events += detector.add(f"new{n}", seen("INA", n * 4), True, ["kirkuk"], {"kirkuk": "Kirkuk"})
    assert [(e.kind, e.topic, e.topic_name) for e in events] == [("surge", "kirkuk", "Kirkuk")]
    threshold = breaking.surge_threshold(2.0)
    assert events[0].count == threshold and events[0].usual == 2.0
    quiet = detector.add("later", seen("INA", 4 * 60), True, ["kirkuk"])  # hours later: the surge has ended
    assert quiet == [] and detector.surging["kirkuk"] is False
    again = []
    for n in range(threshold):
        again += detector.add(f"second{n}", seen("INA", 5 * 60 + n), True, ["kirkuk"])
    assert [e.kind for e in again] == ["surge"]  # a new surge is a new event


def test_surge_threshold_follows_the_usual_hour() -> None:
    assert breaking.surge_threshold(0.0) == breaking.SURGE_MINIMUM
    assert breaking.surge_threshold(2.0) == 9  # P(X >= 9 | 2) < 0.001 <= P(X >= 8 | 2)
    assert breaking.surge_threshold(20.0) > 30


def test_two_workers_recording_copies_at_once_fire_once(redis_url: str, redis_conn: redis.Redis) -> None:
    """Copies from five outlets recorded by two connections at once: the desk's claim is won once."""
    barrier = threading.Barrier(2)
    won: list[str] = []

    def worker(name: str, outlets: list[str]) -> None:
        conn = redis.Redis.from_url(redis_url)
        barrier.wait()
        for outlet in outlets:
            breaking.record_sighting(conn, "c1", seen(outlet, 1))  # a worker archiving a copy
            within = breaking.spread(breaking.sightings(conn, "c1"), 3, 30)  # the alerts role deciding
            if within and claim(conn, "desk", breaking.cluster_event("c1", within, T0)):
                won.append(name)

    threads = [threading.Thread(target=worker, args=("a", ["Kurdistan24", "Rudaw", "INA"])),
               threading.Thread(target=worker, args=("b", ["Shafaq News", "Alsumaria", "Kurdistan24"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    breaking.record_sighting(redis_conn, "c1", seen("Rudaw", 3))
    assert len(breaking.sightings(redis_conn, "c1")) == 5  # each outlet once


@pytest.fixture
def desks(tmp_path: Path, redis_conn: redis.Redis):
    alerts = {"channels": {"c": {"type": "console"}},
              "desks": {"wire": {"topics": ["k1_base"], "channels": ["c"],
                                 "breaking": {"outlets": 3, "minutes": 30, "urgent": True}},
                        "plain": {"topics": ["k1_base"], "channels": ["c"]}}}
    config = load_config(write_config(tmp_path / "config", [], alerts))
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn,
                                             archive_url=f"sqlite:///{tmp_path / 'archive.sqlite'}"))
    return config


def breaking_jsonl(lines: list[str], *options: str) -> subprocess.CompletedProcess[str]:
    """`newsmon breaking --jsonl` on the shipped config, fed these JSON lines."""
    return subprocess.run(
        [sys.executable, "-m", "newsmon", "--config-dir", str(SHIPPED_CONFIG), "breaking", "--jsonl",
         *options],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120, check=False,
    )


def copy_of_seed(n: int, outlet: str, minutes: float) -> dict:
    url = f"https://{outlet.replace(' ', '').lower()}.example/ar/{n}"
    text = SEED_TEXT if n == 0 else SEED_TEXT + f" تابعونا على {outlet}"
    return Story(id=story_id_for(canonical_url(url)), source_id="s", outlet=outlet, language="ar", url=url,
                 canonical_url=canonical_url(url), title=SEED_TITLE, text=text,
                 published=T0 + timedelta(minutes=minutes)).model_dump(mode="json")


def route_jobs(conn: redis.Redis) -> list[dict]:
    return [job.args[0] for job in Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer).jobs]


def test_the_worker_hands_one_breaking_alert_to_the_desk_that_asks(desks, redis_conn: redis.Redis) -> None:
    for n, (outlet, minutes) in enumerate((("Kurdistan24", 0), ("Kurdistan24", 1), ("Shafaq News", 8),
                                           ("Rudaw", 14), ("INA", 20))):
        process_story(copy_of_seed(n, outlet, minutes))
    payloads = route_jobs(redis_conn)
    breaking_alerts = [p["alerts"] for p in payloads if any(a.get("breaking") for a in p["alerts"].values())]
    assert len(breaking_alerts) == 1 and list(breaking_alerts[0]) == [
        "wire"
    ]  # the desk without `breaking`: none
    alert = StoryAlert.model_validate(breaking_alerts[0]["wire"])
    assert alert.urgent and alert.breaking is not None and alert.breaking.kind == "cluster"
    assert [s.outlet for s in alert.breaking.outlets] == ["Kurdistan24", "Shafaq News", "Rudaw"]
    assert alert.title == SEED_TITLE and alert.outlet == "Kurdistan24"
    assert alert.story_id == copy_of_seed(0, "Kurdistan24", 0)["id"]  # the cluster's first story
    # counted for /metrics and listed as spreading now on the web page
    from newsmon import stats
    from newsmon.app.web import spreading_now

    assert stats.totals(redis_conn, ["breaking:cluster", "breaking:surge"], 60) == {"breaking:cluster": 1,
                                                                                 "breaking:surge": 0}
    [now] = spreading_now(redis_conn)
    assert (
        now["title"] == SEED_TITLE and now["spread"] == "3 outlets in 14 min: Kurdistan24, Shafaq News, Rudaw"
    )
    from newsmon.app.web import create_app

    page = create_app(desks, redis_conn, lambda n: []).test_client().get("/").get_data(as_text=True)
    assert '<table id="spreading">' in page and "3 outlets in 14 min: Kurdistan24, Shafaq News, Rudaw" in page


def test_a_breaking_alert_reads_well_in_arabic() -> None:
    event = BreakingEvent(kind="cluster", cluster="c1", at=T0 + timedelta(minutes=18), minutes=18.0, outlets=[
        seen("Kurdistan24", 0), seen("Shafaq News", 8), seen("Rudaw", 18)])
    alert = StoryAlert(story_id="s", cluster_id="c1", title=SEED_TITLE, url="https://k24.example/ar/1",
                       outlet="Kurdistan24", language="ar", published=T0, snippets=[], breaking=event,
                       topics=[TopicMatch(topic="k1_base", name="K-1 air base", hits=[])])
    rendered = render_delivery(Delivery(desk_id="wire", channel_id="c", kind="instant", items=[alert]))
    assert rendered.subject == f"[newsmon] BREAKING K-1 air base: {SEED_TITLE} — 3 outlets in 18 min"
    line = ("reported by 3 outlets in 18 minutes: Kurdistan24 10:00 (Arabic), Shafaq News 10:08 (Arabic), "
            "Rudaw 10:18 (Arabic)")
    assert f"BREAKING: {line}" in rendered.text and line in rendered.html and "BREAKING" in rendered.chat_body


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_batch_contract_on_copies_of_the_seed_story(tmp_path: Path) -> None:
    lines = []
    for n, (outlet, minutes) in enumerate((("Kurdistan24", 0), ("Shafaq News", 6), ("Kurdistan24", 7),
                                           ("Rudaw", 12), ("INA", 25))):
        story = copy_of_seed(n, outlet, minutes)
        lines.append(
            json.dumps(
                {
                    "id": f"s{n}",
                    "url": story["url"],
                    "title": SEED_TITLE,
                    "text": story["text"],
                    "outlet": outlet,
                    "published": story["published"],
                    "language": "ar",
                },
                ensure_ascii=False,
            )
        )
    result = breaking_jsonl(lines)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 1
    event = events[0]
    assert (event["kind"], event["cluster"], event["first_story"], event["stories"]) == (
        "cluster",
        "s0",
        "s0",
        ["s0", "s1", "s3"],
    )
    assert [o["outlet"] for o in event["outlets"]] == ["Kurdistan24", "Shafaq News", "Rudaw"]
    assert event["at"] == (T0 + timedelta(minutes=12)).isoformat()
    stricter = breaking_jsonl(lines, "--outlets", "3", "--minutes", "10")
    assert stricter.stdout == ""  # the third outlet came 12 minutes after the first


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_backtest_breaking_on_a_test_archive(tmp_path: Path, redis_conn: redis.Redis) -> None:
    data_dir = tmp_path / "data"
    archive = Archive(open_engine(f"sqlite:///{data_dir / 'archive.sqlite'}"))
    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    config = load_config(write_config(tmp_path / "config", [], alerts))
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn,
                                             archive_url=f"sqlite:///{data_dir / 'archive.sqlite'}"))
    for n, (outlet, minutes) in enumerate((("Kurdistan24", 0), ("Shafaq News", 9), ("Rudaw", 16))):
        process_story(copy_of_seed(n, outlet, minutes))
    assert archive.count() == 3
    env = {**os.environ, "NEWSMON_DATA_DIR": str(data_dir)}
    base = [sys.executable, "-m", "newsmon", "--config-dir", str(SHIPPED_CONFIG), "backtest", "--breaking",
            "--since", "3650d"]
    found = subprocess.run(base, capture_output=True, text=True, timeout=120, check=False, env=env)
    assert found.returncode == 0, found.stderr
    assert "2026-11-16 10:16 +03  BREAKING" in found.stdout and "3 outlets in 16 min" in found.stdout
    assert "1 breaking event with --outlets 3 --minutes 30" in found.stdout
    none = subprocess.run(
        [*base, "--outlets", "4"], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert "0 breaking events with --outlets 4" in none.stdout


def test_a_desks_breaking_settings_are_validated(tmp_path: Path) -> None:
    from newsmon.errors import ConfigError

    alerts = {
        "channels": {"c": {"type": "console"}},
        "desks": {"wire": {"topics": ["*"], "channels": ["c"], "breaking": {"outlets": 1, "minutes": 30}}},
    }
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path / "config", [], alerts))
    assert "desks.wire.breaking.outlets" in str(error.value)


def test_a_digest_desk_gets_the_breaking_alert_in_its_digest_and_explain_says_so(
        tmp_path: Path, redis_conn: redis.Redis) -> None:
    from newsmon.alerts.jobs import route_story, send_digest
    from newsmon.app.cli_archive import routing_line

    alerts = {
        "channels": {"c": {"type": "console"}},
        "desks": {
            "evening": {
                "topics": ["k1_base"],
                "channels": ["c"],
                "mode": "digest",
                "digest_schedule": "0 18 * * *",
                "breaking": {"outlets": 3, "minutes": 30},
            }
        },
    }
    config = load_config(write_config(tmp_path / "config", [], alerts))
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn,
                                             archive_url=f"sqlite:///{tmp_path / 'archive.sqlite'}"))
    for n, (outlet, minutes) in enumerate((("Kurdistan24", 0), ("Shafaq News", 8), ("Rudaw", 14))):
        process_story(copy_of_seed(n, outlet, minutes))
    for payload in route_jobs(redis_conn):
        route_story(payload, now=T0 + timedelta(minutes=15))
    held = [StoryAlert.model_validate_json(m) for m in redis_conn.zrange(keys.desk_held("evening"), 0, -1)]
    assert sorted(bool(a.breaking) for a in held) == [False, True]
    assert send_digest("evening", (T0 + timedelta(hours=8)).isoformat()) == 2
    queue = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    [digest] = [
        Delivery.model_validate(j.args[0]) for j in queue.jobs if j.func_name == keys.DELIVER_JOB
    ]
    text = render_delivery(digest).text
    assert "BREAKING: reported by 3 outlets in 14 minutes: Kurdistan24 10:00 (Arabic)" in text
    first = copy_of_seed(0, "Kurdistan24", 0)["id"]
    record = json.loads(redis_conn.hget(keys.explain(first), "evening:breaking"))
    assert routing_line(record, "Asia/Baghdad").startswith(
        "held for the next digest at 2026-11-16 10:15 +03 (the desk takes digests only); went out in "
        "the digest "
        "of 2026-11-16 18:00 +03 (2 stories)"
    )
    # `newsmon explain`: the first story names its breaking alert, a copy says its cluster broke
    import io

    from newsmon.app.cli_archive import print_explanation
    from newsmon.workers.explain import explain

    engine = open_engine(f"sqlite:///{tmp_path / 'archive.sqlite'}")
    out = io.StringIO()
    print_explanation(explain(config, engine, redis_conn, first), out)
    assert (
        "  breaking alert with this story: held for the next digest at 2026-11-16 10:15 +03" in out.getvalue()
    )
    out = io.StringIO()
    print_explanation(explain(config, engine, redis_conn, copy_of_seed(2, "Rudaw", 14)["id"]), out)
    assert "its cluster broke (spread across outlets)" in out.getvalue()


def test_a_surge_on_redis_starts_once_for_every_worker_and_ends(redis_conn: redis.Redis) -> None:
    """The hourly counts and the running surge live in Redis: two connections (two workers) asking at
    once see one start; a quiet hour ends it and the next surge starts again."""
    for day in range(1, 15):
        for n in range(2):
            breaking.record_new_cluster(
                redis_conn, "kirkuk", f"old{day}-{n}", T0 - timedelta(days=day, minutes=-10 * n)
            )
    threshold = breaking.surge_threshold(2.0)
    for n in range(threshold - 1):
        count, usual = breaking.record_new_cluster(redis_conn, "kirkuk", f"new{n}", T0 + timedelta(minutes=n))
        assert not breaking.surge_change(redis_conn, "kirkuk", count, usual, T0)
    count, usual = breaking.record_new_cluster(redis_conn, "kirkuk", "last", T0 + timedelta(minutes=20))
    assert (count, usual) == (threshold, 2.0)
    other = redis.Redis(connection_pool=redis_conn.connection_pool)
    assert [breaking.surge_change(c, "kirkuk", count, usual, T0) for c in (redis_conn, other)] == [
        True,
        False,
    ]
    later = T0 + timedelta(hours=3)
    count, usual = breaking.record_new_cluster(redis_conn, "kirkuk", "quiet", later)
    assert count == 1 and not breaking.surge_change(redis_conn, "kirkuk", count, usual, later)
    assert not redis_conn.exists(keys.surge_active("kirkuk"))  # the surge has ended


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_batch_contract_reports_a_surge_with_its_stories() -> None:
    """Five new Kirkuk stories within the hour, on a topic with no usual hour: one surge event naming
    them (at least five is the minimum); the topics given in the input are used as they are."""
    import random

    rng = random.Random(7)
    lines = []
    for n in range(7):
        words = " ".join(
            "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(80)
        )
        lines.append(json.dumps({"id": f"k{n}", "url": f"https://o{n}.example/{n}", "title": f"Kirkuk {n}",
                                 "text": words, "outlet": f"O{n}", "language": "en", "topics": ["kirkuk"],
                                 "published": (T0 + timedelta(minutes=9 * n)).isoformat()}))
    result = breaking_jsonl(lines, "--outlets", "50")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["kind"], e["topic"], e["stories"], e["count"]) for e in events] == [
        ("surge", "kirkuk", ["k0", "k1", "k2", "k3", "k4"], 5)]
    assert events[0]["at"] == (T0 + timedelta(minutes=36)).isoformat()


def test_the_status_page_with_redis_down_answers_503_and_logs_one_line_per_outage(
        caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import socket

    from newsmon.app.web import create_app

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    down = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    client = create_app(load_config(SHIPPED_CONFIG), down, lambda n: []).test_client()
    with caplog.at_level(logging.WARNING, logger="newsmon.app.web"):
        paths = ("/", "/metrics", "/api/status", "/sources/k24-ar", "/", "/metrics")
        answers = [client.get(path) for path in paths]
    assert [a.status_code for a in answers] == [503] * 6
    assert all("cannot reach Redis (ConnectionError)" in a.get_data(as_text=True) for a in answers)
    assert all(len(a.get_data(as_text=True).splitlines()) == 1 for a in answers)
    records = [r for r in caplog.records if r.name == "newsmon.app.web"]
    assert len(records) == 1 and "Redis unreachable" in records[0].getMessage()
    assert records[0].exc_info is None and not [r for r in caplog.records if r.exc_info]
    assert client.get("/healthz").status_code == 503  # the health check says unhealthy in its own words
