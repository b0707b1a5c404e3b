"""Data models passed between roles as JSON: poll requests, stories, matches and alerts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from newsmon.sanitize import clean_body, clean_line
from newsmon.urls import url_key


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: object) -> datetime:
    """A datetime (or its ISO text, as SQLite and YAML give it) made timezone-aware: without a zone it is
    UTC, which is how newsmon stores every time."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def story_id_for(canonical_url: str) -> str:
    """A story's id (16 hex digits): stable for the URL's identity, so retries, re-polls and the AMP,
    mobile or tracking forms of one URL all name the same story."""
    return hashlib.sha1(url_key(canonical_url).encode("utf-8")).hexdigest()[:16]


class PollRequest(_Model):
    """The scheduler's request that the crawler poll one source now."""

    source_id: str
    poll_id: str
    lock_token: str
    requested_at: datetime
    url_override: str | None = None  # `newsmon sources test --url`: try another URL for the source


class Story(_Model):
    """One extracted article, as the crawler hands it to the `process` queue."""

    id: str
    source_id: str
    outlet: str
    language: str
    url: str
    canonical_url: str
    title: str
    text: str
    author: str | None = None
    published: datetime | None = None
    fetched: datetime = Field(default_factory=utcnow)
    feed_guid: str | None = None
    links: list[str] = Field(default_factory=list)  # links inside a Telegram post
    first_poll: bool = False  # taken on the source's first poll (nothing seen from it before): its backlog
    # `backfill` or `import`: history, archived with dedupe and topics but never alerted
    history: str | None = None

    @field_validator("title", "outlet", "author", mode="before")
    @classmethod
    def _one_line(cls, value: object) -> object:
        return clean_line(value) if isinstance(value, str) else value

    @field_validator("text", mode="before")
    @classmethod
    def _body(cls, value: object) -> object:
        return clean_body(value) if isinstance(value, str) else value

    @field_validator("url", "canonical_url", "feed_guid", "source_id", "language", mode="before")
    @classmethod
    def _no_surrogates(cls, value: object) -> object:
        return clean_line(value, limit=4096) if isinstance(value, str) else value

    @field_validator("links", mode="before")
    @classmethod
    def _links(cls, value: object) -> object:
        return [clean_line(v, limit=4096) if isinstance(v, str) else v for v in value] \
            if isinstance(value, list) else value


class Hit(_Model):
    """One place in a story where a topic term matched."""

    term: str
    text: str
    start: int
    end: int
    field: str = "text"


class TopicMatch(_Model):
    """A topic that matched a story, with the hits that made it match."""

    topic: str
    name: str
    hits: list[Hit]

    def matched_words(self) -> list[str]:
        """Distinct matched texts, in order of first appearance."""
        return list(dict.fromkeys(hit.text for hit in self.hits))


class Carrier(_Model):
    """An outlet that carried a story, with who runs it (the catalogue's `affiliation`)."""

    outlet: str
    affiliation: str | None = None


class EventReport(_Model):
    """Another report of a story's event (the same happening, often in another language), as digests,
    `explain` and the web page list it: "also in Sorani: Rudaw 10:12"."""

    story_id: str
    outlet: str
    language: str
    at: datetime
    title: str = ""
    url: str = ""


class Sighting(_Model):
    """An outlet's first story in a cluster: when (its publication time, else when it was fetched)."""

    outlet: str
    at: datetime
    language: str
    story_id: str
    title: str
    url: str


