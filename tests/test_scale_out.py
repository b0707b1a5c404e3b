"""Scale-out: two crawler processes and two workers on one Redis share the work, without polling a
source twice in an interval and without sending an alert twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from newsmon import keys
from newsmon.app.replay import ReplaySite
from tests.conftest import Roles, add_feed, db_clients, feed_source, make_article, wait_for, write_config

pytestmark = pytest.mark.e2e

SOURCES = 6
INTERVAL = 3
SYNDICATED = "Drone downed near the K-1 base"
AGENCY = [
    (
        "A drone was shot down near the K-1 air base north-west of Kirkuk on Saturday, the joint operations "
        "command said in a statement carried by several outlets."
    ),
    (
        "The statement said the drone carried explosives and was brought down before it reached the base; "
        "no one was hurt and an investigation into where it was launched from has begun."
    ),
]


def polls(conn: redis.Redis, source_id: str) -> int:
    return int(conn.hget(keys.source_state(source_id), "polls_total") or 0)


def test_two_crawlers_and_two_workers_share_work_once(
    replay: ReplaySite, roles: Roles, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    sources = []
    for n in range(SOURCES):
        words = f"report{n} " + " ".join(f"w{n}x{i}" for i in range(40))
        own = make_article(
            f"/outlet{n}/k1",
            f"Rockets near K-1 base, report {n}",
            [
                f"Two rockets struck near the K-1 air base west of Kirkuk, outlet {n} reported on Friday.",
                words,
            ],
        )
        # the same agency story, carried by every outlet: its copies reach both workers at once, and the
        # desk must still hear of it once
        copy = make_article(f"/outlet{n}/agency", SYNDICATED, AGENCY)
        add_feed(replay, f"/outlet{n}/rss", [own, copy], outlet=f"Outlet {n}")
        sources.append(feed_source(f"outlet{n}", f"{replay.base_url}/outlet{n}/rss", interval=INTERVAL,
                                   outlet=f"Outlet {n}"))
    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              # each outlet's own report of the Friday rockets is one event; this test counts the work
              # shared between processes, so the desk hears of every outlet's report (events: false)
              "desks": {"desk": {"topics": ["k1_base"], "channels": ["box"], "events": False}}}
    config_dir = write_config(tmp_path / "config", sources, alerts)
    (config_dir / "newsmon.yaml").write_text("crawler: {max_polls_in_flight: 2}\n")
    started = time.monotonic()
    roles.start("scheduler", config_dir, "scheduler")
    for name in ("crawler-1", "crawler-2"):
        roles.start(name, config_dir, "crawler")
    for name in ("worker-1", "worker-2"):
        roles.start(name, config_dir, "worker")
    ids = [s["id"] for s in sources]
    wait_for(
        lambda: all(polls(redis_conn, i) >= 3 for i in ids), timeout=90, what="three polls of every source"
    )
    wait_for(lambda: outbox.exists() and len(outbox.read_text().splitlines()) >= SOURCES + 1, timeout=60,
             what="an alert per story")
    elapsed = time.monotonic() - started
    for source_id in ids:
        done = polls(redis_conn, source_id)
        fetched = replay.hits[f"/{source_id}/rss"]
        assert done <= fetched <= done + 1, (source_id, done, fetched)  # one fetch per poll
        assert done <= elapsed / INTERVAL + 2, (
            source_id,
            done,
            elapsed,
        )  # no more than one poll per interval
        assert replay.hits[f"/{source_id}/k1"] == 1  # each article fetched once
        assert replay.hits[f"/{source_id}/agency"] == 1
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert len(lines) == SOURCES + 1 and len({line["story_id"] for line in lines}) == SOURCES + 1  # once each
    assert [line["title"] for line in lines].count(SYNDICATED) == 1  # six copies, one cluster, one alert
    crawled = [name for name in ("crawler-1", "crawler-2") if "poll done" in roles.log(name)]
    worked = [name for name in ("worker-1", "worker-2")
              if "processed story=" in roles.log(name) or "sent key=" in roles.log(name)]
    assert crawled == ["crawler-1", "crawler-2"], "both crawlers should have taken polls"
    assert worked == ["worker-1", "worker-2"], "both workers should have taken jobs"


def test_four_workers_racing_on_copies_send_one_alert(
    roles: Roles, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    """Twelve outlets' copies of one agency story, each its own job, pushed at once to four idle workers
    (each blocked on the queue, so each is woken with a copy): one cluster, one alert, and for the desk
    that asks for breaking stories one breaking alert."""
    from rq import Queue, Worker
    from rq.registry import FinishedJobRegistry

    from newsmon.models import Story, story_id_for
    from newsmon.serializer import JobSerializer
    from newsmon.workers.archive import Archive, open_engine

    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "desks": {"desk": {"topics": ["k1_base"], "channels": ["box"],
                                 "breaking": {"outlets": 3, "minutes": 30}}}}
    config_dir = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")], alerts)
    for n in range(4):  # each on both queues: the copies race in the workers, then their decisions race
        roles.start(f"worker-{n + 1}", config_dir, "worker")
    wait_for(lambda: [str(w.get_state()) for w in Worker.all(connection=redis_conn)].count("idle") >= 4
             and len(db_clients(redis_conn, _type="normal")) >= 4, timeout=60, what="four idle workers")
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JobSerializer)
    alerts_queue = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JobSerializer)
    copies = []
    for n in range(12):
        url = f"https://outlet{n}.example/news/drone-k1"
        story = Story(id=story_id_for(url), source_id="s", outlet=f"Outlet {n}", language="en", url=url,
                      canonical_url=url, title=SYNDICATED, text=" ".join(AGENCY) + f" (Outlet {n})")
        copies.append(Queue.prepare_data(keys.PROCESS_STORY_JOB, args=(story.model_dump(mode="json"),),
                                         result_ttl=600))
    ids = [job.id for job in queue.enqueue_many(copies)]  # one pipeline: the copies arrive together
    wait_for(lambda: FinishedJobRegistry(queue=queue).count == 12, timeout=90, what="twelve copies processed")
    results = [queue.fetch_job(i).return_value() for i in ids]
    assert sorted(r["kind"] for r in results) == ["near"] * 11 + ["new"]
    assert all(r["handed_on"] for r in results)  # each copy carries the topic: twelve decisions race
    wait_for(lambda: FinishedJobRegistry(queue=alerts_queue).count >= 12 + 2 and alerts_queue.count == 0
             and not alerts_queue.started_job_registry.count, timeout=90, what="the decisions and deliveries")
    sent = [json.loads(line) for line in outbox.read_text().splitlines()]
    # the story and, once, the spread: the other copies held back
    assert sorted("BREAKING" in r["subject"] for r in sent) == [False, True], sent
    archive = Archive(open_engine(f"sqlite:///{tmp_path / 'data' / 'archive.sqlite'}"))
    clusters = {archive.get(r["story"])["cluster_id"] for r in results}
    assert len(clusters) == 1, clusters
    assert archive.cluster(clusters.pop())["member_count"] == 12  # the summary counts every copy
    workers_used = [n for n in range(4) if "processed story=" in roles.log(f"worker-{n + 1}")]
    assert len(workers_used) >= 2, "the copies should have been shared between workers"
