"""newsmon.yaml (optional): settings of the processing pipeline: dedupe, crawler, workers, archive."""

from __future__ import annotations

from pydantic import (
    Field,
    field_validator,
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


class PipelineFile(StrictModel):
    """Contents of the optional newsmon.yaml: settings of the processing pipeline."""

    dedupe: DedupeSettings = Field(default_factory=DedupeSettings, description="Duplicate detection")
    crawler: CrawlerSettings = Field(default_factory=CrawlerSettings, description="Crawler politeness")
    workers: WorkerSettings = Field(default_factory=WorkerSettings, description="Worker heartbeats")
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings, description="Archive retention")