class BreakingEvent(_Model):
    """Something happening: a cluster spreading across outlets, or a topic surging over its usual hour."""

    kind: Literal["cluster", "surge"]
    cluster: str | None = None  # kind cluster
    outlets: list[Sighting] = Field(default_factory=list)  # kind cluster: in order, within the window
    minutes: float | None = None  # kind cluster: from the first story to the last outlet counted
    topic: str | None = None  # kind surge (and the topics of a cluster's desk)
    topic_name: str | None = None
    count: int | None = None  # kind surge: new stories in the last hour
    usual: float | None = None  # kind surge: the topic's mean for that hour of the day
    at: datetime  # when it was found (the clock of the story that made it so)

    def key(self) -> str:
        """Names the event once (per desk): a cluster breaks once; a surge once per start."""
        if self.kind == "cluster":
            return f"breaking:{self.cluster}"
        return f"surge:{self.topic}:{int(self.at.timestamp())}"


class Gloss(_Model):
    """A desk's reading aid under a story's headline: a machine translation (with the engine that made it,
    or why there is none this time) and, for Sorani, the headline in Latin letters."""

    language: str | None = None  # the translation's language
    engine: str | None = None
    title: str | None = None
    snippets: list[str] = Field(default_factory=list)
    missing: str | None = None  # why the translation is not there: "LibreTranslate did not answer in 3 s"
    latin: str | None = None  # the headline in Kurdish Latin letters (newsmon/transliterate.py)

    @field_validator("title", "latin", "engine", "missing", mode="before")
    @classmethod
    def _one_line(cls, value: object) -> object:  # an engine's answer is text like a page's
        return clean_line(value) if isinstance(value, str) else value

    @field_validator("snippets", mode="before")
    @classmethod
    def _bodies(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        return [clean_body(v) if isinstance(v, str) else v for v in value]


class StoryAlert(_Model):
    """One story as a desk hears of it: the story, the topics new to its cluster, why it is late."""

    story_id: str
    source_id: str | None = None  # where newsmon found it (None in alerts made before it was kept)
    cluster_id: str
    event_id: str | None = None  # the happening the story reports (workers/events.py); None: its cluster
    also_in: list[EventReport] = Field(default_factory=list)  # the event's reports in other languages
    also_reported_by: int = 0
    also: list[Carrier] = Field(default_factory=list)  # the other outlets of the cluster, in order of arrival
    title: str
    url: str
    outlet: str
    affiliation: str | None = None  # who runs the outlet, from the catalogue
    language: str
    published: datetime | None
    snippets: list[str]
    topics: list[TopicMatch]
    urgent: bool = False
    note: str | None = None  # e.g. "held during quiet hours", "over the desk's limit of 10 an hour"
    gloss: Gloss | None = None  # the desk's translation / transliteration of the headline
    received: datetime = Field(default_factory=utcnow)
    breaking: BreakingEvent | None = (
        None  # a breaking alert: the story is the cluster's first (or the surge's latest)
    )

    def topic_key(self) -> str:
        """The topics of this alert, for idempotency keys (a breaking alert: its event)."""
        if self.breaking is not None:
            return self.breaking.key()
        return "+".join(sorted(t.topic for t in self.topics))


class Delivery(_Model):
    """What one channel of one desk sends: an instant alert, a digest of several, or a test message."""

    desk_id: str
    channel_id: str
    kind: Literal["instant", "digest", "test", "health"]
    items: list[StoryAlert]
    timezone: str = "Asia/Baghdad"
    slot: datetime | None = None  # the digest's scheduled time
    health: dict[str, str] | None = None  # for kind `health`: id, state (firing/resolved), message, at

    def idempotency_key(self) -> str:
        """Names this delivery once: a retried job with the same key must not send again."""
        if self.kind == "digest":
            return f"{self.desk_id}:{self.channel_id}:digest:{self.slot.isoformat() if self.slot else ''}"
        if self.kind == "health" and self.health:
            health = self.health
            return f"{self.desk_id}:{self.channel_id}:health:{health['id']}:{health['state']}:{health['at']}"
        if self.kind == "test":
            return f"{self.desk_id}:{self.channel_id}:test:{self.items[0].received.isoformat()}"
        item = self.items[0]
        return f"{self.desk_id}:{self.channel_id}:{item.cluster_id}:{item.topic_key()}"
