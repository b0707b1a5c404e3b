"""The crawler stops on SIGTERM whenever it comes, start-up included.

The supervisor's death signal reaches its roles at any moment: one arriving while Scrapy builds a crawl once
raised inside a Deferred, where Twisted logged it and the crawler crawled on, an orphan. Each test here sends
the signal from inside the crawler at one stage of its start, through a Scrapy extension, so the moment is
the same on every run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.conftest import feed_source, write_config

SCRIPT = """
import logging, os, signal, sys

import redis
from scrapy import signals

from newsmon.app.cli import _terminate
from newsmon.crawler.runner import run_crawler
from newsmon.settings import load_config


class TermAt:
    sent = False

    @classmethod
    def from_crawler(cls, crawler):
        extension, stage = cls(), crawler.settings["TERM_AT"]
        if stage == "build":  # now: inside Crawler.crawl, a Deferred, as Scrapy builds the extensions
            extension.term()
        else:
            crawler.signals.connect(extension.term, signal=getattr(signals, stage))
        return extension

    def term(self, *args, **kwargs):
        if not TermAt.sent:  # one signal, from the first of the crawler's four crawls
            TermAt.sent = True
            os.kill(os.getpid(), signal.SIGTERM)


signal.signal(signal.SIGTERM, _terminate)  # as `newsmon` does before it runs a role
logging.basicConfig(level=logging.INFO)
config = load_config(sys.argv[1])
overrides = {"EXTENSIONS": {"__main__.TermAt": 0}, "TERM_AT": sys.argv[3]}
sys.exit(run_crawler(config, redis.Redis.from_url(sys.argv[2]), overrides))
"""


@pytest.mark.parametrize("stage", ["build", "engine_started", "spider_opened"])
def test_a_sigterm_at_any_stage_of_start_up_stops_the_crawler(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis, stage: str
) -> None:
    config = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss", interval=3600)],
                          {"channels": {"c": {"type": "console"}}, "routes": []})
    try:
        result = subprocess.run([sys.executable, "-c", SCRIPT, str(config), redis_url, stage],
                                capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the crawler signalled at {stage} ran on: ...{exc.stderr[-2000:]!r}") from exc
    assert result.returncode == 0, result.stderr
    assert "crawler stopping" in result.stderr and "Unhandled error" not in result.stderr, result.stderr
