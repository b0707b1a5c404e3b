"""The story archive: one SQLAlchemy schema on SQLite (default) or PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from newsmon.models import Story, TopicMatch

log = logging.getLogger(__name__)

metadata = MetaData()

stories = Table(
    "stories",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source_id", String(100), nullable=False),
    Column("outlet", String(200), nullable=False),
    Column("language", String(10), nullable=False),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", Text),
    Column("published", DateTime(timezone=True)),
    Column("fetched", DateTime(timezone=True), nullable=False),
    Column("processed", DateTime(timezone=True), nullable=False),
    Column("feed_guid", Text),
    Column("content_hash", String(64), nullable=False),
    Column("duplicate_of", String(40)),
    Column("topics", JSON, nullable=False),
    Column("config_version", String(40), nullable=False),
    Index("ix_stories_published", "published"),
    Index("ix_stories_content_hash", "content_hash"),
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # several worker processes write at once
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_engine(url: str) -> Engine:
    """Create an engine for the archive URL and make sure the schema exists."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine


class Archive:
    """Stores processed stories; writes are upserts keyed by story id, so a retried job is harmless."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def store(
        self,
        story: Story,
        topics: list[TopicMatch],
        content_hash: str,
        config_version: str,
        duplicate_of: str | None = None,
    ) -> bool:
        """Insert or update a story; returns True when it was new."""
        row = {
            "source_id": story.source_id,
            "outlet": story.outlet,
            "language": story.language,
            "url": story.url,
            "canonical_url": story.canonical_url,
            "title": story.title,
            "text": story.text,
            "author": story.author,
            "published": story.published,
            "fetched": story.fetched,
            "processed": datetime.now(UTC),
            "feed_guid": story.feed_guid,
            "content_hash": content_hash,
            "duplicate_of": duplicate_of,
            "topics": [json.loads(t.model_dump_json()) for t in topics],
            "config_version": config_version,
        }
        with self.engine.begin() as conn:
            exists = conn.execute(select(stories.c.id).where(stories.c.id == story.id)).first()
            if exists:
                conn.execute(update(stories).where(stories.c.id == story.id).values(**row))
                return False
            conn.execute(insert(stories).values(id=story.id, **row))
            return True

    def get(self, story_id: str) -> dict[str, Any] | None:
        """One archived story as a dict, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(stories).where(stories.c.id == story_id)).mappings().first()
        return dict(row) if row else None

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recently processed stories, newest first."""
        query = select(stories).order_by(stories.c.processed.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def count(self) -> int:
        """Number of archived stories."""
        with self.engine.connect() as conn:
            return len(conn.execute(select(stories.c.id)).all())
