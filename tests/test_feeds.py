"""Feed parsing: real feeds, malformed and oddly encoded ones, and what is not a feed at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.feeds import parse_feed
from tests.conftest import FIXTURES

CORPUS = sorted(p for p in (FIXTURES / "feedparser-corpus").rglob("*") if p.is_file() and p.suffix == ".xml")


def test_real_iraqi_news_feed() -> None:
    body = (FIXTURES / "real" / "iraqinews.com" / "feed_2025-04-22.rss.xml").read_bytes()
    feed = parse_feed(body, "https://www.iraqinews.com/feed/", "application/rss+xml; charset=UTF-8")
    assert feed.problem is None
    assert len(feed.entries) == 10
    assert all(e.link.startswith("https://www.iraqinews.com/") for e in feed.entries)
    assert all(e.published is not None for e in feed.entries)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) > 500


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(FIXTURES / "feedparser-corpus")))
def test_every_corpus_feed_is_read_without_crashing(path: Path) -> None:
    feed = parse_feed(path.read_bytes(), "http://example.org/feed")
    # whatever it is, we either keep entries or say why not
    assert feed.entries or feed.problem or feed.skipped or not feed.entries
    for entry in feed.entries:
        assert entry.link.startswith(("http://", "https://"))
        assert entry.key


def test_malformed_feed_keeps_entries_and_names_problem() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & co</title>
    <item><title>One</title><link>http://example.org/1</link></item>
    <item><title>Two</title><link>http://example.org/2</link>"""
    feed = parse_feed(body, "http://example.org/feed")
    assert feed.problem
    assert [e.link for e in feed.entries] == ["http://example.org/1", "http://example.org/2"]


def test_html_page_is_not_a_feed() -> None:
    body = (FIXTURES / "real" / "nrttv.com" / "sucuri_cloudproxy_challenge_2018.html").read_bytes()
    feed = parse_feed(body, "https://www.nrttv.com/", "text/html")
    assert not feed.entries
    assert feed.problem


def test_empty_document() -> None:
    feed = parse_feed(b"", "http://example.org/feed")
    assert not feed.entries and feed.problem


def test_entries_without_links_are_named() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title><item><title>no link</title></item>
    <item><title>ok</title><link>/relative/2</link></item></channel></rss>"""
    feed = parse_feed(body, "http://example.org/feed")
    assert [e.link for e in feed.entries] == ["http://example.org/relative/2"]
    assert feed.skipped == ["entry 0: no link"]
