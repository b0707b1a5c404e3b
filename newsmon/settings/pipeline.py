"""newsmon.yaml (optional): settings of the processing pipeline: dedupe, crawler, workers, archive."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from newsmon.settings.common import StrictModel, check_no_controls

PIPELINE_FILE = "newsmon.yaml"  # optional


class DedupeSettings(StrictModel):
    """How copies of a story are recognised."""

    threshold: float = Field(
        default=0.5, gt=0, le=1,
        description="Least Jaccard similarity of word 3-shingles for a near duplicate. Measured on the "
                    "test corpus: republished copies score 0.64 and above, different stories on the same "
                    "topic with shared sentences 0.37 and below",
    )
    window_days: int = Field(default=14, ge=1, le=90, description="How long a story can be matched by a copy")


class EventSettings(StrictModel):
    """How reports of one happening in several languages are grouped into an event (workers/events.py)."""

    enabled: bool = Field(default=True,
                          description="Group reports into events (false: an event is a cluster)")
    window_hours: float = Field(default=24, gt=0, le=24 * 14,
                                description="Reports further apart than this are never one event")
    min_score: float = Field(
        default=1.5, gt=0, le=50,
        description="Least evidence for two reports to tell one happening: each shared name counts 1 (0.5 "
                    "when it is frequent in the window), each shared number 1, each shared concept "
                    "concept_weight")
    min_names: float = Field(
        default=0.5, ge=0, le=50,
        description="Of which names and numbers must give at least this much: shared concepts alone "
                    "never join two reports")
    concept_weight: float = Field(default=0.75, ge=0, le=5, description="Weight of one shared concept")
    agreement: float = Field(
        default=0.67, ge=0, le=1,
        description="Share of an event's reports within the window that must each give min_score with a "
                    "new report for it to join (1: all of them; 0: the best one alone)")
    agreement_reports: int = Field(
        default=3, ge=1, le=1000,
        description="... or at least this many of them: a large event's reports tell different parts of it, "
                    "and three that each agree with a new report are not a lucky match")
    edition_bonus: float = Field(
        default=2.0, ge=0, le=50,
        description="Evidence added when two reports are one outlet's editions in two languages (an outlet "
                    "does not publish two reports of one happening in one language), published within "
                    "edition_hours and sharing at least a name or a number")
    edition_hours: float = Field(default=2, ge=0, le=48,
                                 description="How close in time an outlet's editions of one report appear")
    late_hours: float = Field(default=12, ge=0, description="Reports further apart than this ...")
    late_penalty: float = Field(default=0.5, ge=0, le=50, description="... need this much more evidence")
    headline_conflict_penalty: float = Field(
        default=2.0, ge=0, le=50,
        description="Evidence taken off when each headline's first name (whom or where it is about) is "
                    "missing from the other report: Masrour Barzani's statement and Nechirvan Barzani's on "
                    "one agreement the same day")
    weekday_conflict_penalty: float = Field(
        default=2.0, ge=0, le=50,
        description="Evidence taken off when both reports name days of the week and none in common "
                    "(rockets on Friday, more rockets on Saturday)")
    number_conflict_penalty: float = Field(
        default=0, ge=0, le=50,
        description="Evidence taken off when both reports give numbers and none agree (4 killed against 11 "
                    "killed). Off by default: on real reports tolls rise while a story is told (1 killed, "
                    "then 4), so disagreeing numbers are as common within one event as between two")


class CrawlerSettings(StrictModel):
    """How the crawler behaves towards outlets."""

    user_agent: str = Field(
        default="newsmon/0.1 (news monitoring; +https://github.com/newsmon/newsmon)",
        description="User-Agent of every request (a source may override it)",
    )

    @field_validator("user_agent")
    @classmethod
    def _agent(cls, value: str) -> str:
        return check_no_controls(value, "user_agent")
    concurrency_per_host: int = Field(default=4, ge=1, le=32, description="Parallel requests to one host")
    timeout: float = Field(default=20, gt=0, le=300, description="Seconds before a request times out")
    backoff_max_seconds: int = Field(
        default=6 * 3600, ge=1, le=7 * 86400,
        description="Longest pause of a failing source between two polls",
    )
    autothrottle: bool = Field(
        default=True, description="Adapt request rates to each host's response times (Scrapy AutoThrottle)")
    max_polls_in_flight: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Polls one crawler process runs at once; more wait in Redis for other crawlers",
    )
    poll_max_requests: int = Field(
        default=300,
        ge=2,
        description="Requests one poll may make (index documents and articles); past it the "
        "poll ends as `over-budget`",
    )
    poll_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="Bytes one poll may download")
    poll_max_seconds: float = Field(default=300, gt=0, le=86400,
                                    description="Seconds one poll may run before it stops making requests")
    sitemap_max_depth: int = Field(default=3, ge=1, le=10, description="Sitemap indexes followed below the "
                                                                       "source's URL")


class ArchiveSettings(StrictModel):
    """How long the archive keeps stories."""

    retention_days: int | None = Field(
        default=None, ge=1, le=36500, description="Delete stories older than this; keep all when absent"
    )


class WorkerSettings(StrictModel):
    """How RQ workers announce themselves."""

    heartbeat_ttl: int = Field(
        default=60, ge=5, le=3600, description="Seconds after which a silent worker counts as dead"
    )


class SchedulerSettings(StrictModel):
    """How adaptive sources are timed (scheduler/adaptive.py)."""

    budget_per_hour: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="Polls an hour for all enabled sources together; default: what polling each one "
                    "every `interval` spends (3600/interval summed)",
    )
    host_polls_per_hour: int = Field(
        default=120, ge=1, le=36_000,
        description="At most this many polls an hour to one host, whatever the budget (politeness)",
    )


class WebSettings(StrictModel):
    """What the web role says of itself to the outside."""

    public_url: str | None = Field(
        default=None,
        description="The address at which hubs reach `newsmon web` (https://newsmon.example.org); set, it "
                    "turns on WebSub: feeds that name a hub are subscribed with callbacks under "
                    "<public_url>/websub/",
    )

    timezone: str = Field(default="Asia/Baghdad",
                          description="Time zone of the times the status page shows (IANA name)")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        # imported here: only this validator needs the zone database
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = check_no_controls(value.strip(), "public_url").rstrip("/")
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError(f"public_url must be an http(s) address without query or fragment: {value!r}")
        return value


class WebSubSettings(StrictModel):
    """Push where a feed offers it (W3C WebSub), with polling as the fallback (newsmon/websub.py)."""

    enabled: bool = Field(default=True, description="Subscribe to the hubs feeds name (needs "
                                                    "web.public_url)")
    lease_seconds: int = Field(default=10 * 86400, ge=60, le=365 * 86400,
                               description="Lease asked of the hub (a hub may grant another)")
    renew_before: int = Field(
        default=3600, ge=10, le=7 * 86400,
        description="Renew a subscription this long before its lease ends (or at half a lease shorter "
                    "than twice this)")
    fallback_interval: int = Field(
        default=1800, ge=60, le=86400,
        description="While a subscription is alive its source is still polled, at least this far apart "
                    "(seconds): a lost ping is caught up then")
    retry_after: int = Field(default=3600, ge=10, le=7 * 86400,
                             description="Seconds before a refused or failed subscription is tried again")


class TranslateSettings(StrictModel):
    """The translation engine the admin chooses for desks' glosses (alerts/translate.py); none by default."""

    model_config = ConfigDict(protected_namespaces=())  # `model_dir` is a setting, not pydantic's

    backend: Literal["none", "libretranslate", "ctranslate2", "command"] = Field(
        default="none",
        description="none; libretranslate (its HTTP API, which self-hosted engines also speak); ctranslate2 "
                    "(a local model directory); command (a program reading and writing JSON lines)")
    url: str | None = Field(default=None,
                            description="libretranslate: the server, e.g. ${LIBRETRANSLATE_URL}")
    api_key: SecretStr | None = Field(
        default=None, description="libretranslate: its API key, e.g. ${LIBRETRANSLATE_API_KEY}")
    model_dir: str | None = Field(
        default=None,
        description="ctranslate2: a converted NLLB or OPUS-MT model with its SentencePiece model")
    command: list[str] | None = Field(
        default=None, min_length=1,
        description="command: the program and its arguments; it reads {id, text, source, target} lines and "
                    "writes {id, translation} lines")
    languages: dict[str, str] = Field(
        default_factory=dict,
        description="The engine's codes for newsmon's languages where they differ, e.g. {kmr: ku} for a "
                    "LibreTranslate server, {ar: acm_Arab} for NLLB's Iraqi Arabic (ctranslate2 maps ckb, "
                    "kmr, ar, en, fa and tr to NLLB's codes by itself)")
    name: str | None = Field(default=None, description="The engine's name shown with each gloss (default: "
                                                       "the backend's)")
    timeout: float = Field(default=3.0, gt=0, le=60,
                           description="Seconds a gloss may take; past them the alert goes without it, "
                                       "and says so")
    cache_days: float = Field(default=30, gt=0, le=365, description="How long a translation is kept")

    @model_validator(mode="after")
    def _needs(self) -> TranslateSettings:
        needed = {"libretranslate": ("url", self.url), "ctranslate2": ("model_dir", self.model_dir),
                  "command": ("command", self.command)}.get(self.backend)
        if needed is not None and not needed[1]:
            raise ValueError(f"backend {self.backend} needs `{needed[0]}`")
        for value in (self.url, self.model_dir, self.name, *(self.command or []), *self.languages,
                      *self.languages.values()):
            if value is not None:
                check_no_controls(value, "translate")
        return self

    def engine_name(self) -> str:
        """How a gloss names its engine."""
        default = {"libretranslate": "LibreTranslate", "ctranslate2": "CTranslate2", "command": "command",
                   "none": "none"}[self.backend]
        return self.name or default


class PipelineFile(StrictModel):
    """Contents of the optional newsmon.yaml: settings of the processing pipeline."""

    dedupe: DedupeSettings = Field(default_factory=DedupeSettings, description="Duplicate detection")
    events: EventSettings = Field(default_factory=EventSettings,
                                  description="Events: one happening's reports across languages")
    crawler: CrawlerSettings = Field(default_factory=CrawlerSettings, description="Crawler politeness")
    workers: WorkerSettings = Field(default_factory=WorkerSettings, description="Worker heartbeats")
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings, description="Archive retention")
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings,
                                         description="Adaptive polling: the request budget and host limits")
    web: WebSettings = Field(default_factory=WebSettings, description="The web role's public address")
    websub: WebSubSettings = Field(default_factory=WebSubSettings,
                                   description="WebSub: pushes from the hubs feeds name")
    translate: TranslateSettings = Field(default_factory=TranslateSettings,
                                         description="Machine translation for desks' glosses")
