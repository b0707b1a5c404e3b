"""Config files (sources, keywords, alerts): pydantic models, `${VAR}` expansion, loading and validation."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from newsmon.errors import ConfigError
from newsmon.languages import Language

SOURCES_FILE = "sources.yaml"
KEYWORDS_FILE = "keywords.yaml"
ALERTS_FILE = "alerts.yaml"
PIPELINE_FILE = "newsmon.yaml"  # optional

_ID = r"^[a-z0-9][a-z0-9_.-]*$"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sources.yaml ---------------------------------------------------------------------------------


SOURCE_KINDS = ("feed", "listing", "sitemap", "telegram")


class Outlet(_Model):
    """What desks should know about an outlet: who runs it and where."""

    website: str | None = Field(default=None, description="Home page")
    affiliation: str = Field(
        default="not established", description="Ownership or political affiliation, where publicly known"
    )
    affiliation_source: str | None = Field(default=None, description="Where the affiliation is documented")
    timezone: str = Field(default="Asia/Baghdad", description="Time zone of dates the outlet writes without one")
    telegram: str | None = Field(default=None, description="Public Telegram channel, if known")


class Source(_Model):
    """One polled source: an outlet's feed, listing page, sitemap or Telegram channel in one edition."""

    id: str = Field(pattern=_ID, description="Unique id, used in Redis keys and logs")
    name: str = Field(min_length=1, description="Human-readable name of this source")
    outlet: str = Field(min_length=1, description="The outlet that publishes it (Kurdistan24, Rudaw, ...)")
    language: Language = Field(
        description="Edition language: ar Arabic, ckb Sorani, kmr Kurmanji, en English, tr, fa"
    )
    kind: Literal["feed", "listing", "sitemap", "telegram"] = Field(
        description="feed: RSS/Atom/JSON Feed; listing: an HTML page of article links; sitemap: a (news) "
                    "sitemap or sitemap index; telegram: a public channel's preview page t.me/s/<channel>"
    )
    url: str = Field(pattern=r"^https?://", description="URL of the feed, page, sitemap or channel preview")
    interval: int = Field(default=300, ge=1, le=86400, description="Poll interval in seconds")
    jitter: int | None = Field(
        default=None, ge=0, description="Max random shift of each poll in seconds; default 10% of interval"
    )
    enabled: bool = Field(default=True, description="Disabled sources are validated but never polled")
    evidence: str | None = Field(default=None, description="Where the URL was seen working")
    link_selector: str | None = Field(
        default=None, description="listing: CSS selector of the article links (a elements or their parents)"
    )
    link_xpath: str | None = Field(default=None, description="listing: XPath of the article links' href values")
    link_pattern: str | None = Field(
        default=None, description="listing: regular expression an article URL must match (after joining); "
                                  "RE2 syntax, so no backreferences or lookaround (use link_exclude)"
    )
    link_exclude: str | None = Field(
        default=None, description="listing: regular expression (RE2) of URLs to leave out even when they match"
    )
    max_age_days: float = Field(
        default=3, gt=0, description="sitemap/telegram: ignore items older than this many days"
    )
    max_items: int = Field(default=50, ge=1, le=1000, description="Most items taken from one poll")
    stale_after_hours: float | None = Field(
        default=None, gt=0,
        description="Call the source stale when its newest item is older than this; default 48 h or 20 intervals",
    )
    timezone: str | None = Field(default=None, description="Overrides the outlet's time zone for this source")
    silent_after_intervals: float | None = Field(
        default=None, gt=0, description="Overrides alerts.yaml admin.silent_after_intervals for this source")
    user_agent: str | None = Field(default=None, description="Overrides the crawler's User-Agent for this source")

    @property
    def effective_jitter(self) -> int:
        """Jitter in seconds: explicit, or a tenth of the interval capped at 30 s."""
        return self.jitter if self.jitter is not None else min(30, self.interval // 10)

    @property
    def stale_after_seconds(self) -> float:
        """How old the newest item may be before the source counts as stale."""
        if self.stale_after_hours is not None:
            return self.stale_after_hours * 3600
        return max(48 * 3600, 20 * self.interval)

    @model_validator(mode="after")
    def _kind_fields(self) -> Source:
        if self.kind == "listing" and not (self.link_selector or self.link_xpath or self.link_pattern):
            raise ValueError("link_selector: a listing source needs link_selector, link_xpath or link_pattern")
        from newsmon.patterns import compile_link_pattern, compile_xpath, css_to_xpath

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


class SourcesFile(_Model):
    """Contents of sources.yaml."""

    outlets: dict[str, Outlet] = Field(default_factory=dict, description="Outlet metadata keyed by outlet name")
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


# --- keywords.yaml --------------------------------------------------------------------------------


class AliasSpec(_Model):
    """An alias with its own matching rules, for the few aliases that need them."""

    term: str = Field(min_length=1, description="The alias as written; a trailing * allows any word ending")
    exact: bool = Field(default=False, description="Match the alias only as written: no prefixes or suffixes")
    case: Literal["auto", "sensitive", "insensitive"] = Field(
        default="auto",
        description="auto: an all-caps Latin alias (ISIS) matches only all-caps text, others ignore case",
    )
    split: bool = Field(
        default=True,
        description="A one-word alias of six letters or more also matches split in two (pesh merga), a "
                    "two-word alias also matches joined (IslamicState); false: only as written")
    ezafe: bool = Field(default=True, description="A Sorani alias also matches with the ezafe -ی (کەرکووکی)")
    nisba: bool | None = Field(
        default=None,
        description="An Arabic-script alias also matches as the adjective derived from it (-ي -ية -يين -يون: "
                    "داعشي); default: the topic's `nisba`")


Alias = str | AliasSpec


class Near(_Model):
    """Two alias groups that must occur within `within` words of each other."""

    a: list[Alias] = Field(min_length=1, description="First group of aliases")
    b: list[Alias] = Field(min_length=1, description="Second group of aliases")
    within: int = Field(default=10, ge=1, le=200, description="Greatest distance in words")


class Topic(_Model):
    """A watched topic: fires when an `any` alias, every `all` term and every `near` pair occur, and no
    `none` term does."""

    name: str = Field(min_length=1, description="Human-readable topic name shown in alerts")
    any: list[Alias] = Field(default_factory=list, description="Aliases; one of them must occur")
    all: list[Alias] = Field(default_factory=list, description="Terms that must all occur as well")
    none: list[Alias] = Field(default_factory=list, description="Terms whose presence suppresses the topic")
    near: list[Near] = Field(default_factory=list, description="Alias groups that must occur close together")
    languages: list[Language] | None = Field(
        default=None, description="Only stories in these languages; all languages when absent"
    )
    urgent: bool = Field(default=False, description="Urgent topics bypass digests and quiet hours")
    nisba: bool = Field(
        default=False,
        description="Its Arabic-script aliases also match as derived adjectives (-ي -ية -يين -يون): for ISIS "
                    "(داعشي), not for Kirkuk (كركوكي is a surname)")

    @field_validator("any", "all", "none")
    @classmethod
    def _no_blank_aliases(cls, aliases: list[Alias]) -> list[Alias]:
        for index, alias in enumerate(aliases):
            if not alias_term(alias).strip():
                raise ValueError(f"alias {index} is blank")
        return aliases

    @model_validator(mode="after")
    def _needs_aliases(self) -> Topic:
        if not self.any and not self.near:
            raise ValueError("any: a topic needs `any` aliases or a `near` clause")
        return self


def alias_term(alias: Alias) -> str:
    """The alias text of a plain or detailed alias."""
    return alias if isinstance(alias, str) else alias.term


class KeywordsFile(_Model):
    """Contents of keywords.yaml."""

    topics: dict[Annotated[str, Field(pattern=_ID)], Topic] = Field(
        min_length=1, description="Topics keyed by id"
    )


# --- alerts.yaml ----------------------------------------------------------------------------------


class SmtpSettings(_Model):
    """How to reach the SMTP server that sends email alerts."""

    host: str = Field(description="SMTP server host name")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP server port")
    sender: str = Field(description="From: address of alert emails")
    username: str | None = Field(default=None, description="Login user, if the server needs AUTH")
    password: SecretStr | None = Field(default=None, description="Login password; use ${SMTP_PASSWORD}")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS")
    ssl: bool = Field(default=False, description="Connect with implicit TLS (port 465)")
    timeout: float = Field(default=15.0, gt=0, description="Socket timeout in seconds")
    ca_file: str | None = Field(default=None, description="CA bundle to verify the server's certificate with")


class EmailChannel(_Model):
    """Email to one or more recipients through the `smtp` server."""

    type: Literal["email"] = Field(description="Channel type")
    to: list[str] = Field(min_length=1, description="Recipient addresses")


class AppriseChannel(_Model):
    """A chat or webhook target given as an Apprise URL (slack://, tgram://, json://, ...)."""

    type: Literal["apprise"] = Field(description="Channel type")
    url: SecretStr = Field(description="Apprise URL; tokens inside it should come from ${VARS}")


class OutboxChannel(_Model):
    """Append each alert as one JSON line to a local file (the demo's mailbox)."""

    type: Literal["outbox"] = Field(description="Channel type")
    path: str = Field(description="File to append JSON lines to")


class ConsoleChannel(_Model):
    """Print each alert to the worker's standard output."""

    type: Literal["console"] = Field(description="Channel type")


Channel = Annotated[
    EmailChannel | AppriseChannel | OutboxChannel | ConsoleChannel, Field(discriminator="type")
]


class Route(_Model):
    """Which topics go to which channels."""

    id: str = Field(pattern=_ID, description="Unique route id (part of the idempotency key)")
    topics: list[str] = Field(min_length=1, description="Topic ids from keywords.yaml, or '*' for all")
    channels: list[str] = Field(min_length=1, description="Channel ids from `channels`")


class RetrySettings(_Model):
    """How often and how late a failed delivery is retried (RQ Retry)."""

    max: int = Field(default=8, ge=1, description="Retries after the first attempt")
    intervals: list[int] = Field(
        default_factory=lambda: [5, 15, 30, 60, 120, 300, 600, 900],
        min_length=1,
        description="Seconds before each retry; the last value repeats",
    )


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class QuietHours(_Model):
    """Hours (in the desk's time zone) when instant alerts wait for a digest, unless urgent."""

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Start, HH:MM")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="End, HH:MM (may be after midnight)")


class Throttle(_Model):
    """At most `max` instant alerts per `window_minutes`; the rest roll into the next digest."""

    max: int = Field(ge=1, description="Instant alerts allowed per window")
    window_minutes: int = Field(default=60, ge=1, description="Length of the window")


class Breaking(_Model):
    """When a desk hears that something is happening: a story spreading across outlets, a topic surging."""

    outlets: int = Field(default=3, ge=2, le=50, description="Distinct outlets that make a story breaking")
    minutes: int = Field(default=30, ge=1, le=1440, description="... within this many minutes of its first story")
    surge: bool = Field(default=True, description="Also alert when a topic's new stories surge over its usual hour")
    urgent: bool = Field(default=False, description="Breaking alerts bypass digests and quiet hours")


class Desk(_Model):
    """A desk: who receives which topics, through which channels, instantly or as digests."""

    channels: list[str] = Field(min_length=1, description="Channel ids from `channels`")
    topics: list[str] = Field(min_length=1, description="Topic ids from keywords.yaml, or '*' for all")
    languages: list[Language] | None = Field(
        default=None, description="Only stories in these languages")
    outlets: list[str] | None = Field(default=None, description="Only stories from these outlets")
    mode: Literal["instant", "digest"] = Field(default="instant", description="instant alerts, or digests only")
    digest_schedule: str = Field(
        default="0 8 * * *",
        description="Cron (minute hour day month weekday) of digests in the desk's time zone; in instant "
                    "mode it sends what throttling held back",
    )
    timezone: str = Field(default="Asia/Baghdad", description="Time zone of the schedule, quiet hours and times")
    throttle: Throttle | None = Field(default=None, description="Limit on instant alerts")
    quiet_hours: QuietHours | None = Field(default=None, description="Hours without instant alerts")
    breaking: Breaking | None = Field(
        default=None, description="Breaking alerts for the desk's topics (none when absent): a story reported by "
                                  "`outlets` outlets within `minutes`, and topic surges")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value)

    def wants(self, topic: str, language: str, outlet: str) -> bool:
        """Whether the desk follows this topic for a story in this language from this outlet."""
        if self.languages is not None and language not in self.languages:
            return False
        if self.outlets is not None and outlet not in self.outlets:
            return False
        return "*" in self.topics or topic in self.topics

    @field_validator("digest_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a cron schedule (minute hour day month weekday): {exc}") from exc
        return value


