"""alerts.yaml: channels, desks (routes), digests, quiet hours, breaking stories, health alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)

from newsmon.languages import Language
from newsmon.settings.common import ID_PATTERN, Name, StrictModel, check_no_controls, check_zone

ALERTS_FILE = "alerts.yaml"


class SmtpSettings(StrictModel):
    """How to reach the SMTP server that sends email alerts."""

    host: str = Field(description="SMTP server host name")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP server port")
    sender: str = Field(description="From: address of alert emails")
    username: str | None = Field(default=None, description="Login user, if the server needs AUTH")
    password: SecretStr | None = Field(default=None, description="Login password; use ${SMTP_PASSWORD}")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS")
    ssl: bool = Field(default=False, description="Connect with implicit TLS (port 465)")
    timeout: float = Field(default=15.0, gt=0, le=600, description="Socket timeout in seconds")
    ca_file: str | None = Field(default=None, description="CA bundle to verify the server's certificate with")


class EmailChannel(StrictModel):
    """Email to one or more recipients through the `smtp` server."""

    type: Literal["email"] = Field(description="Channel type")
    to: list[str] = Field(min_length=1, description="Recipient addresses")


class AppriseChannel(StrictModel):
    """A chat or webhook target given as an Apprise URL (slack://, tgram://, json://, ...)."""

    type: Literal["apprise"] = Field(description="Channel type")
    url: SecretStr = Field(description="Apprise URL; tokens inside it should come from ${VARS}")

    @field_validator("url")
    @classmethod
    def _known(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        check_no_controls(url, "url")
        # imported here: Apprise loads its plugins only for configs with chat channels
        import apprise

        if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
            scheme = url.split("://", 1)[0] if "://" in url else url[:20]
            raise ValueError(f"Apprise does not understand this URL (scheme {scheme!r}): see "
                             f"https://github.com/caronc/apprise/wiki for the services and their URLs")
        return value


class OutboxChannel(StrictModel):
    """Append each alert as one JSON line to a local file (the demo's mailbox)."""

    type: Literal["outbox"] = Field(description="Channel type")
    path: str = Field(description="File to append JSON lines to")


class ConsoleChannel(StrictModel):
    """Print each alert to the worker's standard output."""

    type: Literal["console"] = Field(description="Channel type")


Channel = Annotated[
    EmailChannel | AppriseChannel | OutboxChannel | ConsoleChannel, Field(discriminator="type")
]


class Route(StrictModel):
    """Which topics go to which channels."""

    id: str = Field(pattern=ID_PATTERN, description="Unique route id (part of the idempotency key)")
    topics: list[str] = Field(min_length=1, description="Topic ids from keywords.yaml, or '*' for all")
    channels: list[str] = Field(min_length=1, description="Channel ids from `channels`")


class RetrySettings(StrictModel):
    """How often and how late a failed delivery is retried (RQ Retry)."""

    max: int = Field(default=50, ge=1, le=1000, description="Retries after the first attempt")
    intervals: list[Annotated[int, Field(ge=0, le=86400)]] = Field(
        default_factory=lambda: [5, 15, 30, 60, 120, 300, 600],
        min_length=1,
        description="Seconds before each retry; the last value repeats",
    )

    def waits(self) -> list[int]:
        """The wait before each of the `max` retries (the last interval repeated), as RQ's Retry takes it:
        given fewer intervals than retries, RQ repeats the *first* one."""
        return [*self.intervals, *[self.intervals[-1]] * max(0, self.max - len(self.intervals))][:self.max]

    def window_seconds(self) -> int:
        """How long after its first attempt a delivery is still retried."""
        return sum(self.waits())


class QuietHours(StrictModel):
    """Hours (in the desk's time zone) when instant alerts wait for a digest, unless urgent."""

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Start, HH:MM")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="End, HH:MM (may be after midnight)")


class Throttle(StrictModel):
    """At most `max` instant alerts per `window_minutes`; the rest roll into the next digest."""

    max: int = Field(ge=1, description="Instant alerts allowed per window")
    window_minutes: int = Field(default=60, ge=1, le=7 * 1440, description="Length of the window")


class Breaking(StrictModel):
    """When a desk hears that something is happening: a story spreading across outlets, a topic surging."""

    outlets: int = Field(default=3, ge=2, le=50, description="Distinct outlets that make a story breaking")
    minutes: int = Field(
        default=30, ge=1, le=1440, description="... within this many minutes of its first story"
    )
    surge: bool = Field(
        default=True, description="Also alert when a topic's new stories surge over its usual hour"
    )
    urgent: bool = Field(default=False, description="Breaking alerts bypass digests and quiet hours")


class Desk(StrictModel):
    """A desk: who receives which topics, through which channels, instantly or as digests."""

    channels: list[str] = Field(min_length=1, description="Channel ids from `channels`")
    topics: list[str] = Field(min_length=1, description="Topic ids from keywords.yaml, or '*' for all")
    languages: list[Language] | None = Field(
        default=None, description="Only stories in these languages")
    outlets: list[Name] | None = Field(default=None, description="Only stories from these outlets")
    mode: Literal["instant", "digest"] = Field(
        default="instant", description="instant alerts, or digests only"
    )
    digest_schedule: str = Field(
        default="0 8 * * *",
        description="Cron (minute hour day month weekday) of digests in the desk's time zone; in instant "
                    "mode it sends what throttling held back",
    )
    timezone: str = Field(
        default="Asia/Baghdad", description="Time zone of the schedule, quiet hours and times"
    )
    throttle: Throttle | None = Field(default=None, description="Limit on instant alerts")
    quiet_hours: QuietHours | None = Field(default=None, description="Hours without instant alerts")
    breaking: Breaking | None = Field(
        default=None,
        description="Breaking alerts for the desk's topics (none when absent): a story reported by "
        "`outlets` outlets within `minutes`, and topic surges",
    )
    events: bool = Field(
        default=True,
        description="One alert per event and topic: a report of the same happening in another language "
                    "is listed with the first, not alerted again (false: one alert per story cluster)")
    gloss: Language | None = Field(
        default=None, description="Add a machine translation of each headline into this language (under the "
                                  "original; needs newsmon.yaml's translate.backend)")
    gloss_snippets: bool = Field(default=False, description="... and of the snippets")
    transliterate: Literal["latin"] | None = Field(
        default=None, description="latin: Sorani headlines also in Kurdish Latin letters (no engine needed)")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

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
        # imported here: APScheduler's cron loads only for configs with digest schedules
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a cron schedule (minute hour day month weekday): {exc}") from exc
        return value


class AdminSettings(StrictModel):
    """Health alerts for admins: where they go and when a condition counts as a problem."""

    channels: list[str] = Field(default_factory=list, description="Channel ids that receive health alerts")
    silent_after_intervals: float = Field(
        default=10, gt=0, description="A source is silent after this many poll intervals without success")
    failures: int = Field(default=5, ge=1, description="Consecutive failed polls that make a source failing "
                                                        "even before failing_after_minutes")
    failing_after_minutes: float = Field(
        default=30, gt=0, description="A source whose polls have failed for longer than this is failing "
                                      "(a source that never succeeded is failing from its first failed poll)")
    backlog_seconds: int = Field(
        default=600, ge=1, description="A queue whose oldest job waits longer is stuck"
    )
    scheduler_stale_seconds: int = Field(
        default=90, ge=10, description="A scheduler silent this long is down"
    )
    startup_grace_seconds: int = Field(
        default=60,
        ge=0,
        description="After a start, missing workers or scheduler are not problems for this long",
    )
    retrying_minutes: int = Field(
        default=15,
        ge=1,
        le=1440,
        description="A channel with retries and no delivery over this many minutes keeps retrying",
    )
    delivery_failures: int = Field(
        default=3, ge=1, le=1000,
        description="A channel whose last this many attempts all failed, the latest within "
                    "retrying_minutes, is failing (at once, not after retrying_minutes)",
    )
    restarts: int = Field(default=3, ge=1, description="Role exits within 10 minutes that make it restarting")


class AlertsFile(StrictModel):
    """Contents of alerts.yaml."""

    smtp: SmtpSettings | None = Field(default=None, description="SMTP server, needed by email channels")
    channels: dict[Annotated[str, Field(pattern=ID_PATTERN)], Channel] = Field(
        description="Channels keyed by id"
    )
    desks: dict[Annotated[str, Field(pattern=ID_PATTERN)], Desk] = Field(
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
