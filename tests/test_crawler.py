"""The crawler process against the replay site: new entries enqueued, old ones skipped, bad input named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

from newsmon import keys
from newsmon.app.replay import Fixed, ReplaySite
from newsmon.crawler import polls
from newsmon.scheduler.clock import LeaderLock, request_poll
from newsmon.settings import load_config
from tests.conftest import (
    FIXTURES,
    Roles,
    add_feed,
    feed_source,
    make_article,
    poll_finished,
    polls_total,
    queued_stories,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e  # starts newsmon in subprocesses

ALERTS = {"channels": {"c": {"type": "console"}}, "routes": [{"id": "r", "topics": ["*"], "channels": ["c"]}]}
BODY = ["Rockets struck near the K-1 base west of Kirkuk on Friday, officials said in a statement.",
        "No casualties were reported and the coalition troops at the base were unharmed."]


def stories(conn: redis.Redis, expected: int | None = None) -> list[dict]:
    """The stories enqueued so far; with `expected`, wait until that many are there (the poll is recorded
    when its last callback has run, which can be a moment before its last item is enqueued)."""

    def read() -> list[dict]:
        return queued_stories(conn)

    if expected is not None:
        wait_for(lambda: len(read()) >= expected, timeout=30, what=f"{expected} stories enqueued")
    return read()


@pytest.fixture
def crawl(replay: ReplaySite, roles: Roles, redis_conn: redis.Redis, tmp_path: Path):
    """Start a crawler for sources on the replay site; returns a function that polls a source and waits."""
    base = replay.base_url
    add_feed(replay, "/good/rss", [make_article("/good/1", "K-1 base attacked", BODY),
                                   make_article("/good/2", "Second story about Kirkuk", BODY[::-1])])
    add_feed(replay, "/mixed/rss", [make_article("/mixed/ok", "Fine article", BODY),
                                    make_article("/mixed/broken", "Server error", BODY),
                                    make_article("/mixed/pdf", "A PDF", BODY)])
    replay.set_fixed("/mixed/broken", Fixed(status=500, body=b"<html>oops</html>"))
    replay.set_fixed("/mixed/pdf", Fixed(body=b"%PDF-1.4 ...", content_type="application/pdf"))
    replay.set_fixed("/challenge/rss", Fixed(
        body=(FIXTURES / "real" / "nrttv.com" / "sucuri_cloudproxy_challenge_2018.html").read_bytes()))
    replay.set_fixed("/forbidden/rss", Fixed(status=403, body=b"Forbidden"))
    replay.set_fixed(
        "/robots.txt", Fixed(body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    )
    add_feed(replay, "/polite/rss", [make_article("/private/1", "Behind robots.txt", BODY),
                                     make_article("/polite/ok", "Allowed story", BODY)])
    replay.set_fixed("/malformed/rss", Fixed(
        content_type="application/rss+xml",
        body=f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & co</title>
        <item><title>Kept despite the broken XML</title><link>{base}/good/1</link></item>""".encode()))
    add_feed(
        replay,
        "/big/rss",
        [
            make_article(
                f"/big/{n}",
                f"Story {n} of a busy outlet",
                [f"Report number {n} from the busy outlet. " + BODY[n % 2], BODY[1]],
            )
            for n in range(20)
        ],
    )
    long_text = " ".join(BODY) * 3
    replay.set_fixed("/untitled/rss", Fixed(
        content_type="application/rss+xml",
        body=f"""<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
        <channel><title>Untitled</title><item><title> </title><link>{base}/untitled/1</link>
        <guid>{base}/untitled/1</guid><content:encoded><![CDATA[<p>{long_text}</p>]]></content:encoded></item>
        </channel></rss>""".encode()))
    sources = [feed_source(name, f"{base}/{name}/rss") for name in ("good", "mixed", "challenge", "forbidden",
                                                                    "malformed", "polite", "big", "untitled")]
    config_dir = write_config(tmp_path / "config", sources, ALERTS)
    config = load_config(config_dir)
    roles.start("crawler", config_dir, "crawler")
    leader = LeaderLock(redis_conn)
    assert leader.refresh()

    def poll(source_id: str) -> dict[str, str]:
        before = polls_total(redis_conn, source_id)
        assert request_poll(redis_conn, config.source(source_id), leader) == "requested"
        poll_finished(redis_conn, source_id, before)
        return polls.source_state(redis_conn, source_id)

    return poll


