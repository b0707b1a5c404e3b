"""Article extraction with trafilatura: title, text, author, dates and canonical URL.

lxml (and so trafilatura) corrupts its heap when several threads of one process parse at once, so
this runs only in the crawler's reactor thread; scale extraction with more crawler processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import charset_normalizer
import lxml.html
import trafilatura
from lxml import etree
from parsel import Selector
from trafilatura.utils import repair_faulty_html

from newsmon.crawler.dates import parse_date
from newsmon.errors import FetchError
from newsmon.urls import same_site

MIN_TEXT_CHARS = 40
# the fast path's text is taken for the whole page (and the full path asked) when it has this many lines,
# at least half of them shorter than _SHORT_LINE characters, and this share of its characters in lines
# that are the texts of the page's links
_WHOLE_PAGE_MIN_LINES = 8
_SHORT_LINE = 100
_WHOLE_PAGE_LINK_SHARE = 0.2
_VISIBLE_DATES = ("//time//text() | //*[contains(@class, 'date') or contains(@class, 'time')]//text()"
                  " | //*[contains(@id, 'date')]//text()")
# meta elements read for metadata, by (attribute, value), in the order they are preferred
_DATE_META = (("property", "article:published_time"), ("name", "article:published_time"),
              ("itemprop", "datePublished"))
_TITLE_META = (("property", "og:title"),)
_AUTHOR_META = (("name", "author"), ("property", "article:author"))
_WANTED_META = frozenset(_DATE_META + _TITLE_META + _AUTHOR_META)
_REL_BEFORE = re.compile(r"""\brel\s*=\s*["']?\s*$""", re.IGNORECASE)  # what precedes a rel="author"


def _html_parser() -> lxml.html.HTMLParser:
    """trafilatura's parser settings (comments and processing instructions dropped, their tails kept),
    with lxml's C-level class lookup: every element an `HtmlElement`, as trafilatura needs, without
    lxml.html's lookup, a Python call for each element Python touches (about 12,000 a page, an
    eighth of the extraction's time)."""
    parser = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                                  remove_comments=True, remove_pis=True)
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))
    return parser


_PARSER = _html_parser()


def load_html(html: str) -> Any:
    """A page's tree as `trafilatura.load_html` makes it from a string (the same repair, the same
    fallback to bytes, the same refusal of what is not HTML), parsed by `_PARSER`; None when it is
    not HTML.

    This follows trafilatura's internals (its `load_html` and `repair_faulty_html`), so pyproject allows
    `trafilatura>=2.0,<2.4`; tests/test_extract_demo.py
    (test_the_page_parser_builds_trafilaturas_tree_without_python_class_lookups) compares the trees
    and extractions with trafilatura's own on every page fixture, at both ends of the range (.ci/run)."""
    beginning = html[:50].lower()
    html = repair_faulty_html(html, beginning)
    try:
        tree = lxml.html.fromstring(html, parser=_PARSER)
    except (ValueError, etree.LxmlError):  # e.g. a string that declares its encoding: tried as bytes
        tree = None
    if tree is None or len(tree) < 1:
        try:
            tree = lxml.html.fromstring(html.encode("utf8", "surrogatepass"), parser=_PARSER)
        except (ValueError, etree.LxmlError):
            tree = None
    if tree is not None and "html" not in beginning and len(tree) < 2:
        return None
    return tree


def _has_rel_author(html: str) -> bool:
    """Whether the source can hold an element with rel="author" (the value is matched exactly, so it
    is in the source as written): found with str.find, far cheaper than walking the tree."""
    at = html.find("author")
    while at != -1:
        if _REL_BEFORE.search(html[max(0, at - 16):at]):
            return True
        at = html.find("author", at + 6)
    return False


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


@dataclass(frozen=True)
class _Meta:
    title: str
    author: str | None
    published: datetime | None
    canonical: str | None
    language: str | None


def _first(page: Selector, *xpaths: str) -> str | None:
    for xpath in xpaths:
        value = " ".join((page.xpath(xpath).get() or "").split())
        if value:
            return value
    return None


@dataclass
class _Markup:
    """What one pass over a page's meta, link, title, time and link-like elements found."""

    metas: dict[tuple[str, str], str] = field(default_factory=dict)  # first content of each wanted meta
    canonical: str | None = None
    title: str | None = None
    time: str | None = None  # the first <time datetime=...>


