"""Logging for every newsmon process: one line per poll, per story and per delivery at the default level.

Libraries whose INFO lines are noise (Scrapy banners and stats dumps, APScheduler job runs, RQ's
per-job lines, alembic when no migration runs) are held at WARNING, and expected network failures
are logged in one line without a traceback; `--log-level DEBUG` brings all of it back.

Every line goes through SafeFormatter: a line is one line whatever a page put in it (line breaks,
terminal escapes and bidi overrides in a title or URL are written as `\\n`, `\\x1b`, `\\u202e`), and
secrets in URLs (user info, token-like query values) are masked, tracebacks included.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from newsmon.urls import mask_secrets

QUIET_LOGGERS = ("scrapy", "twisted", "apscheduler", "alembic", "rq", "filelock", "urllib3", "trafilatura",
                 "htmldate", "courlan", "charset_normalizer", "asyncio", "py.warnings", "hpack")
# Scrapy loggers whose failure messages repeat what the poll line already names (robots.txt of an
# unreachable host, retries given up, download errors handled by the spider's errback)
REPEATS_POLL_LINE = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.downloadermiddlewares.retry",
                     "scrapy.core.scraper")
NETWORK_ERRORS = (
    "DNSLookupError",
    "CannotResolveHostError",
    "ConnectionRefusedError",
    "ConnectError",
    "TimeoutError",
    "TCPTimedOutError",
    "ConnectionLost",
    "ResponseNeverReceived",
    "ConnectionDone",
    "DownloadConnectionRefusedError",
    "DownloadTimeoutError",
    "DownloadFailedError",
    "IgnoreRequest",
    "ConnectingCancelledError",
    "SSLError",
    "TunnelError",
    "ResponseFailed",
)

# job failures that are the world's, not newsmon's (a channel down, the database full or away): RQ logs
# them with a whole traceback per attempt; one line says what failed
EXPECTED_JOB_ERRORS = ("DeliveryError", "OperationalError", "InternalError", "InterfaceError",
                       "ConnectionError", "TimeoutError")

# expected failures whose job already logged one line saying what failed, which attempt and what next
# (alerts.jobs.deliver): RQ's record of them is only a traceback
LOGGED_BY_THE_JOB = ("DeliveryError",)

_level = logging.INFO


class ExpectedFailures(logging.Filter):
    """No tracebacks for expected network failures; no lines that repeat the poll line's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and record.name.startswith(QUIET_LOGGERS):
            return False  # Scrapy sets its loggers to DEBUG whenever a crawler process starts
        if record.name.startswith("rq.") and isinstance(record.args, tuple) and record.args \
                and "exception raised while executing" in str(record.msg):
            # RQ's line is its message's first line (whose arguments change between releases: worker name
            # and job, or the job alone) and then the traceback, always its last argument
            last = str(record.args[-1]).strip().splitlines()[-1:] or [""]
            kind = last[0].split(":", 1)[0].rsplit(".", 1)[-1]
            if kind in LOGGED_BY_THE_JOB:
                return False
            if kind in EXPECTED_JOB_ERRORS:
                head = str(record.msg).split("\n", 1)[0]
                try:
                    head = head % record.args[:-1]
                except (TypeError, ValueError):
                    pass
                record.msg = "%s: failed, RQ retries it if it may: %s"
                record.args = (head, last[0])
        exc_type = record.exc_info[0] if record.exc_info else None
        if record.name.startswith(REPEATS_POLL_LINE) and record.levelno < logging.CRITICAL:
            text = record.getMessage()
            if exc_type is not None or any(n in text for n in NETWORK_ERRORS) or "Gave up retrying" in text:
                return False
        if exc_type is not None and exc_type.__name__ in NETWORK_ERRORS:
            record.msg = f"{record.getMessage()} ({exc_type.__name__}: {record.exc_info[1]})"  # type: ignore[index]
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


_UNSAFE_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def one_line(text: str) -> str:
    """Text as one log line: controls, line breaks and bidi overrides written as escapes."""
    return _UNSAFE_IN_LINE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


class SafeFormatter(logging.Formatter):
    """Log lines that stay one line of text, with secrets in URLs masked (see the module's doc)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return one_line(mask_secrets(super().formatMessage(record)))

    def formatException(self, ei: Any) -> str:
        return mask_secrets(super().formatException(ei))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str) -> None:
    """Set up the root handler on stderr at `level` and quiet the libraries (above DEBUG)."""
    global _level
    numeric = getattr(logging, level.upper(), logging.INFO)
    _level = numeric
    logging.basicConfig(level=numeric, format=LOG_FORMAT, stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, SafeFormatter):
            handler.setFormatter(SafeFormatter(LOG_FORMAT))
        handler.setLevel(numeric)  # Scrapy resets the root logger's level; the handler keeps ours
        if numeric > logging.DEBUG and not any(isinstance(f, ExpectedFailures) for f in handler.filters):
            handler.addFilter(ExpectedFailures())
    quiet_libraries()


def quiet_libraries() -> None:
    """Hold the noisy libraries at WARNING again (Scrapy resets its loggers when a crawler process starts)."""
    if _level > logging.DEBUG:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(max(_level, logging.WARNING))
