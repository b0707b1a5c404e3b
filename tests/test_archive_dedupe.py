"""Archive round-trip on SQLite and PostgreSQL; canonical URLs and exact-duplicate claims in Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from newsmon.models import Hit, Story, TopicMatch, story_id_for
from newsmon.urls import canonical_url, url_key
from newsmon.workers.archive import Archive, open_engine
from newsmon.workers.dedupe import DedupeIndex, content_hash
from tests.conftest import archive_story


def make_story(url: str = "https://www.kurdistan24.net/ar/story/1", text: str = "نص الخبر عن قاعدة كيه-1",
               guid: str | None = "g1") -> Story:
    canonical = canonical_url(url)
    return Story(
        id=story_id_for(canonical),
        source_id="k24-ar",
        outlet="Kurdistan24",
        language="ar",
        url=url,
        canonical_url=canonical,
        title="عنوان",
        text=text,
        published=datetime(2026, 11, 20, tzinfo=UTC),
        feed_guid=guid,
    )


@pytest.fixture
def archive(db_url: str) -> Archive:
    return Archive(open_engine(db_url))


def test_archive_round_trip_and_upsert(archive: Archive) -> None:
    story = make_story()
    topics = [
        TopicMatch(topic="k1_base", name="K-1", hits=[Hit(term="كيه-1", text="كيه-1", start=16, end=21)])
    ]
    assert archive_story(archive, story, topics, content_hash(story.title, story.text), "v1") is True
    row = archive.get(story.id)
    assert row is not None
    assert row["text"] == story.text and row["language"] == "ar"
    assert row["topics"][0]["topic"] == "k1_base" and row["topics"][0]["hits"][0]["text"] == "كيه-1"
    assert row["config_version"] == "v1"
    retried = archive_story(archive, story, [], content_hash(story.title, story.text), "v2")
    assert retried is False  # a retried job: the story was there
    assert archive.count() == 1
    assert archive.get(story.id)["config_version"] == "v2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Shafaq.com:443/ar/كوردســتانيات/خبر?utm_source=x&id=5&fbclid=abc#top",
         "https://shafaq.com/ar/كوردســتانيات/خبر?id=5"),
        ("https://www.rudaw.net/sorani/sports/140620251-amp", "https://www.rudaw.net/sorani/sports/140620251"),
        ("https://m.kurdistan24.net/ar/story/1/x?gclid=1", "https://kurdistan24.net/ar/story/1/x"),
        ("https://amp.ina.iq/1-x.html", "https://ina.iq/1-x.html"),
        ("https://www.iraqinews.com/a/b/amp/", "https://www.iraqinews.com/a/b/"),
        ("https://www.iraqinews.com/a/b/?amp=1", "https://www.iraqinews.com/a/b/"),
        ("https://www-iraqinews-com.cdn.ampproject.org/c/s/www.iraqinews.com/a/b/amp/",
         "https://www.iraqinews.com/a/b/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_url_identity_ignores_scheme_www_mobile_amp_and_trailing_slash() -> None:
    forms = ["http://www.kurdistan24.net/ar/story/1/", "https://kurdistan24.net/ar/story/1",
             "https://m.kurdistan24.net/ar/story/1?utm_medium=x", "https://amp.kurdistan24.net/ar/story/1/amp",
             "https://www.kurdistan24.net/ar/story/1#comments"]
    assert len({url_key(u) for u in forms}) == 1
    assert len({story_id_for(canonical_url(u)) for u in forms}) == 1
    assert url_key("https://x.example/a") != url_key("https://x.example/a-b")
    assert url_key("https://x.example/ar/اقتصـاد/1") != url_key(
        "https://x.example/ar/اقتصاد/1"
    )  # tatweel kept


def test_dedupe_kinds(redis_conn: redis.Redis) -> None:
    index = DedupeIndex(redis_conn)
    first = make_story(text="نص الخبر عن قاعدة كيه-1 " * 20)
    assert index.check_and_add(first.id, first.text).kind == "new"
    again = index.check_and_add(first.id, first.text)  # a retried job or a re-poll
    assert (again.kind, again.cluster) == ("url", first.id)
    copy = make_story(url="https://other.example/copy", guid="g2", text="نصّ الخبر عن قاعدة كيه-1 " * 20)
    exact = index.check_and_add(copy.id, copy.text)
    assert (exact.kind, exact.cluster, exact.duplicate_of) == ("exact", first.id, first.id)
    distinct = make_story(
        url="https://other.example/new", guid="g3", text="خبر مختلف تماما عن الاقتصاد " * 20
    )
    assert index.check_and_add(distinct.id, distinct.text).kind == "new"


def test_the_script_and_python_agree_on_where_each_field_lives(redis_conn: redis.Redis) -> None:
    """The find-and-add script computes keys itself (CRC-32 in Lua): an index written with the layout
    Python computes (as every earlier release wrote it) is read, and what the script writes is where
    Python looks for it."""
    import zlib

    from newsmon.workers import dedupe

    index = DedupeIndex(redis_conn)
    now = 1_800_000_000.0
    generation = index._generation(now)
    text = "تقرير عن هجوم بطائرة مسيرة على قاعدة كيه-1 قرب كركوك مساء الجمعة " * 12
    normalized = dedupe.normalize_text(text)
    values = dedupe.signature(normalized)
    sig = (values & 0xFF).astype("uint8").tobytes()
    old = bytes.fromhex("00000000000000aa")
    shards = 64
    redis_conn.set(f"newsmon:dedupe:{generation}:shards", shards)
    fields = [(b"S" + old, sig + old), (b"T" + dedupe._digest(normalized), old)]
    fields += [(band, old) for band in dedupe._bands(values)]
    for field, value in fields:
        redis_conn.hset(f"newsmon:dedupe:{generation}:{zlib.crc32(field) % shards}", field, value)
    copy = index.check_and_add("00000000000000bb", text + " تابعونا", now=now + 60)
    assert (copy.kind, copy.cluster, copy.duplicate_of) == ("near", old.hex(), old.hex())
    written = redis_conn.hget(
        f"newsmon:dedupe:{generation}:{zlib.crc32(b'S' + bytes.fromhex('00000000000000bb')) % shards}",
        b"S" + bytes.fromhex("00000000000000bb"),
    )
    assert written is not None and written[dedupe.NUM_PERM:] == old
    assert index.remove("00000000000000bb", text + " تابعونا", now=now + 60) >= 2
    again = index.check_and_add(
        "00000000000000cc", text, now=now + 120
    )  # the old story's text field is intact
    assert (again.kind, again.duplicate_of) == ("exact", old.hex())


RACE_ROUNDS = 25


def _race_text(round_no: int) -> str:
    """A story of its own for each round (random words), so rounds do not copy each other."""
    import random

    rng = random.Random(round_no)
    return " ".join("".join(rng.choice("ابتثجحخدذرزسشصضطظعغفقكلمنهوي") for _ in range(rng.randint(3, 8)))
                    for _ in range(120))


def _race(redis_url: str, worker: int, barrier: Any, out: Any) -> None:
    index = DedupeIndex(redis.Redis.from_url(redis_url))
    for round_no in range(RACE_ROUNDS):
        barrier.wait(timeout=60)  # every process adds its copy of this round's story at the same moment
        verdict = index.check_and_add(f"{round_no:08x}{worker:08x}", _race_text(round_no) + f" {worker}")
        out.put((round_no, verdict.kind, verdict.cluster))


def test_copies_decided_at_once_make_one_cluster(redis_url: str, redis_conn: redis.Redis) -> None:
    """Four processes add copies of one story at the same moment, 25 times: Redis orders the
    find-and-add scripts, so in every round exactly one copy is new and the others join its cluster."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_race, args=(redis_url, n, barrier, out)) for n in range(4)]
    for process in processes:
        process.start()
    results = [out.get(timeout=120) for _ in range(4 * RACE_ROUNDS)]
    for process in processes:
        process.join(timeout=30)
    for round_no in range(RACE_ROUNDS):
        verdicts = [(kind, cluster) for r, kind, cluster in results if r == round_no]
        assert sorted(kind for kind, _ in verdicts) == ["near", "near", "near", "new"], (round_no, verdicts)
        assert len({cluster for _, cluster in verdicts}) == 1, (round_no, verdicts)


def test_record_many_keeps_clusters_and_summaries(archive: Archive) -> None:
    """A batch in one transaction (savepoint per story) on SQLite and PostgreSQL: a copy joins the first
    story's cluster, the summary counts both, and recording the same story again keeps its cluster."""
    from newsmon.workers.archive import Record

    first = make_story(text="نص الخبر عن قاعدة كيه-1 " * 20)
    copy = make_story(
        url="https://www.rudaw.net/arabic/kurdistan/1", guid="g9", text="نص الخبر عن قاعدة كيه-1 " * 21
    )
    out = archive.record_many(
        [
            Record(first, [], content_hash(first.title, first.text), "v1", first.id, "new"),
            Record(copy, [], content_hash(copy.title, copy.text), "v1", first.id, "near", first.id, 0.9),
        ]
    )
    assert [(cluster, kind) for cluster, kind, _ in out] == [(first.id, "new"), (first.id, "near")]
    assert out[1][2]["member_count"] == 2 and archive.cluster(first.id)["member_count"] == 2
    again = archive.record_many([Record(copy, [], "h", "v2", copy.id, "new")])[0]
    assert again[:2] == (first.id, "url")  # already archived: it keeps its cluster