class AdminSettings(_Model):
    """Health alerts for admins: where they go and when a condition counts as a problem."""

    channels: list[str] = Field(default_factory=list, description="Channel ids that receive health alerts")
    silent_after_intervals: float = Field(
        default=10, gt=0, description="A source is silent after this many poll intervals without success")
    failures: int = Field(default=5, ge=1, description="Consecutive failed polls that make a source failing "
                                                        "even before failing_after_minutes")
    failing_after_minutes: float = Field(
        default=30, gt=0, description="A source whose polls have failed for longer than this is failing "
                                      "(a source that never succeeded is failing from its first failed poll)")
    backlog_seconds: int = Field(default=600, ge=1, description="A queue whose oldest job waits longer is stuck")
    scheduler_stale_seconds: int = Field(default=90, ge=10, description="A scheduler silent this long is down")
    startup_grace_seconds: int = Field(
        default=60, ge=0, description="After a start, missing workers or scheduler are not problems for this long")
    retrying_minutes: int = Field(
        default=15, ge=1, description="A channel with retries and no delivery over this many minutes keeps retrying")
    restarts: int = Field(default=3, ge=1, description="Role exits within 10 minutes that make it restarting")


class AlertsFile(_Model):
    """Contents of alerts.yaml."""

    smtp: SmtpSettings | None = Field(default=None, description="SMTP server, needed by email channels")
    channels: dict[Annotated[str, Field(pattern=_ID)], Channel] = Field(description="Channels keyed by id")
    desks: dict[Annotated[str, Field(pattern=_ID)], Desk] = Field(
        default_factory=dict, description="Desks keyed by id")
    routes: list[Route] = Field(
        default_factory=list, description="Simple routes (an instant desk with topics and channels)")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Delivery retry policy")
    admin: AdminSettings = Field(default_factory=AdminSettings, description="Health alerts for admins")
    first_poll_max_age_hours: float = Field(
        default=48, ge=0,
        description="A source's first poll brings its backlog: stories published longer ago than this are "
                    "archived but not alerted (0 alerts them all)")

    def all_desks(self) -> dict[str, Desk]:
        """Desks, with each simple route as an instant desk of the same id."""
        desks = dict(self.desks)
        for route in self.routes:
            desks.setdefault(route.id, Desk(channels=route.channels, topics=route.topics))
        return desks


