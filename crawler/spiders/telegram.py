"""`telegram` sources: a public channel's preview page (t.me/s/<channel>); each post is a story."""

from __future__ import annotations

from scrapy.http import Response

from newsmon.crawler.entries import Parsed, parse_telegram
from newsmon.crawler.extract import decode_html
from newsmon.crawler.spiders.base import Poll, PollingSpider


class TelegramSpider(PollingSpider):
    """Reads posts from Telegram channel previews."""

    name = kind = "telegram"

    def parse_entries(self, poll: Poll, response: Response) -> Parsed:
        return parse_telegram(
            decode_html(response), response.url, poll.source.max_age_days, poll.source.max_items
        )
