"""What a source's index page lists, for every kind: listing pages, sitemaps and Telegram channels.

Each parser is a plain function from a document to `Entry` items (and, for a sitemap index, the child
sitemaps to read next), so it can be tested on saved pages without Scrapy. Feeds are parsed in
`crawler.feeds`, into the same `Entry`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

from lxml import etree
from parsel import Selector

from newsmon.crawler.dates import parse_date
from newsmon.patterns import compile_link_pattern, compile_xpath, css_to_xpath

_HTTP = ("http://", "https://")


@dataclass(frozen=True)
class Entry:
    """One item a source lists: an article to fetch, or (with `text`) a story complete in itself."""

    key: str
    link: str
    title: str = ""
    guid: str | None = None
    published: datetime | None = None
    summary: str = ""
    text: str | None = None  # the whole story when the index carries it (full-content feed, Telegram post)
    links: tuple[str, ...] = ()


@dataclass
class Parsed:
    """What one index document gave."""

    entries: list[Entry] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)  # further index documents (child sitemaps)
    problem: str | None = None  # why the document could not be used, when it could not
    skipped: list[str] = field(default_factory=list)
    newest: datetime | None = None
    document: str | None = None  # what the document was recognised as (a feed's version: rss20, atom10, json)
    links: list[tuple[str, list[str]]] = field(default_factory=list)  # a feed's (href, rels): hub, self


def check_link(url: str) -> None:
    """Raise ValueError when a joined link has a malformed host or port (`http://[::1`, `:notaport`), so
    that the parser skips that item with its reason instead of losing the poll later."""
    urlsplit(url).port  # noqa: B018 - parsing the port is the check


def _newest(entries: list[Entry]) -> datetime | None:
    dates = [e.published for e in entries if e.published]
    return max(dates) if dates else None


def _item_error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:160]}"


def parse_listing(html: str, base_url: str, selector: str | None, xpath: str | None, pattern: str | None,
                  max_items: int, exclude: str | None = None) -> Parsed:
    """Article links of an HTML listing page, in page order, by CSS selector, XPath and/or URL regex.

    A link that cannot be used (malformed, not http) is skipped with its reason; the others are kept.
    The URL regex runs on RE2, so no pattern can make a hostile page take long.
    """

    try:
        page = Selector(text=html, base_url=base_url)
        if not page.xpath("//a"):
            return Parsed(problem="not a listing page (no links found)")
        pairs: list[tuple[str, str]] = []  # (href, title)
        if xpath:
            compile_xpath(xpath)
            for value in page.xpath(xpath):
                node = value.root
                if isinstance(node, str):
                    pairs.append((node, ""))
                elif hasattr(node, "get"):
                    pairs.append((node.get("href") or "", " ".join(value.xpath(".//text()").getall())))
        else:
            anchors = page.xpath(css_to_xpath(selector)).xpath("descendant-or-self::a[@href]") if selector \
                else page.xpath("//a[@href]")
            pairs = [(a.attrib.get("href", ""), " ".join(a.xpath(".//text()").getall())) for a in anchors]
        regex = compile_link_pattern(pattern) if pattern else None
        leave_out = compile_link_pattern(exclude) if exclude else None
    except ValueError as exc:
        return Parsed(problem=f"listing rules cannot be applied: {exc}")
    seen: set[str] = set()
    entries: list[Entry] = []
    skipped: list[str] = []
    for index, (href, title) in enumerate(pairs):
        try:
            url = urljoin(base_url, href.strip()).split("#", 1)[0]
            if not url.startswith(_HTTP) or url in seen or url.rstrip("/") == base_url.rstrip("/"):
                continue
            check_link(url)
            if (regex and not regex.search(url)) or (leave_out and leave_out.search(url)):
                continue
        except ValueError as exc:
            skipped.append(f"link {index} {href[:80]!r}: {_item_error(exc)}")
            continue
        seen.add(url)
        entries.append(Entry(key=url, link=url, title=" ".join(title.split())[:300]))
        if len(entries) >= max_items:
            break
    return Parsed(entries=entries, skipped=skipped)


_SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
               "news": "http://www.google.com/schemas/sitemap-news/0.9"}


def children_limit(max_age_days: float) -> int:
    """How many child sitemaps of an index (newest first, within the age window) a poll follows: 3 for a
    poll's few days; for a longer window (`newsmon backfill --days 30`) a day's worth each, at most 100."""
    return 3 if max_age_days <= 3 else min(100, math.ceil(max_age_days) + 1)


def parse_sitemap(body: bytes, base_url: str, max_age_days: float, max_items: int, tz_name: str | None,
                  now: datetime | None = None) -> Parsed:
    """URLs of a sitemap (newest first, no older than max_age_days), or the children of a sitemap index."""
    now = now or datetime.now(UTC)
    oldest = now - timedelta(days=max_age_days)
    try:
        root = etree.fromstring(body.lstrip(), parser=etree.XMLParser(resolve_entities=False, no_network=True,
                                                                      recover=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        return Parsed(problem=f"not a sitemap: {exc}")
    if root is None:
        return Parsed(problem="not a sitemap (empty or not XML)")
    tag = etree.QName(root).localname
    skipped: list[str] = []
    if tag == "sitemapindex":
        children = []
        for index, node in enumerate(root.findall("sm:sitemap", _SITEMAP_NS) or root.findall("sitemap")):
            try:
                loc = (node.findtext("sm:loc", namespaces=_SITEMAP_NS) or node.findtext("loc") or "").strip()
                when = parse_date(node.findtext("sm:lastmod", namespaces=_SITEMAP_NS) or "", tz_name)
                if loc.startswith(_HTTP) and (when is None or when >= oldest):
                    url = urljoin(base_url, loc)
                    check_link(url)
                    children.append((when or now, url))
            except ValueError as exc:
                skipped.append(f"sitemap {index}: {_item_error(exc)}")
        children.sort(reverse=True)
        return Parsed(follow=[url for _, url in children[:children_limit(max_age_days)]], skipped=skipped)
    if tag != "urlset":
        return Parsed(problem=f"not a sitemap (root element <{tag}>)")
    entries = []
    for index, node in enumerate(root.findall("sm:url", _SITEMAP_NS) or root.findall("url")):
        try:
            loc = (node.findtext("sm:loc", namespaces=_SITEMAP_NS) or node.findtext("loc") or "").strip()
            if not loc.startswith(_HTTP):
                continue
            check_link(loc)
            news_date = node.findtext("news:news/news:publication_date", namespaces=_SITEMAP_NS)
            lastmod = node.findtext("sm:lastmod", namespaces=_SITEMAP_NS) or node.findtext("lastmod")
            when = parse_date(news_date or lastmod or "", tz_name)
            title = (node.findtext("news:news/news:title", namespaces=_SITEMAP_NS) or "").strip()
            entries.append(Entry(key=loc, link=loc, title=title, published=when))
        except ValueError as exc:
            skipped.append(f"url {index}: {_item_error(exc)}")
    newest = _newest(entries)
    fresh = [e for e in entries if e.published is None or e.published >= oldest]
    fresh.sort(key=lambda e: e.published or now, reverse=True)
    return Parsed(entries=fresh[:max_items], newest=newest, skipped=skipped)


def parse_telegram(html: str, base_url: str, max_age_days: float, max_items: int,
                   now: datetime | None = None) -> Parsed:
    """Posts of a public Telegram channel's preview page (t.me/s/<channel>), each a complete story."""
    now = now or datetime.now(UTC)
    page = Selector(text=html, base_url=base_url)
    posts = page.css("div.tgme_widget_message[data-post]")
    if not posts:
        if page.css("div.tgme_channel_info, div.tgme_page"):
            return Parsed()  # a channel page with no posts
        return Parsed(problem="not a Telegram channel preview page")
    entries = []
    skipped: list[str] = []
    for index, post in enumerate(posts):
        try:
            post_id = post.attrib["data-post"]
            link = urljoin(base_url, post.css("a.tgme_widget_message_date::attr(href)").get()
                           or f"https://t.me/{post_id}")
            if not link.startswith(_HTTP):
                raise ValueError(f"post link is not http(s): {link[:80]}")
            check_link(link)
            text_node = post.css("div.tgme_widget_message_text")
            text = "\n".join(t.strip() for t in text_node.xpath(".//text()").getall() if t.strip())
            if not text:
                continue
            when = parse_date(post.css("a.tgme_widget_message_date time::attr(datetime)").get() or "", "UTC")
            links = []
            for href in text_node.css("a::attr(href)").getall():
                try:
                    url = urljoin(base_url, href)
                    if url.startswith(_HTTP) and urlsplit(url).hostname != "t.me":
                        links.append(url)
                except ValueError:
                    continue  # a malformed link inside a post costs only that link
            title = text.split("\n", 1)[0][:160]
            entries.append(Entry(key=link, link=link, title=title, guid=post_id, published=when, text=text,
                                 links=tuple(dict.fromkeys(links))))
        except (ValueError, KeyError) as exc:
            skipped.append(f"post {index}: {_item_error(exc)}")
    newest = _newest(entries)
    oldest = now - timedelta(days=max_age_days)
    fresh = [e for e in entries if e.published is None or e.published >= oldest]
    fresh.sort(key=lambda e: e.published or now, reverse=True)
    return Parsed(entries=fresh[:max_items], newest=newest, skipped=skipped)