# --- newsmon.yaml (optional) ---------------------------------------------------------------------


class DedupeSettings(_Model):
    """How copies of a story are recognised."""

    threshold: float = Field(
        default=0.5, gt=0, le=1,
        description="Least Jaccard similarity of word 3-shingles for a near duplicate. Measured on the "
                    "test corpus: republished copies score 0.64 and above, different stories on the same "
                    "topic with shared sentences 0.37 and below",
    )
    window_days: int = Field(default=14, ge=1, le=90, description="How long a story can be matched by a copy")


class CrawlerSettings(_Model):
    """How the crawler behaves towards outlets."""

    user_agent: str = Field(
        default="newsmon/0.1 (news monitoring; +https://github.com/newsmon/newsmon)",
        description="User-Agent of every request (a source may override it)",
    )
    concurrency_per_host: int = Field(default=4, ge=1, le=32, description="Parallel requests to one host")
    timeout: float = Field(default=20, gt=0, le=300, description="Seconds before a request times out")
    backoff_max_seconds: int = Field(
        default=6 * 3600, ge=1, description="Longest pause of a failing source between two polls"
    )
    autothrottle: bool = Field(
        default=True, description="Adapt request rates to each host's response times (Scrapy AutoThrottle)")
    max_polls_in_flight: int = Field(
        default=16, ge=1, description="Polls one crawler process runs at once; more wait in Redis for other crawlers"
    )
    poll_max_requests: int = Field(
        default=300, ge=2, description="Requests one poll may make (index documents and articles); past it the "
                                       "poll ends as `over-budget`")
    poll_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="Bytes one poll may download")
    poll_max_seconds: float = Field(default=300, gt=0, description="Seconds one poll may run before it stops "
                                                                   "making requests")
    sitemap_max_depth: int = Field(default=3, ge=1, le=10, description="Sitemap indexes followed below the "
                                                                       "source's URL")


