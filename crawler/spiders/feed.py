"""`feed` sources: RSS, Atom, RDF and JSON Feed, with conditional GET; full-content feeds need no fetch; the
WebSub hub a feed names (in its links or its HTTP Link header) is kept for the scheduler to subscribe."""

from __future__ import annotations

from scrapy.http import Response

from newsmon.crawler.entries import Parsed
from newsmon.crawler.feeds import parse_feed
from newsmon.crawler.spiders.base import Poll, PollingSpider
from newsmon.websub import link_header


class FeedSpider(PollingSpider):
    """Reads feeds with feedparser."""

    name = kind = "feed"
    conditional_get = True

    def parse_entries(self, poll: Poll, response: Response) -> Parsed:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        parsed = parse_feed(response.body, response.url, content_type, poll.timezone)
        # a hub named in the HTTP Link header comes before the document's own links (WebSub 4)
        header = b", ".join(response.headers.getlist("Link")).decode("latin-1")
        parsed.links = [(url, sorted(rels)) for url, rels in link_header(header)] + parsed.links
        return parsed
