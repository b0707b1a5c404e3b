"""Scrapy settings of the newsmon crawler: polite, bounded, and single-threaded where lxml runs."""

BOT_NAME = "newsmon"
SPIDER_MODULES = ["newsmon.crawler.spiders"]
NEWSPIDER_MODULE = "newsmon.crawler.spiders"

# USER_AGENT, DOWNLOAD_TIMEOUT, CONCURRENT_REQUESTS_PER_DOMAIN and AUTOTHROTTLE_ENABLED come from
# newsmon.yaml's `crawler:` section (crawler/runner.py, scrapy_settings), which has their defaults
ROBOTSTXT_OBEY = True

DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 1
REDIRECT_MAX_TIMES = 5

CONCURRENT_REQUESTS = 32
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_DELAY = 0

# Our own seen-set in Redis decides what is new; Scrapy's in-memory dupefilter would grow for ever
# in a long-running process and drop the next poll of the same feed URL.
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no control port opened by a news crawler
LOG_LEVEL = "INFO"
LOG_INSTALL_ROOT_HANDLER = False  # the newsmon CLI configures logging
LOGSTATS_INTERVAL = 300

DOWNLOADER_MIDDLEWARES = {
    # before robots.txt (100): a hostile link must not even have its robots.txt fetched
    "newsmon.crawler.middlewares.SafeTargetMiddleware": 50,
}

SPIDER_MIDDLEWARES = {
    # work per request and per yielded item that a poller does not need: how deep a request is, is
    # bounded by the poll's budget and sitemap_max_depth
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}

ITEM_PIPELINES = {
    "newsmon.crawler.pipelines.ValidateStoryPipeline": 100,
    "newsmon.crawler.pipelines.EnqueueStoryPipeline": 800,
}