class ArchiveSettings(_Model):
    """How long the archive keeps stories."""

    retention_days: int | None = Field(default=None, ge=1, description="Delete stories older than this; keep all when absent")


class WorkerSettings(_Model):
    """How RQ workers announce themselves."""

    heartbeat_ttl: int = Field(default=60, ge=5, description="Seconds after which a silent worker counts as dead")


class PipelineFile(_Model):
    """Contents of the optional newsmon.yaml: settings of the processing pipeline."""

    dedupe: DedupeSettings = Field(default_factory=DedupeSettings, description="Duplicate detection")
    crawler: CrawlerSettings = Field(default_factory=CrawlerSettings, description="Crawler politeness")
    workers: WorkerSettings = Field(default_factory=WorkerSettings, description="Worker heartbeats")
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings, description="Archive retention")


# --- the whole config -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """The validated config of one config directory."""

    directory: Path
    sources: SourcesFile
    keywords: KeywordsFile
    alerts: AlertsFile
    version: str
    pipeline: PipelineFile = field(default_factory=PipelineFile)

    @property
    def job_keep_seconds(self) -> int:
        """How long finished and failed alert jobs are kept: their ids are what stops a story from
        being handed on twice, so at least the dedupe window (and 30 days for failed deliveries)."""
        return max(self.pipeline.dedupe.window_days, 30) * 86400

    def source(self, source_id: str) -> Source | None:
        """Return the source with this id, or None."""
        return next((s for s in self.sources.sources if s.id == source_id), None)

    def enabled_sources(self) -> list[Source]:
        """Sources that the scheduler polls."""
        return [s for s in self.sources.sources if s.enabled]