def test_new_entries_enqueued_once_and_unchanged_feed_is_not_modified(crawl, redis_conn: redis.Redis,
                                                                      replay: ReplaySite) -> None:
    state = crawl("good")
    assert state["status"] == "ok", state
    enqueued = stories(redis_conn, 2)
    assert sorted(s["title"] for s in enqueued) == ["K-1 base attacked", "Second story about Kirkuk"]
    first = next(s for s in enqueued if s["title"] == "K-1 base attacked")
    assert "K-1 base west of Kirkuk" in first["text"]
    assert first["canonical_url"].endswith("/good/1") and first["language"] == "en"
    assert first["published"] is not None and first["published"][:4] == "2026"

    state = crawl("good")
    assert state["status"] == "unchanged"  # conditional GET answered 304
    assert len(stories(redis_conn)) == 2

    replay.publish("/good/rss", make_article("/good/3", "Third story", BODY))
    state = crawl("good")
    assert state["status"] == "ok"
    assert len(stories(redis_conn, 3)) == 3
    assert replay.hits["/good/1"] == 1  # old entries are not fetched again


def test_a_polls_stories_share_jobs(crawl, redis_conn: redis.Redis, roles: Roles) -> None:
    """RQ's cost is paid per job: the 20 new stories of one poll go in jobs of up to PROCESS_BATCH, each
    story once, and their entries are seen (the next poll enqueues nothing)."""
    crawl("big")
    titles = sorted(s["title"] for s in stories(redis_conn, 20))
    assert titles == sorted(f"Story {n} of a busy outlet" for n in range(20))
    jobs = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer).jobs
    sizes = [len(job.args[0]) if job.func_name == keys.PROCESS_BATCH_JOB else 1 for job in jobs]
    # how many share a job depends on how fast this machine extracts them (a story waits at most 0.5 s
    # for others of its poll): each story once, no job over the limit, and stories sharing jobs
    assert sum(sizes) == 20 and max(sizes) <= keys.PROCESS_BATCH and len(jobs) < 20, sizes
    crawl("big")
    assert len(stories(redis_conn)) == 20


def test_broken_articles_do_not_stop_the_others(crawl, redis_conn: redis.Redis, roles: Roles) -> None:
    state = crawl("mixed")
    assert state["status"] == "ok"
    assert [s["title"] for s in stories(redis_conn, 1)] == ["Fine article"]
    log = roles.log("crawler")
    assert "HTTP 500" in log and "will retry next poll" in log
    assert "not HTML (Content-Type application/pdf)" in log
    # the 500 is retried on the next poll, the PDF is not
    assert polls.has_failed_entries(redis_conn, "mixed")
    state = crawl("mixed")
    assert state["status"] == "ok"


def test_unusable_sources_are_recorded(crawl, roles: Roles, redis_conn: redis.Redis) -> None:
    challenge = crawl("challenge")
    assert challenge["status"] == "error" and challenge["failure_kind"] == "challenge"
    assert "Sucuri" in challenge["last_error"]
    forbidden = crawl("forbidden")
    assert forbidden["status"] == "error" and forbidden["failure_kind"] == "blocked"
    assert "HTTP 403" in forbidden["last_error"]
    redis_conn.hset(keys.source_state("forbidden"), "backoff_until", "0")  # let the test poll again at once
    assert crawl("forbidden")["consecutive_failures"] == "2"
    good = crawl("good")
    assert good["status"] == "ok" and good["consecutive_failures"] == "0"


def test_malformed_feed_keeps_what_it_can(crawl, redis_conn: redis.Redis, roles: Roles) -> None:
    state = crawl("malformed")
    assert state["status"] == "ok"
    assert [s["title"] for s in stories(redis_conn, 1)] == ["K-1 base attacked"]
    assert "malformed feed source=malformed" in roles.log("crawler")


def test_robots_txt_is_obeyed(crawl, redis_conn: redis.Redis, replay: ReplaySite, roles: Roles) -> None:
    state = crawl("polite")
    assert state["status"] == "ok"
    assert [s["title"] for s in stories(redis_conn, 1)] == ["Allowed story"]
    assert "/private/1" not in replay.hits
    assert "robots.txt" in state["last_entry_error"].lower()  # the skipped page names why
    assert not polls.has_failed_entries(redis_conn, "polite")  # a disallowed page is not retried


def test_a_story_the_validation_drops_is_seen_and_not_taken_again(crawl, redis_conn: redis.Redis) -> None:
    """The spider keeps the seen-set: a story the pipeline drops (no title) is marked seen through Scrapy's
    item_dropped signal, so the next poll does not take it again."""
    crawl("untitled")
    first = json.loads(redis_conn.lindex(keys.poll_history("untitled"), 0))
    assert first["new"] == 1 and queued_stories(redis_conn) == [], first
    assert redis_conn.exists(keys.seen_entries("untitled"))
    crawl("untitled")
    second = json.loads(redis_conn.lindex(keys.poll_history("untitled"), 0))
    assert second["new"] == 0 and queued_stories(redis_conn) == [], second
