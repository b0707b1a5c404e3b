"""Feed parsing with feedparser (RSS, Atom, RDF, JSON Feed): entries we can use, and a named reason for
what we could not. A full-content feed (content:encoded, Atom content) hands over the story itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml.etree import ParserError

from newsmon.crawler.dates import parse_date
from newsmon.crawler.entries import Entry, Parsed, _newest, check_link

FULL_CONTENT_CHARS = 400  # a feed body shorter than this is a teaser: fetch the article page


def _when(entry: Any, tz_name: str | None) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if isinstance(value, struct_time):
            try:
                return datetime(*value[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    for name in ("published", "updated", "date_published"):
        if entry.get(name) and (parsed := parse_date(str(entry[name]), tz_name)):
            return parsed
    return None


def html_to_text(html: str) -> str:
    """The text of an HTML fragment, one paragraph a line."""
    try:
        root = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return html.strip()
    for block in root.xpath("//p|//br|//div|//li|//h1|//h2|//h3|//h4"):
        block.tail = "\n" + (block.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


def _full_text(entry: Any) -> str | None:
    for content in entry.get("content", []) or []:
        value = content.get("value") or ""
        text = html_to_text(value) if "html" in (content.get("type") or "html") else value.strip()
        if len(text) >= FULL_CONTENT_CHARS:
            return text
    return None


TOO_DEEP = object()  # an item of a JSON Feed nested too deeply to read: skipped with its reason


def _item_spans(text: str) -> tuple[int, int, list[tuple[int, int]]] | None:
    """Where the top-level `items` array of a JSON object is, and where each of its elements is, found
    without recursion (a scanner that only counts brackets outside strings): (start, end, spans)."""
    depth, i, n = 0, 0, len(text)
    expect_key, key = False, None
    start = end = -1
    element = -1
    spans: list[tuple[int, int]] = []
    while i < n:
        char = text[i]
        if char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if depth == 1 and expect_key:
                try:
                    key = json.loads(text[i:j + 1])
                except ValueError:
                    return None
                expect_key = False
            i = j + 1
            continue
        if char in "{[":
            depth += 1
            if depth == 1:
                expect_key = char == "{"
            elif depth == 2 and char == "[" and key == "items" and start < 0:
                start, element = i, i + 1
        elif char in "}]":
            if depth == 2 and start >= 0 and end < 0 and char == "]":
                if text[element:i].strip():
                    spans.append((element, i))
                end = i + 1
            depth -= 1
        elif char == "," and depth == 1:
            expect_key = True
        elif char == "," and depth == 2 and start >= 0 and end < 0:
            spans.append((element, i))
            element = i + 1
        i += 1
    return (start, end, spans) if 0 <= start < end else None


def _deep_json_feed(body: bytes) -> dict[str, Any] | str:
    """A JSON Feed too deep for the JSON parser as a whole: its items read one by one, so one item nested
    50,000 levels deep costs that item only."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "JSON nested too deeply"
    found = _item_spans(text)
    if found is None:
        return "JSON nested too deeply"
    start, end, spans = found
    try:
        data = json.loads(text[:start] + "[]" + text[end:])
    except (RecursionError, ValueError):
        return "JSON nested too deeply outside its items"
    if not isinstance(data, dict):
        return "JSON nested too deeply"
    items: list[Any] = []
    for a, b in spans:
        try:
            items.append(json.loads(text[a:b]))
        except RecursionError:
            items.append(TOO_DEEP)
        except ValueError:
            items.append(None)
    data["items"] = items
    return data


def _json_feed(body: bytes) -> dict[str, Any] | str | None:
    """The JSON Feed document, a problem (str) when it is JSON that cannot be used, or None when the body
    is no JSON Feed at all."""
    head = body.lstrip()[:1]
    if head != b"{":
        return None
    try:
        data = json.loads(body)
    except RecursionError:
        data = _deep_json_feed(body)
        if isinstance(data, str):
            return data
    except ValueError:
        return None
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        return None
    if not isinstance(data.get("items", []), list):
        return f"JSON Feed: items is a {type(data['items']).__name__}, not a list"
    return data


def _text_field(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise TypeError(f"{name} is a {type(value).__name__}, not text")
    return str(value)


def _parse_json_feed(data: dict[str, Any], url: str, tz_name: str | None) -> Parsed:
    entries = []
    skipped = []
    for index, item in enumerate(data.get("items") or []):
        try:
            if item is TOO_DEEP:
                raise ValueError("JSON nested too deeply")
            if not isinstance(item, dict):
                raise TypeError(f"item is a {type(item).__name__}, not an object")
            link = urljoin(url, _text_field(item, "url") or _text_field(item, "external_url"))
            if not link.startswith(("http://", "https://")):
                skipped.append(f"entry {index}: no link")
                continue
            check_link(link)
            html = _text_field(item, "content_html")
            text = _text_field(item, "content_text") or (html_to_text(html) if html else "")
            ident = _text_field(item, "id")
            entries.append(Entry(
                key=ident or link, link=link, title=_text_field(item, "title").strip(), guid=ident or None,
                published=parse_date(_text_field(item, "date_published"), tz_name),
                summary=_text_field(item, "summary"), text=text if len(text) >= FULL_CONTENT_CHARS else None,
            ))
        except (ValueError, TypeError, RecursionError) as exc:
            skipped.append(f"entry {index}: {type(exc).__name__}: {str(exc)[:160]}")
    links: list[tuple[str, list[str]]] = []  # JSON Feed 1.1: WebSub hubs in `hubs`, its address in `feed_url`
    hubs = data.get("hubs")
    for hub in hubs if isinstance(hubs, list) else []:
        if isinstance(hub, dict) and isinstance(hub.get("url"), str) \
                and str(hub.get("type", "")).lower() == "websub":
            links.append((hub["url"], ["hub"]))
    if isinstance(data.get("feed_url"), str):
        links.append((data["feed_url"], ["self"]))
    return Parsed(entries=entries, skipped=skipped, newest=_newest(entries), document="json", links=links)


def parse_feed(body: bytes, url: str, content_type: str | None = None, tz_name: str | None = None) -> Parsed:
    """Parse feed bytes; never raises on bad input, names the problem instead."""
    json_feed = _json_feed(body)
    if isinstance(json_feed, str):
        return Parsed(problem=json_feed)
    if json_feed is not None:
        return _parse_json_feed(json_feed, url, tz_name)
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    result = Parsed(document=parsed.get("version") or None)
    feed = parsed.get("feed") or {}
    result.links = [(str(link.get("href") or ""), str(link.get("rel") or "").split())
                    for link in feed.get("links", []) if isinstance(link, dict) and link.get("rel")]
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        result.problem = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
    for index, entry in enumerate(parsed.get("entries", [])):
        try:
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
            check_link(link)
            guid = entry.get("id") or None
            result.entries.append(
                Entry(
                    key=guid or link,
                    link=link,
                    title=str(entry.get("title", "")).strip(),
                    guid=guid,
                    published=_when(entry, tz_name),
                    summary=str(entry.get("summary", "")),
                    text=_full_text(entry),
                )
            )
        except (ValueError, TypeError, AttributeError) as exc:  # one bad entry costs only itself
            result.skipped.append(f"entry {index}: {type(exc).__name__}: {str(exc)[:160]}")
    if not result.entries and not result.skipped and not result.problem and not parsed.get("version"):
        result.problem = "not a feed (no RSS, Atom, RDF or JSON Feed document found)"
    result.newest = _newest(result.entries)
    return result
