"""Item pipelines: validate extracted stories, then enqueue them on the RQ `process` queue."""

from __future__ import annotations

import logging
from typing import Any

from rq import Queue, Retry
from rq.serializers import JSONSerializer
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import polls
from crawler.extract import MIN_TEXT_CHARS
from newsmon import keys, stats

log = logging.getLogger(__name__)

MIN_POST_CHARS = 10


class ValidateStoryPipeline:
    """Drops stories without a title or with too little text to be an article."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidateStoryPipeline:
        return cls(crawler)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        story = item["story"]
        problem = None
        least = MIN_POST_CHARS if item.get("inline") else MIN_TEXT_CHARS  # a Telegram flash can be one line
        if not story["title"].strip():
            problem = "no title"
        elif len(story["text"].strip()) < least:
            problem = f"text too short ({len(story['text'].strip())} chars)"
        if problem:
            self.crawler.stats.inc_value("newsmon/stories/dropped")
            spider = self.crawler.spider
            if not spider.dry_run:
                polls.mark_seen(spider.redis, item["source_id"], item["entry_key"])
            raise DropItem(f"story dropped source={item['source_id']} url={story['url']}: {problem}")
        return item


class EnqueueStoryPipeline:
    """Enqueues each story as one `process` job, then marks its feed entry as seen."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._queue: Queue | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EnqueueStoryPipeline:
        return cls(crawler)

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        spider = self.crawler.spider
        if spider.dry_run:
            spider.collected.append(item["story"])
            return item
        if self._queue is None:
            self._queue = Queue(keys.PROCESS_QUEUE, connection=spider.redis, serializer=JSONSerializer)
        story = item["story"]
        self._queue.enqueue(
            "workers.jobs.process_story",
            story,
            retry=Retry(max=3, interval=[10, 60, 300]),
            description=f"process {story['id']} {story['url']}",
            failure_ttl=30 * 24 * 3600,
        )
        polls.mark_seen(spider.redis, item["source_id"], item["entry_key"])
        stats.count(spider.redis, f"queue:{keys.PROCESS_QUEUE}:in")
        self.crawler.stats.inc_value("newsmon/stories/enqueued")
        return item
