"""Runs the worker role: an RQ worker (JSON serializer) on the `process` and `alerts` queues."""

from __future__ import annotations

import logging

import redis
from rq import Queue, SimpleWorker

from newsmon import jobcontext, keys
from newsmon.memory import settle_heap
from newsmon.serializer import JobSerializer, StoredJob
from newsmon.settings import Config
from workers.jobs import matcher_for

log = logging.getLogger(__name__)

# How often a worker looks for jobs abandoned by dead workers (RQ's default is 10 minutes); a job's
# heartbeat lapses about 90 s after its worker died, so a lost job is retried within about 2.5 minutes.
MAINTENANCE_INTERVAL = 60


def run_worker(config: Config, conn: redis.Redis, archive_url: str, queues: list[str] | None = None,
               burst: bool = False) -> None:
    """Work on the queues until stopped (or until empty with `burst`).

    SimpleWorker runs jobs in this process: the compiled matcher and the archive connection are built
    once instead of per fork, and a job costs about 4 ms of overhead instead of 12. A worker killed
    mid-job leaves the job in RQ's started registry; RQ's maintenance retries it from there.
    """
    matcher_for(config)  # compile now: a bad alias stops the worker at start, not at its first story
    jobcontext.install(
        jobcontext.JobContext(config=config, redis=conn, archive_url=archive_url, validate=matcher_for)
    )
    if jobcontext.published_version(conn) is None:
        jobcontext.publish(conn, config)  # the first worker of a system deploys what it loaded
    names = queues or [keys.PROCESS_QUEUE, keys.ALERTS_QUEUE]
    worker = SimpleWorker(
        [Queue(name, connection=conn, serializer=JobSerializer, job_class=StoredJob) for name in names],
        connection=conn,
        serializer=JobSerializer,
        job_class=StoredJob,
        maintenance_interval=MAINTENANCE_INTERVAL,
        worker_ttl=config.pipeline.workers.heartbeat_ttl,
    )
    log.info("worker %s on queues %s", worker.name, names)
    # RQ sets its own loggers' level from this: at the default level its per-job lines are noise
    rq_level = logging.getLogger("rq").getEffectiveLevel()
    settle_heap()
    worker.work(burst=burst, with_scheduler=True, logging_level=logging.getLevelName(rq_level))
