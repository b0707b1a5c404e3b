"""Feed parsing: real feeds, malformed and oddly encoded ones, and what is not a feed at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.crawler.feeds import parse_feed
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


MANIFEST = FIXTURES / "feedparser-corpus-outcomes.tsv"


def outcome(path: Path) -> str:
    """What newsmon makes of one corpus file: entries kept, entries skipped with a reason, the problem
    named for the document, and what the document was recognised as."""
    feed = parse_feed(path.read_bytes(), "http://example.org/feed")
    problem = feed.problem.split(":", 1)[0] if feed.problem else "-"
    document = feed.document or "-"
    return f"entries={len(feed.entries)} skipped={len(feed.skipped)} problem={problem} document={document}"


def _manifest() -> dict[str, str]:
    rows = (
        line.split("\t") for line in MANIFEST.read_text().splitlines() if line and not line.startswith("#")
    )
    return {path: expected for path, expected in rows}


EXPECTED = _manifest() if MANIFEST.exists() else {}


def test_manifest_covers_the_corpus() -> None:
    assert set(EXPECTED) == {str(p.relative_to(FIXTURES / "feedparser-corpus")) for p in CORPUS}


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(FIXTURES / "feedparser-corpus")))
def test_every_corpus_feed_gives_its_reviewed_outcome(path: Path) -> None:
    found = outcome(path)
    # never nothing: entries, skipped entries with their reasons, a named problem, or a recognised
    # (empty) feed document
    assert found != "entries=0 skipped=0 problem=- document=-", f"{path}: no entries and no reason"
    assert found == EXPECTED[str(path.relative_to(FIXTURES / "feedparser-corpus"))]
    for entry in parse_feed(path.read_bytes(), "http://example.org/feed").entries:
        assert entry.link.startswith(("http://", "https://"))
        assert entry.key


def write_manifest() -> None:
    """Write the outcomes of the current parser (`python -m tests.test_feeds`); review the diff before
    committing it: every change of outcome must be one that was meant."""
    lines = ["# path\toutcome of crawler.feeds.parse_feed (see tests/test_feeds.py; regenerate with",
             "# `python -m tests.test_feeds` and review the diff)"]
    lines += [f"{p.relative_to(FIXTURES / 'feedparser-corpus')}\t{outcome(p)}" for p in CORPUS]
    MANIFEST.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_manifest()


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
