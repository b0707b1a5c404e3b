"""Archive round-trip on SQLite and PostgreSQL; canonical URLs and exact-duplicate claims in Redis."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from newsmon.models import Hit, Story, TopicMatch, story_id_for
from newsmon.urls import canonical_url, url_key
from workers.archive import Archive, open_engine
from workers.dedupe import DedupeIndex, content_hash


def make_story(url: str = "https://www.kurdistan24.net/ar/story/1", text: str = "نص الخبر عن قاعدة كيه-1",
               guid: str | None = "g1") -> Story:
    canonical = canonical_url(url)
    return Story(id=story_id_for(canonical), source_id="k24-ar", outlet="Kurdistan24", language="ar", url=url,
                 canonical_url=canonical, title="عنوان", text=text, published=datetime(2026, 11, 20, tzinfo=UTC),
                 feed_guid=guid)


@pytest.fixture
def archive(db_url: str) -> Archive:
    return Archive(open_engine(db_url))


def test_archive_round_trip_and_upsert(archive: Archive) -> None:
    story = make_story()
    topics = [TopicMatch(topic="k1_base", name="K-1", hits=[Hit(term="كيه-1", text="كيه-1", start=16, end=21)])]
    assert archive.store(story, topics, content_hash(story.title, story.text), "v1") is True
    row = archive.get(story.id)
    assert row is not None
    assert row["text"] == story.text and row["language"] == "ar"
    assert row["topics"][0]["topic"] == "k1_base" and row["topics"][0]["hits"][0]["text"] == "كيه-1"
    assert row["config_version"] == "v1"
    assert archive.store(story, [], content_hash(story.title, story.text), "v2") is False  # retried job
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
    assert url_key("https://x.example/ar/اقتصـاد/1") != url_key("https://x.example/ar/اقتصاد/1")  # tatweel kept


def test_dedupe_kinds(redis_conn: redis.Redis) -> None:
    index = DedupeIndex(redis_conn)
    first = make_story(text="نص الخبر عن قاعدة كيه-1 " * 20)
    assert index.check_and_add(first.id, first.text).kind == "new"
    again = index.check_and_add(first.id, first.text)  # a retried job or a re-poll
    assert (again.kind, again.cluster) == ("url", first.id)
    copy = make_story(url="https://other.example/copy", guid="g2", text="نصّ الخبر عن قاعدة كيه-1 " * 20)
    exact = index.check_and_add(copy.id, copy.text)
    assert (exact.kind, exact.cluster, exact.duplicate_of) == ("exact", first.id, first.id)
    distinct = make_story(url="https://other.example/new", guid="g3", text="خبر مختلف تماما عن الاقتصاد " * 20)
    assert index.check_and_add(distinct.id, distinct.text).kind == "new"
