"""Runs the crawler role: one Scrapy process with a long-running spider per source kind."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import uuid
from typing import Any

import redis
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro

from newsmon import leases
from newsmon.crawler import settings as crawler_settings
from newsmon.crawler.middlewares import source_hosts
from newsmon.crawler.pipelines import REDIS_SETTING, Shared
from newsmon.crawler.spiders.base import PollingSpider
from newsmon.crawler.spiders.feed import FeedSpider
from newsmon.crawler.spiders.listing import ListingSpider
from newsmon.crawler.spiders.sitemap import SitemapSpider
from newsmon.crawler.spiders.telegram import TelegramSpider
from newsmon.logs import quiet_libraries
from newsmon.memory import settle_heap
from newsmon.models import PollRequest
from newsmon.settings import Config

log = logging.getLogger(__name__)

SPIDERS: dict[str, type[PollingSpider]] = {
    spider.kind: spider for spider in (FeedSpider, ListingSpider, SitemapSpider, TelegramSpider)
}


def scrapy_settings(config: Config, overrides: dict[str, Any] | None = None,
                    conn: redis.Redis | None = None) -> Settings:
    """The crawler's Scrapy settings from crawler/settings.py and newsmon.yaml. Without a connection (a dry
    run), the stories are validated and not enqueued: the caller collects them (`_collect`)."""
    settings = Settings()
    settings.setmodule(crawler_settings, priority="project")
    crawl = config.pipeline.crawler
    settings.set("USER_AGENT", crawl.user_agent, priority="project")
    settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", crawl.concurrency_per_host, priority="project")
    settings.set("DOWNLOAD_TIMEOUT", crawl.timeout, priority="project")
    settings.set("AUTOTHROTTLE_ENABLED", crawl.autothrottle, priority="project")
    settings.set("NEWSMON_ALLOWED_PRIVATE_HOSTS", sorted(source_hosts(config)), priority="project")
    if conn is not None:
        settings.set(REDIS_SETTING, Shared(conn), priority="project")
    else:
        pipelines = {name: order for name, order in settings.getdict("ITEM_PIPELINES").items()
                     if not name.endswith(".EnqueueStoryPipeline")}
        settings.set("ITEM_PIPELINES", pipelines, priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def _collect(crawler: Any) -> list[dict[str, Any]]:
    """The stories a dry-run crawler's validation lets through (Scrapy's item_scraped signal), in order."""
    stories: list[dict[str, Any]] = []

    def scraped(item: dict[str, Any]) -> None:
        stories.append(item["story"])

    crawler.signals.connect(scraped, signal=signals.item_scraped, weak=False)
    return stories


EXIT_LOST_REDIS = 3


def _stop_running(crawlers: list[Any]) -> None:
    """Stop, gracefully, the crawls whose engine runs. One still opening is left to its spider, which sees
    `halt` as it starts and closes: stopping it now would mark it stopped before its engine runs, and the
    engine, once running, would then never end (Scrapy stops a crawl only while it counts as crawling)."""
    for crawler in crawlers:
        engine = getattr(crawler, "engine", None)
        if engine is not None and engine.running:
            deferred_from_coro(crawler.stop_async())


def run_crawler(config: Config, conn: redis.Redis, overrides: dict[str, Any] | None = None,
                live: Any = None) -> int:
    """Crawl until SIGINT/SIGTERM; each signal lets in-flight polls finish first.

    Returns the exit code: 0 after a signal, EXIT_LOST_REDIS when Redis stayed unreachable.
    """
    # the handler is in place before Scrapy builds anything: a SIGTERM during start-up (the supervisor
    # killed, its death signal arriving while Scrapy imports its extensions) must not raise inside a
    # Deferred, which Twisted would log and forget while the process crawled on. It only sets `halt`,
    # which every spider checks, and asks the reactor, once there is one, to stop the crawls.
    halt = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        first = not halt.is_set()
        halt.set()
        reactor = sys.modules.get("twisted.internet.reactor")  # installed by the first crawl, not imported
        if reactor is not None:
            reactor.callFromThread(stop_crawls if first else stop_now, signum)

    def stop_crawls(signum: int) -> None:
        log.info("crawler stopping on signal %d (in-flight polls finish; a second one stops at once)", signum)
        _stop_running(crawlers)

    def stop_now(signum: int) -> None:
        log.warning("crawler stopping at once on a second signal %d", signum)
        reactor = sys.modules["twisted.internet.reactor"]
        if reactor.running:
            reactor.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    crawlers: list[Any] = []
    process = CrawlerProcess(scrapy_settings(config, overrides, conn))
    quiet_libraries()  # Scrapy has just set its loggers to DEBUG
    crawlers += [process.create_crawler(spider) for spider in SPIDERS.values()]
    fatal: list[str] = []

    def lost(reason: str) -> None:
        if not fatal:
            fatal.append(reason)
            halt.set()
            _stop_running(crawlers)

    identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    for crawler in crawlers:
        process.crawl(crawler, redis_conn=conn, config=config, on_fatal=lost, crawler_id=identity, live=live,
                      halt=halt)
    if halt.is_set():  # stopped while starting: the spiders would stop at once; no reactor to run
        log.info("crawler stopping on a signal during start-up")
        return 0
    beating = threading.Event()
    heart = threading.Thread(target=leases.beat, args=(conn, identity, beating),
                             name="newsmon-crawler-heartbeat", daemon=True)
    heart.start()
    settle_heap()
    try:
        process.start(install_signal_handlers=False)
    finally:
        beating.set()
        heart.join(timeout=5)
    if fatal:
        log.error("crawler exiting with code %d: %s", EXIT_LOST_REDIS, fatal[0])
        return EXIT_LOST_REDIS
    return 0


def test_poll(config: Config, request: PollRequest) -> tuple[Any, list[dict[str, Any]]]:
    """Poll one source once without Redis: (the poll's outcome, the stories it would enqueue)."""
    source = config.source(request.source_id)
    assert source is not None
    process = CrawlerProcess(scrapy_settings(config, {"LOG_LEVEL": "WARNING"}))
    quiet_libraries()
    crawler = process.create_crawler(SPIDERS[source.kind])
    stories = _collect(crawler)
    process.crawl(crawler, redis_conn=None, config=config, oneshot=request)
    process.start(install_signal_handlers=False)
    return getattr(crawler.spider, "report", None), stories


def history_polls(config: Config,
                  requests: list[PollRequest]) -> list[tuple[Any, list[dict[str, Any]], list[str]]]:
    """Poll several sources once each, in one crawler process, without Redis (`newsmon backfill`): per
    request (the poll's outcome, the stories it found, every entry key its index listed)."""
    process = CrawlerProcess(scrapy_settings(config, {"LOG_LEVEL": "WARNING"}))
    quiet_libraries()
    crawlers = []
    for request in requests:
        source = config.source(request.source_id)
        assert source is not None
        crawler = process.create_crawler(SPIDERS[source.kind])
        crawlers.append((crawler, _collect(crawler)))
        process.crawl(crawler, redis_conn=None, config=config, oneshot=request)
    process.start(install_signal_handlers=False)
    return [(getattr(c.spider, "report", None), stories, c.spider.listed) for c, stories in crawlers]
