"""sources.yaml: the outlets and the sources polled for them."""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from newsmon.languages import Language
from newsmon.patterns import compile_link_pattern, compile_xpath, css_to_xpath
from newsmon.settings.common import (
    ID_PATTERN,
    Name,
    StrictModel,
    check_http_url,
    check_no_controls,
    check_zone,
)

SOURCES_FILE = "sources.yaml"

SourceKind = Literal["feed", "listing", "sitemap", "telegram"]
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)


class Outlet(StrictModel):
    """What desks should know about an outlet: who runs it and where."""

    website: str | None = Field(default=None, description="Home page")
    affiliation: Name = Field(
        default="not established", description="Ownership or political affiliation, where publicly known"
    )
    affiliation_source: str | None = Field(default=None, description="Where the affiliation is documented")
    timezone: str = Field(
        default="Asia/Baghdad", description="Time zone of dates the outlet writes without one"
    )
    telegram: str | None = Field(default=None, description="Public Telegram channel, if known")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)


class Source(StrictModel):
    """One polled source: an outlet's feed, listing page, sitemap or Telegram channel in one edition."""

    id: str = Field(pattern=ID_PATTERN, description="Unique id, used in Redis keys and logs")
    name: Name = Field(min_length=1, description="Human-readable name of this source")
    outlet: Name = Field(min_length=1, description="The outlet that publishes it (Kurdistan24, Rudaw, ...)")
    language: Language = Field(
        description="Edition language: ar Arabic, ckb Sorani, kmr Kurmanji, en English, tr, fa"
    )
    kind: SourceKind = Field(
        description="feed: RSS/Atom/JSON Feed; listing: an HTML page of article links; sitemap: a (news) "
                    "sitemap or sitemap index; telegram: a public channel's preview page t.me/s/<channel>"
    )
    url: str = Field(description="URL of the feed, page, sitemap or channel preview (http or https)")
    interval: int = Field(default=300, ge=1, le=86400,
                          description="Poll interval in seconds (with `schedule: fixed`, the default when "
                                      "`interval` is given)")
    schedule: Literal["fixed", "adaptive"] | None = Field(
        default=None,
        description="fixed: poll every `interval`; adaptive: the scheduler spends newsmon.yaml's "
                    "`scheduler.budget_per_hour` where new stories are likely, so that few wait long for "
                    "their poll, between min_interval and max_interval. Default: fixed when `interval` is "
                    "given, else adaptive",
    )
    min_interval: int = Field(default=60, ge=10, le=86400,
                              description="adaptive: never polled more often than this (seconds)")
    max_interval: int = Field(default=3600, ge=10, le=86400,
                              description="adaptive: polled at least this often, news or not (seconds)")
    websub: bool = Field(default=True,
                         description="feed: take pushes from the WebSub hub the feed names (when "
                                     "newsmon.yaml sets web.public_url), polling at websub.fallback_interval "
                                     "meanwhile")
    jitter: int | None = Field(
        default=None, ge=0, le=3600,
        description="Max random shift of each poll in seconds (at most the interval); default 10% of interval"
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra request headers (say Authorization for a feed behind a login); write values as "
                    "${VARS}: they are masked wherever newsmon prints them",
    )
    enabled: bool = Field(default=True, description="Disabled sources are validated but never polled")
    evidence: str | None = Field(default=None, description="Where the URL was seen working")
    link_selector: str | None = Field(
        default=None, description="listing: CSS selector of the article links (a elements or their parents)"
    )
    link_xpath: str | None = Field(
        default=None, description="listing: XPath of the article links' href values"
    )
    link_pattern: str | None = Field(
        default=None, description="listing: regular expression an article URL must match (after joining); "
                                  "RE2 syntax, so no backreferences or lookaround (use link_exclude)"
    )
    link_exclude: str | None = Field(
        default=None,
        description="listing: regular expression (RE2) of URLs to leave out even when they match",
    )
    page_url: str | None = Field(
        default=None,
        description="listing: the URL of page N of the listing, with {page} for N "
                    "(https://site/news?page={page}); `newsmon backfill` reads pages 2 to backfill_pages",
    )
    backfill_pages: int = Field(default=10, ge=1, le=100,
                                description="listing: pages `newsmon backfill` reads")
    max_age_days: float = Field(
        default=3, gt=0, description="sitemap/telegram: ignore items older than this many days"
    )
    max_items: int = Field(default=50, ge=1, le=1000, description="Most items taken from one poll")
    stale_after_hours: float | None = Field(
        default=None,
        gt=0,
        description="Call the source stale when its newest item is older than this; default 48 h or 20 "
                    "intervals (max_intervals when adaptive)",
    )
    timezone: str | None = Field(default=None, description="Overrides the outlet's time zone for this source")
    silent_after_intervals: float | None = Field(
        default=None, gt=0, description="Overrides alerts.yaml admin.silent_after_intervals for this source")
    user_agent: str | None = Field(
        default=None, description="Overrides the crawler's User-Agent for this source"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)

    @field_validator("page_url")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "{page}" not in value:
            raise ValueError("page_url needs {page} where the page number goes")
        check_http_url(value.replace("{page}", "2"))
        return value

    @field_validator("user_agent")
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return None if value is None else check_no_controls(value, "user_agent")

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            check_no_controls(secret.get_secret_value(), f"header {name}")
        return value

    @property
    def adaptive(self) -> bool:
        """Whether the scheduler times this source by its posting profile (scheduler/adaptive.py)."""
        if self.schedule is not None:
            return self.schedule == "adaptive"
        return "interval" not in self.model_fields_set

    @property
    def longest_interval(self) -> int:
        """The longest a healthy source goes between polls: max_interval when adaptive, else interval (what
        the silent and stale rules count in)."""
        return max(self.max_interval, self.interval) if self.adaptive else self.interval

    @property
    def effective_jitter(self) -> int:
        """Jitter in seconds: explicit, or a tenth of the interval capped at 30 s."""
        return self.jitter if self.jitter is not None else min(30, self.interval // 10)

    @property
    def stale_after_seconds(self) -> float:
        """How old the newest item may be before the source counts as stale."""
        if self.stale_after_hours is not None:
            return self.stale_after_hours * 3600
        return max(48 * 3600, 20 * self.longest_interval)

    @model_validator(mode="after")
    def _kind_fields(self) -> Source:
        if self.jitter is not None and self.jitter > self.interval:
            raise ValueError(f"jitter: {self.jitter} s is more than the interval ({self.interval} s)")
        if self.min_interval > self.max_interval:
            raise ValueError(f"min_interval: {self.min_interval} s is more than max_interval "
                             f"({self.max_interval} s)")
        if self.kind == "listing" and not (self.link_selector or self.link_xpath or self.link_pattern):
            raise ValueError(
                "link_selector: a listing source needs link_selector, link_xpath or link_pattern"
            )

        for name, value, check in (("link_pattern", self.link_pattern, compile_link_pattern),
                                   ("link_exclude", self.link_exclude, compile_link_pattern),
                                   ("link_selector", self.link_selector, css_to_xpath),
                                   ("link_xpath", self.link_xpath, compile_xpath)):
            if value:
                try:
                    check(value)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        if self.kind == "telegram" and not re.match(r"^https?://[^/]+/s/[A-Za-z0-9_]+/?$", self.url):
            raise ValueError("url: a telegram source's url is the channel preview, https://t.me/s/<channel>")
        return self


class SourcesFile(StrictModel):
    """Contents of sources.yaml."""

    outlets: dict[Name, Outlet] = Field(
        default_factory=dict, description="Outlet metadata keyed by outlet name"
    )
    sources: list[Source] = Field(description="Every source newsmon knows about")

    @model_validator(mode="after")
    def _unique_ids(self) -> SourcesFile:
        seen: set[str] = set()
        for index, source in enumerate(self.sources):
            if source.id in seen:
                raise ValueError(f"sources[{index}].id: duplicate source id {source.id!r}")
            seen.add(source.id)
        return self

    def outlet(self, name: str) -> Outlet:
        """The metadata of an outlet (defaults when the file has none)."""
        return self.outlets.get(name, Outlet())

    def timezone_of(self, source: Source) -> str:
        """The time zone for dates a source writes without one."""
        return source.timezone or self.outlet(source.outlet).timezone
