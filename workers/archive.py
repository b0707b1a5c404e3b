"""The story archive: one SQLAlchemy schema on SQLite (default) or PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError, ProgrammingError

from newsmon import keys
from newsmon.models import Story, TopicMatch
from newsmon.settings.runtime import require_driver
from newsmon.workers.search import index_story, index_text, unindex_stories

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
    Column("cluster_id", String(40), nullable=False),
    Column("dedupe_kind", String(10), nullable=False),
    Column("similarity", Float),
    Column("topics", JSON, nullable=False),
    Column("config_version", String(40), nullable=False),
    Column("search_text", Text, nullable=False, server_default=""),
    Column("event_id", String(40)),  # the happening's first cluster (workers/events.py); made by 0005
    Column("event_evidence", JSON),  # what joined the story to its event, when it joined one
    Index("ix_stories_published", "published"),
    Index("ix_stories_content_hash", "content_hash"),
    Index("ix_stories_cluster", "cluster_id"),
    Index(
        "ix_stories_processed", "processed"
    ),  # made by migration 0002; the schema drift test holds them together
    Index("ix_stories_event", "event_id"),
)

clusters = Table(
    "clusters",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("first_story_id", String(40), nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("member_count", Integer, nullable=False),
    Column("outlets", JSON, nullable=False),
    Column("languages", JSON, nullable=False),
    Column("topics", JSON, nullable=False),
)


deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("desk", String(100), nullable=False),
    Column("channel", String(100)),
    Column("mode", String(20), nullable=False),  # instant, digest, breaking, test, health
    Column("outcome", String(20), nullable=False),  # sent, held, refused, in-doubt
    Column("delivery_key", Text),
    Column("slot", Text),
    Column("note", Text),
    Column("story_id", String(40)),
    Column("cluster_id", String(40)),
    Column("topics", JSON, nullable=False),
    Column("title", Text),
    Column("url", Text),
    Column("outlet", String(200)),
    Column("language", String(10)),
    Index("ix_deliveries_at", "at"),
    Index("ix_deliveries_story", "story_id"),
    Index("ix_deliveries_desk_at", "desk", "at"),
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = (
        None  # transactions begin in _sqlite_begin (the pysqlite driver's own are off)
    )
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # several worker processes write at once
    cursor.execute(
        "PRAGMA synchronous=NORMAL"
    )  # with WAL: no fsync per story; a power cut loses the last ones
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(
        "BEGIN IMMEDIATE" if conn.get_execution_options().get("newsmon_immediate") else "BEGIN"
    )


MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 7_245_117  # pg_advisory_xact_lock key: one migrating process at a time


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic, scripts in workers/migrations)."""
    # imported here: Alembic loads only when a schema is migrated
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        config.attributes["connection"] = conn
        found = inspect(conn)
        if found.has_table("stories") and not found.has_table("alembic_version"):
            command.stamp(config, "0001")  # an archive made before migrations existed
        heads = set(ScriptDirectory.from_config(config).get_heads())
        current = set(MigrationContext.configure(conn).get_current_heads())
        if current == heads:
            return  # nothing to do, nothing to say
        log.info("archive schema: migrating %s -> %s", ",".join(sorted(current)) or "empty",
                 ",".join(sorted(heads)))
        command.upgrade(config, "head")


