"""Redis key names and queue names shared by every role (`newsmon:<area>:<id>`)."""

PROCESS_QUEUE = "process"
ALERTS_QUEUE = "alerts"
# the `process` queue's jobs, as the crawler enqueues them and a worker re-enqueues a story alone
PROCESS_BATCH_JOB = "newsmon.workers.jobs.process_stories"  # the stories of one poll, up to PROCESS_BATCH
PROCESS_STORY_JOB = "newsmon.workers.jobs.process_story"
# the `alerts` queue's jobs, as the workers hand stories on and the alerts role enqueues its own
DECIDE_JOB = "newsmon.alerts.decide.decide_stories"  # a batch's processed stories: every decision about desks
ROUTE_STORY_JOB = "newsmon.alerts.jobs.route_story"  # a story's alert per desk: now, or held for a digest
DELIVER_JOB = "newsmon.alerts.jobs.deliver"  # one delivery through one channel
SEND_DIGEST_JOB = "newsmon.alerts.jobs.send_digest"  # a desk's held stories up to a slot
# the scheduler's periodic jobs that are another role's work (newsmon.scheduler.periodic lists them)
DIGEST_TICK_JOB = "newsmon.alerts.jobs.digests_due"  # start the digests that are due
NOTIFY_ADMINS_JOB = "newsmon.alerts.jobs.notify_admins"  # a health problem started or cleared
PRUNE_ARCHIVE_JOB = "newsmon.workers.maintenance.prune_archive"  # archive retention
DRAIN_DELIVERY_LOG_JOB = "newsmon.workers.maintenance.drain_delivery_log"  # the delivery log into the archive
# every job name, with its queue: a job runs in the role that owns its queue (tests/test_cli.py checks it)
JOBS = {PROCESS_BATCH_JOB: PROCESS_QUEUE, PROCESS_STORY_JOB: PROCESS_QUEUE, PRUNE_ARCHIVE_JOB: PROCESS_QUEUE,
        DRAIN_DELIVERY_LOG_JOB: PROCESS_QUEUE, DECIDE_JOB: ALERTS_QUEUE, ROUTE_STORY_JOB: ALERTS_QUEUE,
        DELIVER_JOB: ALERTS_QUEUE, SEND_DIGEST_JOB: ALERTS_QUEUE, DIGEST_TICK_JOB: ALERTS_QUEUE,
        NOTIFY_ADMINS_JOB: ALERTS_QUEUE}
# the names jobs had before the roles were installed under `newsmon`: a job an older newsmon left queued
# runs under its new name (newsmon.serializer reads it so)
RENAMED_JOBS = {name.removeprefix("newsmon."): name for name in
                (PROCESS_BATCH_JOB, PROCESS_STORY_JOB, ROUTE_STORY_JOB, DELIVER_JOB, SEND_DIGEST_JOB)}
PROCESS_BATCH = 16
# retries after the first attempt, and the waits before them (s): the first at once, so a job whose worker
# died is run again as soon as it is found (a scheduled retry waits for RQ's scheduler, which can itself
# have died with that worker), then 10 s, 1 and 5 minutes
PROCESS_RETRY = (4, [0, 10, 60, 300])
PROCESS_FAILURE_TTL = 30 * 24 * 3600  # how long a failed story job stays in the failed registry

POLL_HISTORY = 50  # polls kept per source in newsmon:source:<id>:polls
SCHEDULER_LEADER = "newsmon:scheduler:leader"  # expiring leader lock, renewed by the active scheduler
SEEN_TTL = 30 * 24 * 3600
ALERT_SENT_TTL = 30 * 24 * 3600


def poll_requests(kind: str) -> str:
    """List of PollRequest JSON for the spider of one source kind; lives until consumed."""
    return f"newsmon:crawl:requests:{kind}"


def poll_history(source_id: str) -> str:
    """The source's latest polls (JSON, newest first), capped at POLL_HISTORY; kept for source health."""
    return f"newsmon:source:{source_id}:polls"


