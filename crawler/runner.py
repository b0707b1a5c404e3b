"""Runs the crawler role: one Scrapy process with the long-running feed spider."""

from __future__ import annotations

import logging
import signal
from typing import Any

import redis
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as crawler_settings
from crawler.spiders.feed import FeedSpider
from newsmon.settings import Config

log = logging.getLogger(__name__)


def scrapy_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """The crawler's Scrapy settings, with optional overrides (tests, benchmarks)."""
    settings = Settings()
    settings.setmodule(crawler_settings, priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def run_crawler(config: Config, conn: redis.Redis, overrides: dict[str, Any] | None = None) -> None:
    """Crawl until SIGINT/SIGTERM; each signal lets in-flight polls finish first."""
    process = CrawlerProcess(scrapy_settings(overrides))
    crawler = process.create_crawler(FeedSpider)

    def stop(signum: int, _frame: Any) -> None:
        log.info("crawler stopping on signal %d", signum)
        spider = crawler.spider
        if spider is not None:
            spider.stopping = True
        process.stop()

    process.crawl(crawler, redis_conn=conn, config=config)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    process.start(install_signal_handlers=False)
