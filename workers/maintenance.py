"""Jobs of the `process` queue that keep the archive: retention and the delivery log. The scheduler
enqueues them on their intervals (newsmon.scheduler.periodic); the workers own the archive."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from newsmon import jobcontext
from newsmon.workers.archive import drain_delivery_log as drain
from newsmon.workers.archive import shared_archive

log = logging.getLogger(__name__)


def prune_archive() -> int:
    """Job entry point: delete the stories older than `pipeline.archive.retention_days` (none when 0).
    Returns how many were deleted."""
    ctx = jobcontext.current()
    days = ctx.config.pipeline.archive.retention_days or 0
    if not days:
        return 0
    removed = shared_archive(ctx.archive_url).prune(datetime.now(UTC) - timedelta(days=days))
    if removed:
        log.info("archive retention: %d stories older than %d days deleted", removed, days)
    return removed


def drain_delivery_log() -> int:
    """Job entry point: move what the alerts role logged (deliveries, holds, refusals) into the archive.
    Returns how many rows moved."""
    ctx = jobcontext.current()
    try:
        return drain(ctx.redis, shared_archive(ctx.archive_url))
    except Exception as exc:  # noqa: BLE001 - the rows stay in Redis for the next run
        log.warning("delivery log not moved into the archive (kept in Redis): %s: %s", type(exc).__name__,
                    str(exc)[:300])
        return 0