def poll_lock(source_id: str) -> str:
    """Held while a poll of the source is requested or running; expires if a crawler dies."""
    return f"newsmon:poll:lock:{source_id}"


POLLS_RUNNING = "newsmon:poll:running"  # hash source id -> JSON {token, crawler, at} of polls a crawler took
CRAWLER_BEAT = 5  # seconds between a crawler's heartbeats
CRAWLER_TTL = 15  # a crawler silent this long is dead: the polls it took are released


def crawler_alive(identity: str) -> str:
    """Set while a crawler process lives (expires CRAWLER_TTL seconds after its last heartbeat)."""
    return f"newsmon:crawler:{identity}:alive"


def source_state(source_id: str) -> str:
    """Hash of per-source health and conditional-GET validators; kept for good (source health)."""
    return f"newsmon:source:{source_id}"


def seen_entries(source_id: str) -> str:
    """Sorted set of feed entries already taken (score = time); trimmed to SEEN_TTL."""
    return f"newsmon:seen:{source_id}"


def entry_failures(source_id: str) -> str:
    """Hash of entry key -> failed fetch attempts, so a broken article is not retried forever."""
    return f"newsmon:entryfail:{source_id}"


def cluster_alert(route_id: str, cluster_id: str, topic: str) -> str:
    """Claim that a route heard about a topic of a story cluster; expires with the dedupe window."""
    return f"newsmon:alert:cluster:{route_id}:{cluster_id}:{topic}"


def alert_sent(idempotency_key: str) -> str:
    """Delivery claim of one alert; expires after ALERT_SENT_TTL."""
    return f"newsmon:alert:sent:{idempotency_key}"


def explain(story_id: str) -> str:
    """Hash desk -> routing decision (JSON) of a story, for `newsmon explain`; kept for the dedupe window."""
    return f"newsmon:explain:{story_id}"


ROLES = (
    "newsmon:roles"  # hash "<host>:<role>" -> JSON {pid, restarts, exits: [[at, code]...]}, by supervisors
)
STARTING = "newsmon:system:starting"  # set (NX, expiring) by the first role to start: the start-up grace
CONFIG_REFUSED = "newsmon:config:refused"  # hash "<host>:<pid>" -> JSON {version, error, at} of workers


BREAKING_TTL = 2 * 24 * 3600  # a cluster's sightings and fired events are kept this long
SURGE_DAYS = 14  # days of hourly counts a topic's usual hour is computed from


def breaking_sightings(cluster_id: str) -> str:
    """Hash outlet -> its first story in the cluster (a Sighting as JSON, with `ts` for comparing)."""
    return f"newsmon:breaking:{cluster_id}:sightings"


def breaking_fired(desk_id: str, event_key: str) -> str:
    """Set once when a breaking event is handed on to a desk (SET NX: one alert whatever the workers)."""
    return f"newsmon:breaking:fired:{desk_id}:{event_key}"


def surge_recent(topic: str) -> str:
    """Sorted set of the topic's new clusters (score = time), trimmed to the last hour."""
    return f"newsmon:surge:{topic}:recent"


def surge_hour(topic: str, hour: int) -> str:
    """Count of the topic's new clusters in one hour (hours since the epoch), kept SURGE_DAYS + 1 days."""
    return f"newsmon:surge:{topic}:hour:{hour}"


def surge_active(topic: str) -> str:
    """Set while the topic surges (value: when it started, epoch seconds)."""
    return f"newsmon:surge:{topic}:active"


BREAKING_EVENTS = (
    "newsmon:breaking:events"  # sorted set of recent events (JSON, score = time), for the web page
)


# --- keys the kernel's own modules and the roles share (kept here so each is written once) ----------

STATS_PREFIX = "newsmon:stats"  # per-minute counters: newsmon:stats:<name>:<minute> (newsmon/stats.py)
CONFIG_VERSION = "newsmon:config:version"  # JSON {version, at}; kept for good (the deployed config)
CONFIG_FILES = "newsmon:config:files"  # JSON {version, files: {name: base64}}: the published bytes
SCHEDULER_HANDED_TTL = 86400


