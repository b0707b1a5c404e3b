"""Runs the worker role: an RQ worker (JSON serializer) on the `process` and `alerts` queues."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from newsmon import jobcontext, keys, probe
from newsmon.liveconfig import published_version
from newsmon.memory import settle_heap
from newsmon.serializer import JobSerializer, StoredJob
from newsmon.settings import Config
from newsmon.workers.matcher import matcher_for

log = logging.getLogger(__name__)

# How often a worker looks for jobs abandoned by dead workers (RQ's default is 10 minutes). A running job's
# entry in RQ's started registry is renewed every JOB_BEAT seconds to live JOB_TTL seconds (RQ itself gives
# a SimpleWorker's job its whole timeout + 60 s, 4 minutes), so a job whose worker died is found within
# JOB_TTL + MAINTENANCE_INTERVAL (45 s) and retried after its retry wait (10 s for a process batch).
MAINTENANCE_INTERVAL = 15
JOB_BEAT = 5
JOB_TTL = 30


class NewsmonWorker(SimpleWorker):
    """RQ's SimpleWorker whose running job lives JOB_TTL seconds in the started registry unless renewed
    (RQ gives a SimpleWorker's job its timeout + 60 s); _beat_running_job renews it."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return JOB_TTL


def _beat_running_job(worker: SimpleWorker, conn: redis.Redis, stop: threading.Event) -> None:
    """Keep the running job's started-registry entry alive for JOB_TTL seconds while this process lives,
    and say on disk that the worker reaches Redis (probe.beat, for a container's health check)."""
    while not stop.wait(JOB_BEAT):
        try:
            execution = worker.execution
            job = worker.get_current_job() if execution is not None else None
            if execution is None or job is None:
                conn.ping()
                probe.beat("worker", name=worker.name)
                continue
            registry = StartedJobRegistry(job.origin, connection=conn, serializer=JobSerializer)
            with conn.pipeline() as pipe:
                execution.heartbeat(registry, JOB_TTL, pipe)
                worker.heartbeat(JOB_TTL, pipeline=pipe)
                pipe.execute()
            probe.beat("worker", name=worker.name)
        except redis.RedisError as exc:
            log.warning("job heartbeat skipped: %s", exc)
        except Exception:
            log.exception("job heartbeat failed")


def retire_predecessors(worker: SimpleWorker, conn: redis.Redis) -> list[str]:
    """Unregister workers that had this process's host and pid: they died without saying so (a container
    restarted after SIGKILL gets the same hostname and pid 1), and this process replaces them now rather
    than standing beside them in `status` until their registration expires. Returns their names."""
    retired = []
    for other in Worker.all(connection=conn, serializer=JobSerializer):
        if other.name != worker.name and other.hostname == worker.hostname and other.pid == worker.pid:
            other.register_death()
            retired.append(other.name)
    return retired


def run_worker(config: Config, conn: redis.Redis, archive_url: str, queues: list[str] | None = None,
               burst: bool = False, live: Any = None) -> None:
    """Work on the queues until stopped (or until empty with `burst`).

    SimpleWorker runs jobs in this process: the compiled matcher and the archive connection are built
    once instead of per fork, and a job costs less overhead than a forked one. A worker killed
    mid-job leaves the job in RQ's started registry, where its entry lapses JOB_TTL seconds later (a
    thread renews it while the worker lives); RQ's maintenance, in any live worker, retries it from there.
    """
    matcher_for(config)  # compile now: a bad alias stops the worker at start, not at its first story
    jobcontext.install(
        jobcontext.JobContext(config=config, redis=conn, archive_url=archive_url, validate=matcher_for), live
    )
    if published_version(conn) is None:
        jobcontext.publish(conn, config)  # the first worker of a system deploys what it loaded
    names = queues or [keys.PROCESS_QUEUE, keys.ALERTS_QUEUE]
    worker = NewsmonWorker(
        [Queue(name, connection=conn, serializer=JobSerializer, job_class=StoredJob) for name in names],
        connection=conn,
        serializer=JobSerializer,
        job_class=StoredJob,
        maintenance_interval=MAINTENANCE_INTERVAL,
        worker_ttl=config.pipeline.workers.heartbeat_ttl,
    )
    log.info("worker %s on queues %s", worker.name, names)
    for name in retire_predecessors(worker, conn):
        log.warning("worker %s had this host and pid and is gone: replaced by %s", name, worker.name)
    # RQ sets its own loggers' level from this: at the default level its per-job lines are noise
    rq_level = logging.getLogger("rq").getEffectiveLevel()
    settle_heap()
    stop = threading.Event()
    threading.Thread(target=_beat_running_job, args=(worker, conn, stop), name="newsmon-job-heartbeat",
                     daemon=True).start()
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level=logging.getLevelName(rq_level))
    finally:
        stop.set()
