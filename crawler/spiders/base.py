"""The polling spider every source kind shares: poll requests from Redis, health, backoff, articles.

A kind's spider (feed, listing, sitemap, telegram) only says how to read its index document into
`Entry` items (`parse_entries`); everything else is here: conditional GET, naming failures, the
seen-set, following new entries to their article pages, and recording each poll's outcome.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import redis
import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.asyncio import sleep
from twisted.python.failure import Failure as TwistedFailure

from newsmon import keys, leases, websub
from newsmon.crawler import health, polls
from newsmon.crawler.entries import Entry, Parsed
from newsmon.crawler.extract import decode_html, extract_article
from newsmon.crawler.language import detect_language
from newsmon.crawler.signals import POLL_FINISHED
from newsmon.errors import FetchError
from newsmon.models import PollRequest, Story, story_id_for, utcnow
from newsmon.settings import Config, Source
from newsmon.urls import canonical_url, site_of

log = logging.getLogger(__name__)

IDLE_WAIT = 0.25
REDIS_LOSS_LIMIT = 30  # seconds without Redis before the crawler gives up and exits non-zero
BATCH = 20
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# error answers reach parse_index so they can be named; redirects (not listed) are still followed
_INDEX_META = {"handle_httpstatus_list": [304, *range(400, 600)]}


@dataclass
class Poll:
    """One poll of one source, from its request to its last article."""

    request: PollRequest
    source: Source
    timezone: str
    started: float = field(default_factory=time.monotonic)
    pending: int = 0
    new: int = 0
    status: str = "ok"
    failure: health.Failure | None = None
    http_status: int | None = None
    bytes: int = 0
    items: int = 0
    newest: datetime | None = None
    validators: dict[str, str] = field(default_factory=dict)
    entry_errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # items the index listed that could not be used, why
    requests: int = 0
    visited: set[str] = field(default_factory=set)  # index documents requested (a sitemap may list itself)
    first: bool | None = (
        None  # the source's first poll (nothing seen from it yet); decided at its first index
    )

    def fail(self, failure: health.Failure, status: str = "error") -> None:
        """Mark the poll failed (the first failure wins)."""
        if self.failure is None:
            self.status, self.failure = status, failure


class PollingSpider(scrapy.Spider):
    """Base of the per-kind spiders; subclasses set `kind` and implement `parse_entries`."""

    kind = ""
    conditional_get = False

    def __init__(self, redis_conn: redis.Redis | None, config: Config, oneshot: PollRequest | None = None,
                 on_fatal: Any = None, crawler_id: str = "", live: Any = None,
                 halt: threading.Event | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._config = config
        self.live = live  # a LiveConfig: the spider follows the published config version
        self.crawler_id = crawler_id  # whose heartbeat vouches for the polls this spider takes
        self.on_fatal = on_fatal  # called when Redis is lost for good: the crawler process exits non-zero
        self.redis = redis_conn
        self.oneshot = oneshot  # `newsmon sources test`: one poll, nothing read from or written to Redis
        self.listed: list[str] = []  # dry run: every entry key the index listed (a backfill marks them seen)
        self.polls: dict[str, Poll] = {}
        # set once the crawler stops (a signal, Redis lost): shared by the process's spiders, so a spider
        # that Scrapy creates after the signal came stops as soon as it starts
        self.halt = halt or threading.Event()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PollingSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._story_dropped, signal=signals.item_dropped)
        return spider

    def _story_dropped(self, item: Any, exception: Any = None) -> None:
        """The validation refused a story: its entry counts as seen, so later polls do not fetch it again."""
        if not self.dry_run and isinstance(item, dict) and "entry_key" in item:
            polls.mark_seen(self.redis, item["source_id"], item["entry_key"])

    @property
    def config(self) -> Config:
        """The running config: the published version when the crawler follows one (sources added,
        removed or changed by `keywords reload` are polled as they now are)."""
        return self.live.get() if self.live is not None else self._config

    @property
    def stopping(self) -> bool:
        """Whether the spider takes no more poll requests (its in-flight polls still finish)."""
        return self.halt.is_set()

    @stopping.setter
    def stopping(self, value: bool) -> None:
        if value:
            self.halt.set()

    @property
    def dry_run(self) -> bool:
        """Whether this spider only shows what it would enqueue."""
        return self.oneshot is not None

    # --- poll requests --------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Yield index requests for poll requests as they arrive; runs until the crawler stops."""
        if self.oneshot is not None:
            request = self._index_request(self.oneshot)
            if request is not None:
                yield request
            return
        assert self.redis is not None
        lost_since: float | None = None
        while not self.stopping:
            limit = self.config.pipeline.crawler.max_polls_in_flight
            room = min(BATCH, limit - len(self.polls))
            try:
                raw = (self.redis.lpop(keys.poll_requests(self.kind), room) or []) if room > 0 else []
            except redis.RedisError as exc:
                now = time.monotonic()
                if lost_since is None:
                    lost_since = now
                    log.warning(
                        "%s spider: Redis unreachable (%s); retrying for %d s",
                        self.kind,
                        exc,
                        REDIS_LOSS_LIMIT,
                    )
                if now - lost_since > REDIS_LOSS_LIMIT:
                    log.error(
                        "%s spider: Redis unreachable for %d s: the crawler exits",
                        self.kind,
                        REDIS_LOSS_LIMIT,
                    )
                    self.stopping = True
                    if self.on_fatal is not None:
                        self.on_fatal(f"Redis unreachable: {exc}")
                    return
                await sleep(1.0)
                continue
            if lost_since is not None:
                log.info("%s spider: Redis reachable again", self.kind)
                lost_since = None
            for item in raw:
                try:
                    poll_request = PollRequest.model_validate_json(item)
                except ValueError as exc:
                    log.error("bad poll request %r: %s", item[:200], exc)
                    continue
                request = self._index_request(poll_request)
                if request is not None:
                    yield request
            if not raw:
                await sleep(IDLE_WAIT)

    def _index_request(self, poll_request: PollRequest) -> scrapy.Request | None:
        source = self.config.source(poll_request.source_id)
        if source is None:
            log.error("poll request for unknown source=%s", poll_request.source_id)
            return None
        if poll_request.url_override:
            source = source.model_copy(update={"url": poll_request.url_override})
        poll = Poll(request=poll_request, source=source, timezone=self.config.sources.timezone_of(source))
        self.polls[poll_request.poll_id] = poll
        if not self.dry_run:
            leases.took_poll(self.redis, source.id, poll_request.lock_token, self.crawler_id)
        headers = self._headers(source, source.url)
        if self.conditional_get and not self.dry_run:
            state = polls.source_state(self.redis, source.id)
            if not polls.has_failed_entries(self.redis, source.id):
                if state.get("etag"):
                    headers["If-None-Match"] = state["etag"]
                if state.get("last_modified"):
                    headers["If-Modified-Since"] = state["last_modified"]
            poll.validators["body_sha"] = state.get("body_sha", "")
        self.crawler.stats.inc_value(f"newsmon/polls/{self.kind}/started")
        try:
            return self._request(poll, source.url, self.parse_index, self.index_failed, headers=headers,
                                 meta=_INDEX_META)
        except ValueError as exc:
            self.polls.pop(poll_request.poll_id, None)
            log.error("malformed url source=%s url=%r: %s", source.id, source.url, exc)
            return None

    def _headers(self, source: Source, url: str) -> dict[str, str]:
        """The source's own headers (its credentials go only to the source's own host) and User-Agent."""
        headers = {"User-Agent": self.config.pipeline.crawler.user_agent}
        try:
            own = urlsplit(url).netloc.lower() == urlsplit(source.url).netloc.lower()
        except ValueError:
            own = False
        if source.headers and own:
            headers.update({name: value.get_secret_value() for name, value in source.headers.items()})
        if source.user_agent:
            headers["User-Agent"] = source.user_agent
        return headers

    def _request(self, poll: Poll, url: str, callback: Any, errback: Any, **kwargs: Any) -> scrapy.Request:
        """A request that belongs to the poll (counted until its callback or errback has run).

        Raises:
            ValueError: the URL is malformed (a hostile or broken feed); nothing is counted then.
        """
        meta = {"poll_id": poll.request.poll_id, "download_timeout": self.config.pipeline.crawler.timeout,
                **kwargs.pop("meta", {})}
        headers = kwargs.pop("headers", None) or self._headers(poll.source, url)
        request = scrapy.Request(url, callback=callback, errback=errback, dont_filter=True, meta=meta,
                                 headers=headers, **kwargs)
        poll.pending += 1
        poll.requests += 1
        return request

    def _within_budget(self, poll: Poll) -> bool:
        """Whether the poll may make one more request; past its budget of requests, bytes or seconds it
        fails as `over-budget` (what it found so far is kept) and makes no more."""
        crawl = self.config.pipeline.crawler
        elapsed = time.monotonic() - poll.started
        over = (f"{poll.requests} requests" if poll.requests >= crawl.poll_max_requests
                else f"{poll.bytes} bytes" if poll.bytes >= crawl.poll_max_bytes
                else f"{elapsed:.0f} s" if elapsed >= crawl.poll_max_seconds else None)
        if over is None:
            return True
        if poll.failure is None or poll.failure.kind != "over-budget":
            poll.fail(
                health.Failure(
                    "over-budget",
                    f"poll stopped after {over} (budget: "
                    f"{crawl.poll_max_requests} requests, {crawl.poll_max_bytes} "
                    f"bytes, {crawl.poll_max_seconds:.0f} s)",
                )
            )
            poll.status = "error"
        return False

    # --- the index document ---------------------------------------------------------------------

    def parse_entries(self, poll: Poll, response: Response) -> Parsed:
        """Read the index document into entries (and further index documents); kind-specific."""
        raise NotImplementedError

    def parse_index(self, response: Response) -> Any:
        """Check the index response, parse it, and follow what is new."""
        poll = self.polls[response.meta["poll_id"]]
        try:
            yield from self._parse_index(poll, response)
        finally:
            self._done(poll)

    def _parse_index(self, poll: Poll, response: Response) -> Any:
        poll.http_status = response.status
        poll.bytes += len(response.body)
        if response.status == 304:
            poll.status = "unchanged"
            return
        failure = health.http_failure(response.status, response.body, response.headers)
        if failure is None and 300 <= response.status < 400:
            failure = health.Failure("redirect", f"HTTP {response.status} not followed (loop or too many)")
        if failure is None and site_of(response.url) != site_of(poll.source.url):
            failure = health.Failure("redirect-offsite", f"redirected to another site: {response.url}")
        if failure is not None:
            poll.fail(failure)
            return
        body_sha = hashlib.sha256(response.body).hexdigest()
        if (self.conditional_get and not self.dry_run and body_sha == poll.validators.get("body_sha")
                and not polls.has_failed_entries(self.redis, poll.source.id)):
            poll.status = "unchanged"
            return
        try:
            parsed = self.parse_entries(poll, response)
        except Exception as exc:
            log.warning(
                "%s parser failed source=%s url=%s", self.kind, poll.source.id, response.url, exc_info=True
            )
            poll.fail(health.Failure("unusable", f"{self.kind} could not be parsed: {type(exc).__name__}: "
                                                 f"{str(exc)[:200]}"))
            return
        poll.skipped.extend(parsed.skipped)
        if parsed.problem and not parsed.entries and not parsed.follow:
            poll.fail(health.Failure("unusable", f"unusable {self.kind}: {parsed.problem}"))
            return
        if parsed.problem:
            log.warning("malformed %s source=%s url=%s kept=%d problem=%s", self.kind, poll.source.id,
                        response.url, len(parsed.entries), parsed.problem)
        for reason in parsed.skipped:
            log.debug("entry skipped source=%s url=%s reason=%s", poll.source.id, response.url, reason)
        if self.kind == "feed" and not self.dry_run and response.meta.get("index_depth", 0) == 0:
            hub, topic = websub.discover(parsed.links, response.url)
            try:
                websub.record_discovery(self.redis, poll.source.id, hub, topic)
            except redis.RedisError as exc:  # the poll's stories matter more than a hub
                log.warning("websub discovery not kept source=%s: %s", poll.source.id, exc)
        if self.conditional_get:
            poll.validators = {
                "etag": response.headers.get("ETag", b"").decode("latin-1"),
                "last_modified": response.headers.get("Last-Modified", b"").decode("latin-1"),
                "body_sha": body_sha,
            }
        depth = response.meta.get("index_depth", 0) + 1
        poll.visited.add(response.url)
        poll.visited.add(poll.source.url)
        for url in parsed.follow:
            if url in poll.visited:
                poll.skipped.append(f"{url[:120]}: already read in this poll (an index listing itself)")
                continue
            if depth > self.config.pipeline.crawler.sitemap_max_depth:
                poll.skipped.append(
                    f"{url[:120]}: deeper than {self.config.pipeline.crawler.sitemap_max_depth} index levels"
                )
                continue
            if not self._within_budget(poll):
                break
            poll.visited.add(url)
            try:
                yield self._request(poll, url, self.parse_index, self.index_failed,
                                    meta={**_INDEX_META, "index_depth": depth})
            except ValueError as exc:
                poll.skipped.append(f"{url[:120]}: malformed link: {exc}")
        poll.items += len(parsed.entries)
        if parsed.newest and (poll.newest is None or parsed.newest > poll.newest):
            poll.newest = parsed.newest
        yield from self._follow_entries(poll, parsed.entries)

    def _follow_entries(self, poll: Poll, entries: list[Entry]) -> Any:
        by_key = {e.key: e for e in entries}
        if poll.first is None:  # nothing seen from the source (in the seen-set's 30 days): its backlog
            poll.first = not self.dry_run and polls.first_poll(self.redis, poll.source.id)
        fresh = list(by_key) if self.dry_run else polls.unseen(self.redis, poll.source.id, list(by_key))
        if self.dry_run:
            self.listed.extend(fresh[: poll.source.max_items])
        for key in fresh[: poll.source.max_items]:
            entry = by_key[key]
            if not entry.text and not self._within_budget(poll):
                break
            if entry.text:
                poll.new += 1
                yield self._item(
                    poll,
                    entry,
                    self._story(
                        poll, entry, entry.link, entry.title, entry.text, None, entry.published, None
                    ),
                )
            else:
                try:
                    yield self._request(poll, entry.link, self.parse_article, self.article_failed,
                                        meta={"entry": entry})
                except ValueError as exc:
                    self._give_up(poll, entry, f"malformed link: {exc}")

    def index_failed(self, failure: TwistedFailure) -> None:
        """Record why the index document could not be fetched."""
        poll = self.polls[failure.request.meta["poll_id"]]
        poll.fail(_name(failure))
        self._done(poll)

    # --- articles -------------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Any:
        """Extract the article and hand the story to the pipelines."""
        poll = self.polls[response.meta["poll_id"]]
        entry: Entry = response.meta["entry"]
        poll.bytes += len(response.body)
        try:
            content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
            if content_type and not content_type.startswith(_HTML_TYPES):
                self._give_up(poll, entry, f"not HTML (Content-Type {content_type})")
                return
            try:
                extracted = extract_article(decode_html(response), response.url, poll.timezone)
            except (FetchError, AttributeError, ValueError) as exc:
                self._give_up(poll, entry, str(exc))
                return
            poll.new += 1
            story = self._story(poll, entry, response.url, extracted.title or entry.title, extracted.text,
                                extracted.author, extracted.published or entry.published, extracted.language,
                                extracted.canonical_url)
            yield self._item(poll, entry, story)
        finally:
            self._done(poll)

    def _story(self, poll: Poll, entry: Entry, url: str, title: str, text: str, author: str | None,
               published: datetime | None, declared: str | None, canonical: str | None = None) -> Story:
        canonical = canonical_url(canonical or url)
        return Story(
            id=story_id_for(canonical),
            source_id=poll.source.id,
            outlet=poll.source.outlet,
            language=detect_language(
                f"{title}\n{text}", declared or poll.source.language, poll.source.language
            ),
            url=url,
            canonical_url=canonical,
            title=title,
            text=text,
            author=author,
            published=published,
            fetched=utcnow(),
            feed_guid=entry.guid,
            links=list(entry.links),
            first_poll=bool(poll.first),
        )

    def _item(self, poll: Poll, entry: Entry, story: Story) -> dict[str, Any]:
        return {"story": story.model_dump(mode="json"), "entry_key": entry.key, "source_id": poll.source.id,
                "poll_id": poll.request.poll_id, "inline": entry.text is not None}

    def article_failed(self, failure: TwistedFailure) -> None:
        """Count a failed article fetch; it is retried on the next polls, then given up."""
        request = failure.request
        poll = self.polls[request.meta["poll_id"]]
        entry: Entry = request.meta["entry"]
        named = _name(failure)
        if named.kind in ("not-found", "refused"):
            self._give_up(poll, entry, named.message)
        elif self.dry_run:
            poll.entry_errors.append(named.message)
        else:
            gave_up = polls.record_entry_failure(self.redis, poll.source.id, entry.key)
            poll.entry_errors.append(named.message)
            log.warning(
                "article failed source=%s url=%s reason=%s%s",
                poll.source.id,
                entry.link,
                named.message,
                " (given up)" if gave_up else " (will retry next poll)",
            )
            self.crawler.stats.inc_value("newsmon/articles/failed")
        self._done(poll)

    def _give_up(self, poll: Poll, entry: Entry, reason: str) -> None:
        log.warning("article skipped source=%s url=%s reason=%s", poll.source.id, entry.link, reason)
        if not self.dry_run:
            polls.mark_seen(self.redis, poll.source.id, entry.key)
        poll.entry_errors.append(reason)
        self.crawler.stats.inc_value("newsmon/articles/skipped")

    # --- the end of a poll ----------------------------------------------------------------------

    def _done(self, poll: Poll) -> None:
        poll.pending -= 1
        if poll.pending > 0:
            return
        self.polls.pop(poll.request.poll_id, None)
        source = poll.source
        if poll.status == "ok" and poll.items == 0 and poll.new == 0:
            poll.fail(health.Failure("empty", f"{self.kind} answered with no items"), status="empty")
        elif poll.status == "ok" and poll.newest is not None:
            age = (datetime.now(UTC) - poll.newest).total_seconds()
            if age > source.stale_after_seconds:
                poll.fail(
                    health.Failure("stale", f"newest item is {age / 86400:.1f} days old"), status="stale"
                )
        seconds = time.monotonic() - poll.started
        if self.dry_run:
            self.report = poll
            self.stopping = True
            return
        self.crawler.signals.send_catch_log(signal=POLL_FINISHED, poll_id=poll.request.poll_id)
        polls.record_poll(self.redis, source, poll, seconds, self.config.pipeline.crawler.backoff_max_seconds)
        leases.finished_poll(self.redis, source.id, poll.request.lock_token)
        leases.release_poll(self.redis, source.id, poll.request.lock_token)
        self.crawler.stats.inc_value(f"newsmon/polls/{poll.status}")
        level = logging.WARNING if poll.failure else logging.INFO
        log.log(level, "poll done source=%s kind=%s status=%s new=%d bytes=%d seconds=%.2f%s%s", source.id,
                self.kind, poll.status, poll.new, poll.bytes, seconds,
                f" skipped={len(poll.skipped)} ({poll.skipped[0]}{'; ...' if len(poll.skipped) > 1 else ''})"
                if poll.skipped else "",
                f" failure={poll.failure.kind}: {poll.failure.message}" if poll.failure else "")


def _name(failure: TwistedFailure) -> health.Failure:
    """Name a Scrapy/Twisted failure."""
    response = getattr(failure.value, "response", None)
    if failure.check(HttpError) and response is not None:
        named = health.http_failure(response.status, response.body, response.headers)
        return named or health.Failure("http-error", f"HTTP {response.status}")
    if failure.check(IgnoreRequest):
        return health.Failure("refused", f"not fetched: {failure.getErrorMessage() or 'ignored'}")
    return health.transport_failure(failure.type.__name__, failure.getErrorMessage())