def _scan(root: Any) -> _Markup:
    """One filtered walk over the tree in lxml's C code (the elements that can carry metadata), instead
    of an XPath per field, each of which walks the whole tree."""
    found = _Markup()
    for element in root.iter("meta", "link", "title", "time"):
        tag = element.tag
        if tag == "meta":
            content = element.get("content")
            if content is None:
                continue
            for attribute in ("property", "name", "itemprop"):
                name = element.get(attribute)
                if name is not None and (attribute, name) in _WANTED_META:
                    found.metas.setdefault((attribute, name), content)
            continue
        if tag == "link":
            if (
                found.canonical is None
                and element.get("rel") == "canonical"
                and element.get("href") is not None
            ):
                found.canonical = element.get("href")
        elif tag == "title":
            if found.title is None and element.text is not None:
                found.title = element.text
        elif tag == "time" and found.time is None:
            found.time = element.get("datetime")
    return found


def _first_meta(metas: dict[tuple[str, str], str], wanted: tuple[tuple[str, str], ...]) -> str | None:
    for key in wanted:
        value = " ".join(metas.get(key, "").split())
        if value:
            return value
    return None


def _page_metadata(page: Selector, tz_name: str | None, html: str) -> _Meta:
    """Title, author, date, canonical URL and language from the page's markup.

    Read here rather than by trafilatura's metadata pass, which costs more than the extraction itself
    on long pages; the body is searched only for what the head lacks.
    """
    root = page.root
    markup = _scan(root)
    metas = markup.metas
    published = None
    for key in _DATE_META:
        value = metas.get(key)
        if value and (published := parse_date(value, tz_name)):
            break
    if published is None and markup.time is not None:
        published = parse_date(markup.time, tz_name)
    if published is None:  # a date written for readers: ١٦ تشرين الثاني ٢٠١٧, 16ی تشرینی دووەم ...
        for text in page.xpath(_VISIBLE_DATES).getall()[:5]:
            if (published := parse_date(" ".join(text.split()), tz_name)) is not None:
                break
    title = (_first_meta(metas, _TITLE_META) or _first(page, "//article//h1//text()", "//h1//text()")
             or " ".join((markup.title or "").split()))
    author = _first_meta(metas, _AUTHOR_META)
    if author is None and _has_rel_author(html):  # the tree is walked only when the source has one
        author = _first(page, "//*[@rel='author']//text()")
    return _Meta(title=title, author=author, published=published, canonical=markup.canonical,
                 language=root.get("lang") if root.tag == "html" else None)


def _looks_like_whole_page(text: str, tree: Any) -> bool:
    """Whether the fast path's text looks like the whole page rather than its article: it returns the
    page's every text (menus, link lists, footer) when it finds no content block it knows. The sign is
    many short lines, a good share of which are the texts of the page's links; the links are read only
    when the lines look like that, so an ordinary article costs a split and a count."""
    lines = [line for line in (" ".join(raw.split()) for raw in text.split("\n")) if line]
    if len(lines) < _WHOLE_PAGE_MIN_LINES or sum(len(line) < _SHORT_LINE for line in lines) * 2 < len(lines):
        return False
    links = {" ".join("".join(a.itertext()).split()) for a in tree.iter("a")}
    linked = sum(len(line) for line in lines if line in links)
    return linked >= _WHOLE_PAGE_LINK_SHARE * sum(len(line) for line in lines)


def extract_article(html: str, url: str, tz_name: str | None = "Asia/Baghdad") -> Extracted:
    """Extract an article from HTML (parsed once: metadata first, then trafilatura on the same tree).

    Raises:
        FetchError: the page holds no article text.
    """
    if not html.strip():
        raise FetchError("empty page")
    tree = load_html(html)  # comments and processing instructions dropped with their tails kept (React's
    if tree is None:        # <!-- --> inside paragraphs)
        raise FetchError("not an HTML page")
    page = Selector(root=tree, type="html")
    meta = _page_metadata(page, tz_name, html)
    document = trafilatura.bare_extraction(
        tree, url=url, with_metadata=False, include_comments=False, fast=True
    )
    if document is not None and _looks_like_whole_page(document.text or "", tree):
        full = trafilatura.bare_extraction(
            tree, url=url, with_metadata=False, include_comments=False, fast=False
        )
        if full is not None and len((full.text or "").strip()) >= MIN_TEXT_CHARS:
            document = full
    if document is None or not (document.text or "").strip():
        raise FetchError("no article text found on the page")
    canonical = meta.canonical
    if canonical and not (canonical.startswith(("http://", "https://")) and same_site(canonical, url)):
        canonical = None  # a canonical link to another site would merge unrelated stories
    text = document.text.strip()
    title = meta.title
    if title and text.startswith(title):
        text = text[len(title):].lstrip()
    if len(text) < MIN_TEXT_CHARS:
        raise FetchError(f"too little text for an article ({len(text)} characters)")
    return Extracted(
        title=title,
        text=text,
        author=meta.author,
        published=meta.published,
        canonical_url=canonical,
        language=meta.language,
    )
