"""`sitemap` sources: news sitemaps and sitemap indexes, newest first, bounded by age."""

from __future__ import annotations

import gzip

from scrapy.http import Response

from newsmon.crawler.entries import Parsed, parse_sitemap
from newsmon.crawler.spiders.base import Poll, PollingSpider


class SitemapSpider(PollingSpider):
    """Reads URLs (and child sitemaps) from sitemaps."""

    name = kind = "sitemap"

    def parse_entries(self, poll: Poll, response: Response) -> Parsed:
        body = response.body
        if body[:2] == b"\x1f\x8b":  # a .xml.gz sitemap served without Content-Encoding
            try:
                body = gzip.decompress(body)
            except OSError as exc:
                return Parsed(problem=f"bad gzip sitemap: {exc}")
        return parse_sitemap(
            body, response.url, poll.source.max_age_days, poll.source.max_items, poll.timezone
        )
