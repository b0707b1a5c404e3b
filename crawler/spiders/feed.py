"""The feed spider: one long-running spider that takes poll requests from Redis and follows new entries."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import redis
import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.asyncio import sleep
from twisted.python.failure import Failure

from crawler import polls
from crawler.extract import extract_article, story_language
from crawler.feeds import FeedEntry, parse_feed
from newsmon import keys
from newsmon.errors import FetchError
from newsmon.models import PollRequest, Story, story_id_for, utcnow
from newsmon.settings import Config, Source
from newsmon.urls import canonical_url

log = logging.getLogger(__name__)

IDLE_WAIT = 0.25
BATCH = 20
MAX_NEW_PER_POLL = 100
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class _Poll:
    request: PollRequest
    source: Source
    started: float = field(default_factory=time.monotonic)
    pending: int = 0
    new: int = 0
    status: str = "ok"
    error: str | None = None
    validators: dict[str, str] = field(default_factory=dict)
    entry_errors: list[str] = field(default_factory=list)


class FeedSpider(scrapy.Spider):
    """Polls `feed` sources on request; the scheduler decides when, Redis carries the requests."""

    name = "feed"

    def __init__(self, redis_conn: redis.Redis, config: Config, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redis = redis_conn
        self.config = config
        self.polls: dict[str, _Poll] = {}
        self.stopping = False

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Yield feed requests for poll requests as they arrive; never ends until the crawler stops."""
        while not self.stopping:
            raw = self.redis.lpop(keys.POLL_REQUESTS, BATCH) or []
            for item in raw:
                request = self._feed_request(item)
                if request is not None:
                    yield request
            if not raw:
                await sleep(IDLE_WAIT)

    def _feed_request(self, raw: bytes) -> scrapy.Request | None:
        try:
            poll_request = PollRequest.model_validate_json(raw)
        except ValueError as exc:
            log.error("bad poll request %r: %s", raw[:200], exc)
            return None
        source = self.config.source(poll_request.source_id)
        if source is None:
            log.error("poll request for unknown source=%s", poll_request.source_id)
            return None
        poll = _Poll(request=poll_request, source=source)
        self.polls[poll_request.poll_id] = poll
        headers = {}
        state = polls.source_state(self.redis, source.id)
        if not polls.has_failed_entries(self.redis, source.id):
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("last_modified"):
                headers["If-Modified-Since"] = state["last_modified"]
        poll.validators["body_sha"] = state.get("body_sha", "")
        poll.pending += 1
        self.crawler.stats.inc_value("newsmon/polls/started")
        return scrapy.Request(
            source.url,
            callback=self.parse_feed,
            errback=self.feed_failed,
            headers=headers,
            dont_filter=True,
            meta={"poll_id": poll_request.poll_id, "handle_httpstatus_list": [304]},
        )

    def parse_feed(self, response: Response) -> Any:
        """Parse the feed and request each entry not seen before."""
        poll = self.polls[response.meta["poll_id"]]
        try:
            yield from self._parse_feed(poll, response)
        finally:
            self._done(poll)

    def _parse_feed(self, poll: _Poll, response: Response) -> Any:
        source = poll.source
        if response.status == 304:
            poll.status = "unchanged"
            self.crawler.stats.inc_value("newsmon/polls/not_modified")
            return
        body_sha = hashlib.sha256(response.body).hexdigest()
        if body_sha == poll.validators["body_sha"] and not polls.has_failed_entries(self.redis, source.id):
            poll.status = "unchanged"
            self.crawler.stats.inc_value("newsmon/polls/same_body")
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        feed = parse_feed(response.body, response.url, content_type)
        if feed.problem and not feed.entries:
            poll.status, poll.error = "error", f"unusable feed: {feed.problem}"
            return
        if feed.problem:
            log.warning("malformed feed source=%s url=%s kept=%d problem=%s",
                        source.id, response.url, len(feed.entries), feed.problem)
        for reason in feed.skipped:
            log.warning("feed entry skipped source=%s url=%s reason=%s", source.id, response.url, reason)
        if not feed.entries:
            poll.status = "empty"
        poll.validators = {
            "etag": response.headers.get("ETag", b"").decode("latin-1"),
            "last_modified": response.headers.get("Last-Modified", b"").decode("latin-1"),
            "body_sha": body_sha,
        }
        by_key = {e.key: e for e in feed.entries}
        fresh = polls.unseen(self.redis, source.id, list(by_key))[:MAX_NEW_PER_POLL]
        for key in fresh:
            entry = by_key[key]
            poll.pending += 1
            yield scrapy.Request(
                entry.link,
                callback=self.parse_article,
                errback=self.article_failed,
                dont_filter=True,
                meta={"poll_id": poll.request.poll_id, "entry": entry},
            )

    def parse_article(self, response: Response) -> Any:
        """Extract the article and hand the story to the pipelines."""
        poll = self.polls[response.meta["poll_id"]]
        entry: FeedEntry = response.meta["entry"]
        try:
            content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
            if content_type and not content_type.startswith(_HTML_TYPES):
                self._give_up(poll, entry, f"not HTML (Content-Type {content_type})")
                return
            try:
                extracted = extract_article(response.text, response.url)
            except (FetchError, AttributeError, ValueError) as exc:
                self._give_up(poll, entry, str(exc))
                return
            url = response.url
            canonical = canonical_url(extracted.canonical_url or url)
            story = Story(
                id=story_id_for(canonical),
                source_id=poll.source.id,
                outlet=poll.source.outlet,
                language=story_language(extracted.language, extracted.text, poll.source.language),
                url=url,
                canonical_url=canonical,
                title=extracted.title or entry.title,
                text=extracted.text,
                author=extracted.author,
                published=extracted.published or entry.published,
                fetched=utcnow(),
                feed_guid=entry.guid,
            )
            poll.new += 1
            yield {"story": story.model_dump(mode="json"), "entry_key": entry.key, "source_id": poll.source.id}
        finally:
            self._done(poll)

    def feed_failed(self, failure: Failure) -> None:
        """Record why the feed could not be fetched."""
        poll = self.polls[failure.request.meta["poll_id"]]
        poll.status, poll.error = "error", _describe(failure)
        self._done(poll)

    def article_failed(self, failure: Failure) -> None:
        """Count a failed article fetch; it is retried on the next polls, then given up."""
        request = failure.request
        poll = self.polls[request.meta["poll_id"]]
        entry: FeedEntry = request.meta["entry"]
        reason = _describe(failure)
        status = getattr(getattr(failure.value, "response", None), "status", None)
        if status in (404, 410) or (failure.check(IgnoreRequest) and not failure.check(HttpError)):
            self._give_up(poll, entry, reason)
        else:
            gave_up = polls.record_entry_failure(self.redis, poll.source.id, entry.key)
            poll.entry_errors.append(reason)
            log.warning("article failed source=%s url=%s reason=%s%s", poll.source.id, entry.link, reason,
                        " (given up)" if gave_up else " (will retry next poll)")
            self.crawler.stats.inc_value("newsmon/articles/failed")
        self._done(poll)

    def _give_up(self, poll: _Poll, entry: FeedEntry, reason: str) -> None:
        log.warning("article skipped source=%s url=%s reason=%s", poll.source.id, entry.link, reason)
        polls.mark_seen(self.redis, poll.source.id, entry.key)
        poll.entry_errors.append(reason)
        self.crawler.stats.inc_value("newsmon/articles/skipped")

    def _done(self, poll: _Poll) -> None:
        poll.pending -= 1
        if poll.pending > 0:
            return
        self.polls.pop(poll.request.poll_id, None)
        source = poll.source
        extra = {k: v for k, v in poll.validators.items() if poll.status in ("ok", "empty")}
        extra["last_poll_seconds"] = f"{time.monotonic() - poll.started:.3f}"
        if poll.entry_errors:
            extra["last_entry_error"] = poll.entry_errors[-1][:500]
        polls.record_poll(self.redis, source.id, poll.status, error=poll.error, new=poll.new, **extra)
        polls.release_poll(self.redis, source.id, poll.request.lock_token)
        self.crawler.stats.inc_value(f"newsmon/polls/{poll.status}")
        level = logging.WARNING if poll.status == "error" else logging.INFO
        log.log(level, "poll done source=%s status=%s new=%d seconds=%.2f%s", source.id, poll.status, poll.new,
                time.monotonic() - poll.started, f" error={poll.error}" if poll.error else "")


def _describe(failure: Failure) -> str:
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"HTTP {response.status} from {response.url}"
    if failure.check(IgnoreRequest) and not failure.check(HttpError):
        return f"not fetched: {failure.getErrorMessage() or 'ignored'}"
    return f"{failure.type.__name__}: {failure.getErrorMessage()}"
