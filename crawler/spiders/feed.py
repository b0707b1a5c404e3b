"""`feed` sources: RSS, Atom, RDF and JSON Feed, with conditional GET; full-content feeds need no fetch."""

from __future__ import annotations

from scrapy.http import Response

from newsmon.crawler.entries import Parsed
from newsmon.crawler.feeds import parse_feed
from newsmon.crawler.spiders.base import Poll, PollingSpider


class FeedSpider(PollingSpider):
    """Reads feeds with feedparser."""

    name = kind = "feed"
    conditional_get = True

    def parse_entries(self, poll: Poll, response: Response) -> Parsed:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        return parse_feed(response.body, response.url, content_type, poll.timezone)
