"""Article extraction with trafilatura: title, text, author, dates and canonical URL.

lxml (and so trafilatura) corrupts its heap when several threads of one process parse at once, so
this runs only in the crawler's reactor thread; scale extraction with more crawler processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import charset_normalizer
import trafilatura
from parsel import Selector

from crawler.dates import parse_date
from newsmon.errors import FetchError
from newsmon.urls import same_site

MIN_TEXT_CHARS = 40
_VISIBLE_DATES = ("//time//text() | //*[contains(@class, 'date') or contains(@class, 'time')]//text()"
                  " | //*[contains(@id, 'date')]//text()")
_DATE_META = (
    "//meta[@property='article:published_time']/@content",
    "//meta[@name='article:published_time']/@content",
    "//meta[@itemprop='datePublished']/@content",
    "//time[@datetime]/@datetime",
)


@dataclass(frozen=True)
class Extracted:
    """What the extractor found on an article page."""

    title: str
    text: str
    author: str | None
    published: datetime | None
    canonical_url: str | None
    language: str | None


def decode_html(response: Any) -> str:
    """A page's text: the declared charset (header, BOM, meta) unless it yields mojibake, in which
    case the charset is detected from the bytes (pages declaring UTF-8 but sent as windows-1256)."""
    text = response.text
    if text.count("\ufffd") <= max(2, len(text) // 500):
        return text
    best = charset_normalizer.from_bytes(response.body).best()
    if best is None:
        return text
    return str(best)


def _parse_date(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _page_metadata(html: str, tz_name: str | None) -> tuple[datetime | None, str | None, str | None]:
    page = Selector(text=html)
    published = None
    for xpath in _DATE_META:
        value = page.xpath(xpath).get()
        if value and (published := _parse_date(value)):
            break
    if published is None:  # a date written for readers: ١٦ تشرين الثاني ٢٠١٧, 16ی تشرینی دووەم ...
        for text in page.xpath(_VISIBLE_DATES).getall()[:5]:
            if (published := parse_date(" ".join(text.split()), tz_name)) is not None:
                break
    canonical = page.xpath("//link[@rel='canonical']/@href").get()
    language = page.xpath("/html/@lang").get()
    return published, canonical, language


def extract_article(html: str, url: str, tz_name: str | None = "Asia/Baghdad") -> Extracted:
    """Extract an article from HTML.

    Raises:
        FetchError: the page holds no article text.
    """
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    if document is None or not (document.text or "").strip():
        raise FetchError("no article text found on the page")
    published, canonical, language = _page_metadata(html, tz_name)
    if published is None and document.date:
        published = _parse_date(document.date)
    if canonical and not (canonical.startswith(("http://", "https://")) and same_site(canonical, url)):
        canonical = None  # a canonical link to another site would merge unrelated stories
    text = document.text.strip()
    title = (document.title or "").strip()
    if title and text.startswith(title):
        text = text[len(title):].lstrip()
    if len(text) < MIN_TEXT_CHARS:
        raise FetchError(f"too little text for an article ({len(text)} characters)")
    return Extracted(
        title=title,
        text=text,
        author=(document.author or None),
        published=published,
        canonical_url=canonical,
        language=language,
    )