def scheduler_handed(name: str) -> str:
    """The id of the job a periodic entry of the scheduler last handed to another role."""
    return f"newsmon:scheduler:handed:{name}"


SCHEDULER_HEARTBEAT = "newsmon:scheduler:heartbeat"  # JSON written by the leading scheduler; expires
DEDUPE_PREFIX = "newsmon:dedupe"  # newsmon:dedupe:<generation>:<shard> (workers/dedupe.py)
# events (workers/events.py): newsmon:events:report:<story> JSON, :recent zset and :key:<evidence> zset of
# stories by time, :cluster:<cluster> -> event, :members:<event> set of stories; all expire after two windows
EVENTS_PREFIX = "newsmon:events"


def event_reports(event: str) -> str:
    """Hash story -> JSON of an event's reports handed to the alerts role (alerts/events.py)."""
    return f"newsmon:event:{event}:reports"
HEALTH_ACTIVE = "newsmon:health:active"  # hash problem id -> JSON; lives as long as the problem (admin state)
HEALTH_LOCK = "newsmon:health:lock"
HEALTH_CHECKED = "newsmon:health:checked"  # hash {at, checks}: the last health evaluation and how many so far
# list of JSON rows of deliveries, holds and refusals waiting to be moved into the archive (deliverylog.py)
DELIVERY_LOG = "newsmon:deliveries:log"
# hash: failing_since, failures, last_error, last_failure, last_success of archive writes (newsmon/status.py)
ARCHIVE_HEALTH = "newsmon:archive:health"



def channel_health(channel_id: str) -> str:
    """Hash of a channel's delivery attempts: consecutive_failures, failing_since, last_failure, last_error,
    last_success (kept for good: it is the channel's state)."""
    return f"newsmon:channel:{channel_id}:health"


def desk_held(desk_id: str) -> str:
    """Sorted set of story alerts waiting for the desk's next digest (score = time held)."""
    return f"newsmon:desk:{desk_id}:held"


def desk_last_digest(desk_id: str) -> str:
    """The slot of the desk's last digest (epoch seconds)."""
    return f"newsmon:desk:{desk_id}:last_digest"


def desk_instant(desk_id: str) -> str:
    """Sorted set of the desk's recent instant alerts (score = time), for its throttle."""
    return f"newsmon:desk:{desk_id}:instant"


def explain_field(desk_id: str, breaking: bool = False) -> str:
    """The field of a story's explain hash that holds what routing did for a desk (its breaking alert
    apart from its own alert)."""
    return f"{desk_id}:breaking" if breaking else desk_id


def freshness(source_id: str, stage: str) -> str:
    """Sorted set of a source's delays at a stage (`seen`, `alert`): score = when, member =
    `story|published|delay`; a week of them (newsmon/freshness.py)."""
    return f"newsmon:fresh:{source_id}:{stage}"


def freshness_alerted(story_id: str) -> str:
    """Set once the story's first alert went out: later deliveries of it are not delay samples."""
    return f"newsmon:fresh:alerted:{story_id}"


def source_profile(source_id: str) -> str:
    """Hash of a source's posting profile: `n<h>` new stories and `h<h>` hours observed in each hour of
    the week, decay-weighted (newsmon/profile.py)."""
    return f"newsmon:profile:{source_id}"


def host_polls(host: str) -> str:
    """Sorted set of the polls requested of one host in the last hour (member: poll id, score: when), so
    adaptive polling never asks a host more often than `scheduler.host_polls_per_hour`."""
    return f"newsmon:host:{host}:polls"


def websub(source_id: str) -> str:
    """Hash of a source's WebSub state: the hub and topic its feed names, the subscription (secret, state,
    lease) and its pushes (newsmon/websub.py)."""
    return f"newsmon:websub:{source_id}"


WEBSUB_SOURCES = "newsmon:websub-sources"  # set: source ids with a WebSub hash (the gone are unsubscribed)
WEBSUB_PUSHED = "newsmon:websub:pushed"  # list of source ids whose hub pinged; the scheduler polls them
