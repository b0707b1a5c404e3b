"""`listing` sources: an HTML page whose article links a CSS selector, an XPath or a URL regex picks."""

from __future__ import annotations

from scrapy.http import Response

from newsmon.crawler.entries import Parsed, parse_listing
from newsmon.crawler.extract import decode_html
from newsmon.crawler.spiders.base import Poll, PollingSpider


class ListingSpider(PollingSpider):
    """Reads article links from listing pages."""

    name = kind = "listing"

    def parse_entries(self, poll: Poll, response: Response) -> Parsed:
        source = poll.source
        if (
            not response.headers.get("Content-Type", b"text/html")
            .lower()
            .startswith((b"text/html", b"application/xhtml"))
        ):
            return Parsed(problem="not an HTML page")
        return parse_listing(decode_html(response), response.url, source.link_selector, source.link_xpath,
                             source.link_pattern, source.max_items, source.link_exclude)