def expand_env(value: Any, file: str, path: str = "", environ: dict[str, str] | None = None) -> Any:
    """Replace `${VAR}` in every string of a parsed YAML tree; a missing variable is a ConfigError."""
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: expand_env(v, file, _join(path, str(k)), env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, file, f"{path}[{i}]", env) for i, v in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(file, path, f"environment variable {name} is not set")
            return env[name]

        return _ENV_REF.sub(substitute, value)
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


MAX_CONFIG_BYTES = 16 * 1024 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*name` can repeat a node without bound (an alias bomb of a few hundred
    bytes expands to gigabytes), and nothing in newsmon's files needs it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"YAML aliases (*{event.anchor}) are not allowed in "
                                                          f"newsmon config files; write the value out",
                                              event.start_mark)
        return super().compose_node(parent, index)


def _read_yaml(path: Path, raw: bytes | None = None) -> tuple[Any, bytes]:
    if raw is None:
        if not path.is_file():
            raise ConfigError(str(path), "", "file not found")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(str(path), "", f"larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB")
        raw = path.read_bytes()
    try:
        data = yaml.load(raw, Loader=_NoAliasLoader)
    except RecursionError:
        raise ConfigError(str(path), "", "not valid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "expected a mapping at the top level")
    return data, raw


def _validate(model: type[_Model], data: dict[str, Any], file: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in error["loc"]
        ).replace(".[", "[")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if error["type"] == "value_error" and ": " in message and not field:
            field, message = message.split(": ", 1)
        raise ConfigError(file, field, message) from exc


def load_keywords(path: str | Path, environ: dict[str, str] | None = None) -> KeywordsFile:
    """Load and validate one keywords file (for `newsmon keywords` and hot reload).

    Raises:
        ConfigError: naming the file, the field path and what was expected.
    """
    data, _raw = _read_yaml(Path(path))
    return _validate(KeywordsFile, expand_env(data, str(path), environ=environ), str(path))


CONFIG_FILES = (SOURCES_FILE, KEYWORDS_FILE, ALERTS_FILE, PIPELINE_FILE)


def read_config_files(directory: str | Path) -> dict[str, bytes]:
    """The raw bytes of the config files present in a directory (what `keywords reload` publishes)."""
    root = Path(directory)
    return {name: (root / name).read_bytes() for name in CONFIG_FILES if (root / name).is_file()}


def load_config(directory: str | Path, environ: dict[str, str] | None = None,
                files: dict[str, bytes] | None = None) -> Config:
    """Load and validate sources.yaml, keywords.yaml and alerts.yaml (and newsmon.yaml) from a directory.

    With `files` (name -> raw bytes, as published by `keywords reload`), those bytes are read instead of
    the directory's files; `${VAR}` is still expanded from this process's environment.

    Raises:
        ConfigError: naming the file, the field path and what was expected.
    """
    root = Path(directory)
    parsed: dict[str, Any] = {}
    digest = hashlib.sha256()
    models = {SOURCES_FILE: SourcesFile, KEYWORDS_FILE: KeywordsFile, ALERTS_FILE: AlertsFile}
    for name, model in models.items():
        path = root / name
        if files is not None and name not in files:
            raise ConfigError(str(path), "", "file not found in the published config")
        data, raw = _read_yaml(path, None if files is None else files[name])
        digest.update(raw)
        parsed[name] = _validate(model, expand_env(data, str(path), environ=environ), str(path))
    pipeline = PipelineFile()
    if (files is not None and PIPELINE_FILE in files) or (files is None and (root / PIPELINE_FILE).is_file()):
        data, raw = _read_yaml(root / PIPELINE_FILE, None if files is None else files[PIPELINE_FILE])
        digest.update(raw)
        pipeline = _validate(PipelineFile, expand_env(data, str(root / PIPELINE_FILE), environ=environ),
                             str(root / PIPELINE_FILE))
    config = Config(
        directory=root,
        sources=parsed[SOURCES_FILE],
        keywords=parsed[KEYWORDS_FILE],
        alerts=parsed[ALERTS_FILE],
        version=digest.hexdigest()[:12],
        pipeline=pipeline,
    )
    _check_references(config)
    return config


def _check_references(config: Config) -> None:
    alerts_path = str(config.directory / ALERTS_FILE)
    topics = config.keywords.topics
    channels = config.alerts.channels
    places = [(f"desks.{desk_id}", desk_id, desk) for desk_id, desk in config.alerts.desks.items()]
    seen = set(config.alerts.desks)
    for r, route in enumerate(config.alerts.routes):
        if route.id in seen:
            raise ConfigError(alerts_path, f"routes[{r}].id", f"duplicate desk or route id {route.id!r}")
        seen.add(route.id)
        places.append((f"routes[{r}]", route.id, route))
    for path, _ident, desk in places:
        for t, topic in enumerate(desk.topics):
            if topic != "*" and topic not in topics:
                raise ConfigError(
                    alerts_path,
                    f"{path}.topics[{t}]",
                    f"unknown topic {topic!r}; expected one of {sorted(topics)} from {KEYWORDS_FILE}",
                )
        for c, channel in enumerate(desk.channels):
            if channel not in channels:
                raise ConfigError(
                    alerts_path,
                    f"{path}.channels[{c}]",
                    f"unknown channel {channel!r}; expected one of {sorted(channels)}",
                )
    for c, channel in enumerate(config.alerts.admin.channels):
        if channel not in channels:
            raise ConfigError(alerts_path, f"admin.channels[{c}]",
                              f"unknown channel {channel!r}; expected one of {sorted(channels)}")
    for name, channel in channels.items():
        if isinstance(channel, EmailChannel) and config.alerts.smtp is None:
            raise ConfigError(alerts_path, f"channels.{name}", "email channel needs an `smtp` section")


def default_config_dir() -> Path:
    """The config directory: $NEWSMON_CONFIG_DIR, else ./config, else the shipped config (the repository's
    config/, which an installed newsmon carries as the package newsmon.shipped_config)."""
    explicit = os.environ.get("NEWSMON_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "config"
    if (local / SOURCES_FILE).is_file():
        return local
    repository = Path(__file__).resolve().parent.parent / "config"
    if (repository / SOURCES_FILE).is_file():
        return repository
    import importlib.util

    spec = importlib.util.find_spec("newsmon.shipped_config")  # a directory of YAML files, no module in it
    if spec is None or not spec.submodule_search_locations:
        return repository
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class Runtime:
    """Deployment facts read from the environment once, in the CLI."""

    redis_url: str | None
    database_url: str | None
    data_dir: Path

    @classmethod
    def from_env(cls) -> Runtime:
        """Read REDIS_URL, DATABASE_URL and NEWSMON_DATA_DIR."""
        return cls(
            redis_url=os.environ.get("REDIS_URL") or None,
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=Path(os.environ.get("NEWSMON_DATA_DIR") or Path.cwd() / "var"),
        )

    def archive_url(self, must_exist: bool = False) -> str:
        """DATABASE_URL, or the SQLite file in the data directory.

        With `must_exist` (commands that only read), a missing SQLite file raises NothingRunning
        instead of creating an empty archive.
        """
        if self.database_url:
            return self.database_url
        path = self.data_dir / "archive.sqlite"
        if must_exist and not path.is_file():
            from newsmon.errors import NothingRunning

            raise NothingRunning(self.data_dir, "archive")
        return f"sqlite:///{path}"
