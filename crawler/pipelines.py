"""Item pipelines: validate extracted stories, then enqueue them on the RQ `process` queue.

A dry run (`newsmon sources test`, `newsmon backfill`) installs the validation only and collects what
passes through Scrapy's `item_scraped` signal (crawler/runner.py): no pipeline knows about it. The enqueue
pipeline owns batching: it sends a poll's stories when a batch is full, FLUSH_SECONDS after the first
waited, when the spider announces the poll's end (crawler/signals.py) and when the crawler closes.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import Queue, Retry
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from newsmon import keys, stats
from newsmon.crawler import polls
from newsmon.crawler.extract import MIN_TEXT_CHARS
from newsmon.crawler.signals import POLL_FINISHED
from newsmon.serializer import JobSerializer

log = logging.getLogger(__name__)

REDIS_SETTING = "NEWSMON_REDIS"  # a Shared(redis.Redis) the runner puts in the crawler's settings


class Shared:
    """An object handed to the crawler's components through its settings, which Scrapy deep-copies: it
    stays the one object (a Redis connection must not be copied)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __copy__(self) -> Shared:
        return self

    def __deepcopy__(self, memo: dict) -> Shared:
        return self

MIN_POST_CHARS = 10


class ValidateStoryPipeline:
    """Drops stories without a title or with too little text to be an article (the spider, which keeps
    the seen-set, hears of each drop through Scrapy's `item_dropped` signal)."""

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
            raise DropItem(f"story dropped source={item['source_id']} url={story['url']}: {problem}")
        return item


class EnqueueStoryPipeline:
    """Enqueues stories on the `process` queue, a poll's stories together, then marks their feed
    entries as seen.

    RQ's cost per job (the enqueue here, and its overhead in a worker) is paid per job, so the stories of one
    poll share jobs of up to `keys.PROCESS_BATCH`. A story waits for others of its poll at most
    FLUSH_SECONDS, or until its poll ends. Entries are marked seen only once their job is enqueued: a
    crawler that dies with stories waiting fetches them again on the next poll.
    """

    FLUSH_SECONDS = 0.5

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.redis: redis.Redis = crawler.settings[REDIS_SETTING].value
        self._queue = Queue(keys.PROCESS_QUEUE, connection=self.redis, serializer=JobSerializer)
        self._waiting: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EnqueueStoryPipeline:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.poll_finished, signal=POLL_FINISHED)
        return pipeline

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        poll_id = item.get("poll_id") or item["source_id"]
        waiting = self._waiting.setdefault(poll_id, [])
        waiting.append(item)
        if len(waiting) >= keys.PROCESS_BATCH:
            self._flush(poll_id)
        elif len(waiting) == 1:
            # imported here: importing the reactor installs one; Scrapy installs its own first
            from twisted.internet import reactor

            reactor.callLater(self.FLUSH_SECONDS, self._flush, poll_id)
        return item

    def poll_finished(self, poll_id: str) -> None:
        """The poll has no request left: its waiting stories go now."""
        self._flush(poll_id)

    def close_spider(self) -> None:
        for poll_id in list(self._waiting):
            self._flush(poll_id)

    def _flush(self, poll_id: str) -> None:
        items = self._waiting.pop(poll_id, None)
        if not items:
            return
        conn = self.redis
        stories = [item["story"] for item in items]
        attempts, intervals = keys.PROCESS_RETRY
        retry = Retry(max=attempts, interval=intervals)
        try:
            if len(stories) == 1:
                self._queue.enqueue(keys.PROCESS_STORY_JOB, stories[0], retry=retry,
                                    failure_ttl=keys.PROCESS_FAILURE_TTL,
                                    description=f"process {stories[0]['id']} {stories[0]['url']}")
            else:
                self._queue.enqueue(
                    keys.PROCESS_BATCH_JOB,
                    stories,
                    retry=retry,
                    failure_ttl=keys.PROCESS_FAILURE_TTL,
                    description=f"process {len(stories)} stories of {items[0]['source_id']}: "
                    f"{', '.join(s['id'] for s in stories)}",
                )
            by_source: dict[str, list[str]] = {}
            for item in items:
                by_source.setdefault(item["source_id"], []).append(item["entry_key"])
            for source_id, entry_keys in by_source.items():
                polls.mark_seen(conn, source_id, *entry_keys)
            stats.count(conn, f"queue:{keys.PROCESS_QUEUE}:in", len(stories))
        except redis.RedisError as exc:
            log.error("could not enqueue %d stories of %s (fetched again on the next poll): %s", len(stories),
                      items[0]["source_id"], exc)
            return
        self.crawler.stats.inc_value("newsmon/stories/enqueued", len(stories))
