"""The `process` job on real Redis and SQLite: clusters, one alert per (route, cluster, topic), edits."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from newsmon import jobcontext, keys
from newsmon.models import Story, story_id_for
from newsmon.settings import load_config
from newsmon.urls import canonical_url
from newsmon.workers.archive import Archive, open_engine
from tests.conftest import process_and_decide as process_story
from tests.conftest import write_config

SOURCE = {"id": "s1", "name": "S", "outlet": "O", "language": "en", "kind": "feed", "url": "http://x/f"}
K1 = ("Two rockets struck the K-1 air base west of the city late on Friday, a security source said, "
      "adding that no casualties were reported and that the launch site was found in an orchard. ") * 3
OUTLETS = {"Shafaq News": {"affiliation": "private news agency, Baghdad"},
           "Kurdistan24": {"affiliation": "Kurdistan Democratic Party (KDP)"}}
PESH = "Peshmerga units later joined the search for the launch site south of the base. "


def story(url: str, text: str, outlet: str = "Shafaq News", title: str = "Rockets hit base") -> dict:
    canonical = canonical_url(url)
    return Story(id=story_id_for(canonical), source_id="s1", outlet=outlet, language="en", url=url,
                 canonical_url=canonical, title=title, text=text).model_dump(mode="json")


@pytest.fixture
def archive(tmp_path: Path, redis_conn: redis.Redis) -> Archive:
    alerts = {"channels": {"c": {"type": "console"}},
              "routes": [{"id": "desk", "topics": ["k1_base", "peshmerga"], "channels": ["c"]}]}
    config = load_config(write_config(tmp_path / "config", [SOURCE], alerts, outlets=OUTLETS))
    url = f"sqlite:///{tmp_path / 'archive.sqlite'}"
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn, archive_url=url))
    return Archive(open_engine(url))


def alert_topics(conn: redis.Redis) -> list[list[str]]:
    """The topics of each story handed on to the desk, in order."""
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer)
    return [[t["topic"] for t in job.args[0]["alerts"]["desk"]["topics"]] for job in queue.jobs]


def test_copies_join_the_cluster_and_alert_only_for_new_topics(
    archive: Archive, redis_conn: redis.Redis
) -> None:
    first = process_story(story("https://shafaq.com/en/Security/rockets", K1))
    assert first["kind"] == "new" and first["alerts"] == 1
    assert alert_topics(redis_conn) == [["k1_base"]]

    copy = process_story(
        story(
            "https://www.kurdistan24.net/en/story/1/rockets?utm_source=x",
            K1 + "More soon.",
            outlet="Kurdistan24",
            title="K1 base attacked",
        )
    )
    assert copy["kind"] == "near" and copy["cluster"] == first["cluster"] and copy["alerts"] == 0

    richer = process_story(story("https://www.rudaw.net/english/middleeast/iraq/2111202601", K1 + PESH,
                                 outlet="Rudaw", title="Rockets hit K-1"))
    assert richer["cluster"] == first["cluster"]
    assert alert_topics(redis_conn) == [["k1_base"], ["peshmerga"]]  # only the topic the cluster lacked

    cluster = archive.cluster(first["cluster"])
    assert cluster["member_count"] == 3 and cluster["first_story_id"] == first["story"]
    assert cluster["outlets"] == ["Shafaq News", "Kurdistan24", "Rudaw"]
    assert set(cluster["topics"]) == {"k1_base", "peshmerga"}
    last = archive.get(richer["story"])
    assert last["dedupe_kind"] == "near" and last["duplicate_of"] and last["similarity"] >= 0.5
    queue = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    assert queue.jobs[-1].args[0]["alerts"]["desk"]["also_reported_by"] == 2
    # who is speaking: the outlet's affiliation from the catalogue, and the cluster's other outlets with
    # theirs (an outlet the catalogue does not list has the catalogue's default)
    assert queue.jobs[0].args[0]["alerts"]["desk"]["affiliation"] == "private news agency, Baghdad"
    assert queue.jobs[-1].args[0]["alerts"]["desk"]["affiliation"] == "not established"
    assert queue.jobs[-1].args[0]["alerts"]["desk"]["also"] == [
        {"outlet": "Shafaq News", "affiliation": "private news agency, Baghdad"},
        {"outlet": "Kurdistan24", "affiliation": "Kurdistan Democratic Party (KDP)"}]


def test_edit_in_place_updates_without_alerting_again(archive: Archive, redis_conn: redis.Redis) -> None:
    url = "https://shafaq.com/en/Security/rockets"
    first = process_story(story(url, K1))
    edited = process_story(story(url, "UPDATE: the attack caused no damage. " + K1))
    assert edited["kind"] == "url" and edited["cluster"] == first["cluster"] and edited["alerts"] == 0
    assert archive.get(first["story"])["text"].startswith("UPDATE")
    assert archive.count() == 1
    grown = process_story(story(url, K1 + PESH))
    assert grown["alerts"] == 1 and alert_topics(redis_conn) == [["k1_base"], ["peshmerga"]]


def test_retried_job_enqueues_an_alert_it_had_not_enqueued(archive: Archive, redis_conn: redis.Redis) -> None:
    from newsmon.alerts.claims import claim_cluster_topics
    from newsmon.workers.matcher import matcher_for

    payload = story("https://shafaq.com/en/Security/rockets", K1)
    config = jobcontext.current().config
    topics = matcher_for(config).match("", K1).matches
    # a first attempt that claimed the topics and died before enqueuing the alert
    assert claim_cluster_topics(config, redis_conn, Story.model_validate(payload), payload["id"], topics)
    assert process_story(payload)["alerts"] == 1
    assert process_story(payload)["alerts"] == 0  # done now: a further run does not alert again
    assert alert_topics(redis_conn) == [["k1_base"]]


def test_a_batch_processes_each_story_and_a_bad_one_costs_only_itself(archive: Archive,
                                                                     redis_conn: redis.Redis) -> None:
    """A poll's stories come as one job; a story that cannot be processed goes to a job of its own (with
    retries, then the failed registry) and the others are archived and alerted as if alone."""
    from tests.conftest import batch_and_decide as process_stories

    good = story("https://shafaq.com/en/Security/rockets", K1)
    copy = story("https://www.kurdistan24.net/en/story/1/rockets", K1 + " More soon.", outlet="Kurdistan24")
    other = story("https://www.rudaw.net/english/economy/oil", "Oil exports through the pipeline resumed on "
                  "Monday after a pause of two weeks, the ministry said in a statement. " * 3, outlet="Rudaw")
    bad = {**story("https://shafaq.com/en/broken", K1), "language": None}  # not a valid story
    result = process_stories([good, bad, copy, other])
    assert [r["kind"] for r in result["stories"]] == ["new", "near", "new"]
    assert archive.count() == 3 and archive.get(bad["id"]) is None
    assert alert_topics(redis_conn) == [["k1_base"]]  # one alert for the story and its copy
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    assert [(j.func_name, j.args[0]["id"]) for j in queue.jobs] == [(keys.PROCESS_STORY_JOB, bad["id"])]
    assert queue.jobs[0].retries_left == keys.PROCESS_RETRY[0]
    again = process_stories([good, bad, copy, other])  # the batch retried by RQ (a worker died mid-way)
    assert [r["kind"] for r in again["stories"]] == ["url", "url", "url"] and archive.count() == 3
    assert alert_topics(redis_conn) == [["k1_base"]] and len(queue.jobs) == 1  # nothing twice


def test_a_story_the_database_refuses_is_rolled_back_alone(archive: Archive, redis_conn: redis.Redis) -> None:
    """The batch is one transaction with a savepoint per story: a row the database refuses (here a
    trigger, as a constraint would) is rolled back and taken out of the dedupe index, goes to a job of
    its own, and the others are committed and alerted."""
    from sqlalchemy import text

    from tests.conftest import batch_and_decide as process_stories

    with archive.engine.begin() as conn:
        conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON stories WHEN NEW.title = 'refuse me' "
                          "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"))
    refused = story("https://shafaq.com/en/Security/rockets", K1, title="refuse me")
    other = story("https://www.rudaw.net/english/kurdistan/peshmerga", PESH * 4, outlet="Rudaw")
    result = process_stories([refused, other])
    assert [r["story"] for r in result["stories"]] == [other["id"]] and len(result["alone"]) == 1
    assert archive.get(refused["id"]) is None and archive.get(other["id"]) is not None
    assert alert_topics(redis_conn) == [["peshmerga"]]
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    assert [j.args[0]["id"] for j in queue.jobs] == [refused["id"]]
    copy = process_stories([story("https://www.kurdistan24.net/en/story/9/rockets", K1 + " More soon.",
                                  outlet="Kurdistan24")])
    assert copy["stories"][0]["kind"] == "new"  # the refused story left the index: nothing points at it
