"""Feed parsing with feedparser: entries we can use, and a named reason for what we could not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser


@dataclass(frozen=True)
class FeedEntry:
    """One usable feed entry."""

    key: str
    link: str
    title: str
    guid: str | None
    published: datetime | None
    summary: str


@dataclass
class ParsedFeed:
    """What a feed document gave: entries, and problems worth logging."""

    entries: list[FeedEntry] = field(default_factory=list)
    problem: str | None = None
    skipped: list[str] = field(default_factory=list)
    title: str = ""


def _when(entry: Any) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if isinstance(value, struct_time):
            try:
                return datetime(*value[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse RSS, Atom or JSON-less feed bytes; never raises on bad input, names the problem instead."""
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    result = ParsedFeed(title=str(parsed.get("feed", {}).get("title", "")))
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        result.problem = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
    for index, entry in enumerate(parsed.get("entries", [])):
        link = entry.get("link") or ""
        if not link:
            links = [l.get("href") for l in entry.get("links", []) if l.get("href")]
            link = links[0] if links else ""
        if not link:
            result.skipped.append(f"entry {index}: no link")
            continue
        link = urljoin(url, link)
        if not link.startswith(("http://", "https://")):
            result.skipped.append(f"entry {index}: link is not http(s): {link[:80]}")
            continue
        guid = entry.get("id") or None
        result.entries.append(
            FeedEntry(
                key=guid or link,
                link=link,
                title=str(entry.get("title", "")).strip(),
                guid=guid,
                published=_when(entry),
                summary=str(entry.get("summary", "")),
            )
        )
    if not result.entries and not result.skipped and not result.problem and not parsed.get("version"):
        result.problem = "not a feed (no RSS, Atom or RDF document found)"
    return result