def open_engine(url: str) -> Engine:
    """Create an engine for the archive URL and migrate the schema to the newest version."""
    require_driver(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    for attempt in range(5):
        try:
            migrate(engine)
            break
        except DBAPIError:
            # several SQLite workers starting at once race for the first migration
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    return engine


@lru_cache(maxsize=4)
def shared_archive(url: str) -> Archive:
    """The archive at `url`, opened once per process (its engine keeps the connection pool)."""
    return Archive(open_engine(url))


# statements built once (SQLAlchemy caches their compiled form): per story only the values change
_INSERT_STORY = insert(stories)
_UPDATE_STORY = update(stories).where(stories.c.id == bindparam("story_id"))
_CLUSTER_LOCK = text("SELECT pg_advisory_xact_lock(:key)")  # held until commit


def _upsert_cluster(dialect_insert: Any) -> Any:
    statement = dialect_insert(clusters)
    return statement.on_conflict_do_update(
        index_elements=[clusters.c.id],
        set_={c.name: statement.excluded[c.name] for c in clusters.columns if c.name != "id"},
    )


_SAVE_CLUSTER = {"sqlite": _upsert_cluster(sqlite_insert), "postgresql": _upsert_cluster(postgresql_insert)}


@dataclass(frozen=True)
class Record:
    """A processed story as the archive records it, with what dedupe decided."""

    story: Story
    topics: list[TopicMatch]
    content_hash: str
    config_version: str
    cluster_id: str
    dedupe_kind: str
    duplicate_of: str | None = None
    similarity: float | None = None
    normalized: str | None = None  # the body as normalize_text gives it, when the caller has it
    event_id: str | None = None  # None: the cluster is the event
    event_evidence: dict[str, Any] | None = None


def storage_failure(exc: BaseException) -> bool:
    """Whether an archive error is the storage's (disk full, database read-only, locked or unreachable,
    schema missing) rather than one story's data: the former makes `archive-failing`."""
    return isinstance(exc, (OperationalError, InternalError, InterfaceError, ProgrammingError, OSError))


class Archive:
    """Stores processed stories; writes are upserts keyed by story id, so a retried job is harmless."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at BEGIN (IMMEDIATE), so a transaction
        that reads before it writes waits its turn instead of failing when another worker committed
        in between."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.execution_options(newsmon_immediate=True)
            with conn.begin():
                yield conn

    def record_many(self, records: list[Record]) -> list[tuple[str, str, dict[str, Any]] | Exception]:
        """Archive several processed stories in one transaction (one commit for a poll's stories),
        each in a savepoint of its own: a story the database refuses is rolled back alone and its
        place in the result holds the error; the others are kept.

        Raises:
            whatever the database raises at BEGIN or COMMIT; nothing is written then.
        """
        # each row (its search text above all) is made before the write lock is taken: on SQLite the
        # other workers wait for this transaction, so it holds only the statements
        rows = [
            {**self._row(r.story, r.topics, r.content_hash, r.config_version, r.duplicate_of, r.similarity,
                         r.normalized),
             "event_id": r.event_id or r.cluster_id, "event_evidence": r.event_evidence}
            for r in records
        ]
        out: list[tuple[str, str, dict[str, Any]] | Exception] = []
        with self._writing() as conn:
            for record, row in zip(records, rows):
                try:
                    with conn.begin_nested():
                        out.append(self._record(conn, record, row))
                except DBAPIError as exc:
                    out.append(exc)
        return out

    def _record(
        self, conn: Connection, record: Record, row: dict[str, Any]
    ) -> tuple[str, str, dict[str, Any]]:
        cluster_id, dedupe_kind = record.cluster_id, record.dedupe_kind
        existing = self._existing_cluster(conn, record.story.id)
        if existing is not None:
            cluster_id, dedupe_kind = existing, "url"
        self._upsert(conn, record.story.id, row, cluster_id, dedupe_kind, existing is not None)
        return cluster_id, dedupe_kind, self._update_cluster(conn, cluster_id)

    @staticmethod
    def _existing_cluster(conn: Connection, story_id: str) -> str | None:
        return conn.execute(select(stories.c.cluster_id).where(stories.c.id == story_id)).scalar()

    @staticmethod
    def _row(
        story: Story,
        topics: list[TopicMatch],
        content_hash: str,
        config_version: str,
        duplicate_of: str | None,
        similarity: float | None,
        normalized: str | None = None,
    ) -> dict[str, Any]:
        """A story's columns, but for those the write decides (cluster, kind, processed)."""
        return {
            "similarity": similarity,
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
            "feed_guid": story.feed_guid,
            "content_hash": content_hash,
            "duplicate_of": duplicate_of,
            "topics": [json.loads(t.model_dump_json()) for t in topics],
            "config_version": config_version,
            "search_text": index_text(story.title, story.text, normalized, story.language),
        }

    @staticmethod
    def _upsert(conn: Connection, story_id: str, row: dict[str, Any], cluster_id: str, dedupe_kind: str,
                existed: bool) -> None:
        values = {**row, "cluster_id": cluster_id, "dedupe_kind": dedupe_kind, "processed": datetime.now(UTC)}
        if existed:
            conn.execute(_UPDATE_STORY, {"story_id": story_id, **values})
        else:
            conn.execute(_INSERT_STORY, {"id": story_id, **values})
        index_story(conn, story_id, row["search_text"], existed)

    def get(self, story_id: str) -> dict[str, Any] | None:
        """One archived story as a dict, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(stories).where(stories.c.id == story_id)).mappings().first()
        return dict(row) if row else None

    @staticmethod
    def story_of(row: dict[str, Any]) -> Story:
        """The Story an archive row holds (what the crawler handed on)."""
        return Story(
            **{
                k: row[k]
                for k in (
                    "id",
                    "source_id",
                    "outlet",
                    "language",
                    "url",
                    "canonical_url",
                    "title",
                    "text",
                    "author",
                    "published",
                    "fetched",
                    "feed_guid",
                )
            }
        )

    @staticmethod
    def _update_cluster(conn: Connection, cluster_id: str) -> dict[str, Any]:
        """Recompute the summary from the members, inside the caller's transaction. Transactions touching
        one cluster take turns (SQLite: the write lock taken at BEGIN; PostgreSQL: an advisory lock on
        the cluster until commit), so each reads every member committed before it: the last to commit
        writes a summary that counts them all."""
        if conn.dialect.name == "postgresql":
            conn.execute(_CLUSTER_LOCK, {"key": zlib.crc32(cluster_id.encode())})
        members = conn.execute(
            select(stories.c.id, stories.c.outlet, stories.c.language, stories.c.topics, stories.c.processed)
            .where(stories.c.cluster_id == cluster_id)
            .order_by(stories.c.processed)
        ).all()
        if not members:
            raise KeyError(cluster_id)
        summary = {
            "first_story_id": cluster_id if any(m.id == cluster_id for m in members) else members[0].id,
            "first_seen": members[0].processed,
            "last_seen": members[-1].processed,
            "member_count": len(members),
            "outlets": list(dict.fromkeys(m.outlet for m in members)),
            "languages": list(dict.fromkeys(m.language for m in members)),
            "topics": sorted({t["topic"] for m in members for t in m.topics}),
        }
        Archive._save_cluster(conn, cluster_id, summary)
        return {"id": cluster_id, **summary}

    @staticmethod
    def _save_cluster(conn: Connection, cluster_id: str, summary: dict[str, Any]) -> None:
        statement = _SAVE_CLUSTER["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
        conn.execute(statement, {"id": cluster_id, **summary})

    def cluster(self, cluster_id: str) -> dict[str, Any] | None:
        """One cluster's summary, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(clusters).where(clusters.c.id == cluster_id)).mappings().first()
        return dict(row) if row else None

    def event_members(self, event_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The stories of an event (every cluster of it), oldest first."""
        query = (select(stories).where(stories.c.event_id == event_id).order_by(stories.c.processed)
                 .limit(limit))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def members(self, cluster_id: str) -> list[dict[str, Any]]:
        """The stories of a cluster, oldest first."""
        query = select(stories).where(stories.c.cluster_id == cluster_id).order_by(stories.c.processed)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def prune(self, before: datetime) -> int:
        """Delete stories processed before `before` (and clusters left empty); returns how many."""
        with self.engine.begin() as conn:
            old = [r.id for r in conn.execute(select(stories.c.id).where(stories.c.processed < before))]
            for start in range(0, len(old), 500):
                chunk = old[start:start + 500]
                conn.execute(stories.delete().where(stories.c.id.in_(chunk)))
                unindex_stories(conn, chunk)
            conn.execute(clusters.delete().where(~clusters.c.id.in_(select(stories.c.cluster_id))))
        return len(old)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recently processed stories, newest first."""
        query = select(stories).order_by(stories.c.processed.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def count(self) -> int:
        """Number of archived stories."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(stories)).scalar_one())


# --- the delivery log (newsmon/deliverylog.py writes rows to Redis; they are moved here) ------------

DRAIN_BATCH = 1000


def drain_delivery_log(conn: Any, archive: Archive, most: int = 100_000) -> int:
    """Move the delivery rows waiting in Redis into the archive; returns how many. Rows are taken with
    LPOP, so two drainers never move one row twice; rows the archive refuses are put back."""
    moved = 0
    while moved < most:
        raw = conn.lpop(keys.DELIVERY_LOG, DRAIN_BATCH)
        if not raw:
            break
        rows = []
        for item in raw:
            try:
                record = json.loads(item)
                record["at"] = datetime.fromtimestamp(float(record["at"]), tz=UTC)
                record["delivery_key"] = record.pop("key", None)
                record["topics"] = record.get("topics") or []
                rows.append({c.name: record.get(c.name) for c in deliveries.columns if c.name != "id"})
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("delivery log row dropped (%s): %r", exc, item[:200])
        try:
            with archive._writing() as db:
                if rows:
                    db.execute(insert(deliveries), rows)
        except Exception:
            conn.lpush(keys.DELIVERY_LOG, *reversed(raw))
            raise
        moved += len(rows)
    return moved


def delivery_rows(engine: Engine, story_id: str | None = None, desk: str | None = None,
                  since: datetime | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The delivery log, newest first: a story's rows, a desk's, or everything since a time."""
    query = select(deliveries).order_by(deliveries.c.at.desc(), deliveries.c.id.desc()).limit(limit)
    if story_id is not None:
        query = query.where(deliveries.c.story_id == story_id)
    if desk is not None:
        query = query.where(deliveries.c.desk == desk)
    if since is not None:
        query = query.where(deliveries.c.at >= since)
    with engine.connect() as db:
        return [dict(row._mapping) for row in db.execute(query)]
