"""Archive round-trip on SQLite and PostgreSQL; canonical URLs and exact-duplicate claims in Redis."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from newsmon.models import Hit, Story, TopicMatch, story_id_for
from newsmon.urls import canonical_url
from workers.archive import Archive, open_engine
from workers.dedupe import claim, content_hash


def make_story(url: str = "https://www.kurdistan24.net/ar/story/1", text: str = "نص الخبر عن قاعدة كيه-1",
               guid: str | None = "g1") -> Story:
    canonical = canonical_url(url)
    return Story(id=story_id_for(canonical), source_id="k24-ar", outlet="Kurdistan24", language="ar", url=url,
                 canonical_url=canonical, title="عنوان", text=text, published=datetime(2026, 11, 20, tzinfo=UTC),
                 feed_guid=guid)


def _archive_urls() -> list[str]:
    urls = ["sqlite"]
    if os.environ.get("NEWSMON_TEST_DATABASE_URL"):
        urls.append("postgresql")
    return urls


@pytest.fixture(params=_archive_urls())
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Archive:
    if request.param == "sqlite":
        return Archive(open_engine(f"sqlite:///{tmp_path / 'archive.sqlite'}"))
    from sqlalchemy import text

    base = os.environ["NEWSMON_TEST_DATABASE_URL"]
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = open_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine_url = base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    request.addfinalizer(lambda: _drop_schema(admin, schema))
    return Archive(open_engine(engine_url))


def _drop_schema(engine, schema: str) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


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


def test_canonical_url_drops_tracking_but_keeps_path() -> None:
    url = "HTTPS://Shafaq.com:443/ar/كوردســتانيات/خبر?utm_source=x&id=5&fbclid=abc#top"
    assert canonical_url(url) == "https://shafaq.com/ar/كوردســتانيات/خبر?id=5"


def test_duplicate_claims(redis_conn: redis.Redis) -> None:
    first = make_story()
    text_hash = content_hash(first.title, first.text)
    assert claim(redis_conn, first, text_hash) is None
    assert claim(redis_conn, first, text_hash) is None  # the same story retried is not its own duplicate
    copy = make_story(url="https://other.example/copy", guid="g2", text="نصّ الخبر عن قاعدة كيه-1")
    assert claim(redis_conn, copy, content_hash(copy.title, copy.text)) == first.id
    distinct = make_story(url="https://other.example/new", guid="g3", text="خبر مختلف تماما")
    assert claim(redis_conn, distinct, content_hash(distinct.title, distinct.text)) is None
    for key in redis_conn.scan_iter("newsmon:dedupe:*"):
        assert 0 < redis_conn.ttl(key) <= 14 * 24 * 3600
