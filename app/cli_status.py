"""`newsmon status` and `newsmon failed`: the admin's view of a running newsmon."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from newsmon.redis_conn import connect
from newsmon.settings import Runtime


def add_parser(commands: Any) -> None:
    """Register `status` and `failed`."""
    status = commands.add_parser(
        "status",
        help="queues, workers, scheduler, sources, deliveries; exit 0 healthy, 1 degraded, 2 unhealthy or "
             "nothing running",
    )
    status.add_argument("--json", action="store_true", help="stable JSON for scripts")
    failed = commands.add_parser("failed", help="jobs that failed after their last retry")
    failed.add_argument("action", choices=["list", "requeue", "purge"], help="list, requeue or delete them")
    failed.add_argument("--queue", default=None, help="only this queue (process or alerts)")


def duration(seconds: float | None) -> str:
    """A duration as people read it in a table: 45s, 12m, 3h, 2d ("-" for none)."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def delay(fresh: dict[str, Any]) -> str:
    """The last day's publication → first-seen delay, p50/p95, or why there is none."""
    if fresh["clock"]:
        return "clock off"
    day = fresh["seen"]["day"]
    return f"{duration(day['p50'])}/{duration(day['p95'])}" if day["n"] else "-"


def print_status(status: dict[str, Any], out: TextIO) -> None:
    """The status as tables for people."""
    now = status["at"]
    level = status["level"]
    out.write(f"newsmon status: {level if level == 'healthy' else level.upper()}")
    # the start-up grace is news only while a worker or the scheduler has yet to report
    if status.get("starting_seconds_left") and (not status["workers"] or not status["scheduler"]["alive"]):
        out.write(f" (starting: workers and scheduler have {status['starting_seconds_left']} s to report in)")
    out.write("\n\nqueues\n")
    out.write(
        f"  {'queue':<8} {'depth':>6} {'oldest':>7} {'in/min':>7} {'out/min':>8} {'running':>8} "
        f"{'failed':>7}\n"
    )
    out.writelines(
        f"  {name:<8} {q['depth']:>6} {duration(q['oldest_age_seconds']):>7} {q['in_per_minute']:>7} "
        f"{q['out_per_minute']:>8} {q['started']:>8} {q['failed']:>7}\n"
        for name, q in status["queues"].items()
    )
    out.write("\nworkers\n")
    if not status["workers"]:
        out.write("  no worker alive\n")
    out.writelines(
        f"  {w['host']}:{w['pid']} {','.join(w['queues'])} {w['state']} "
        f"job={w['current_job'] or '-'} heartbeat {duration(w['last_heartbeat_age_seconds'])} ago\n"
        for w in status["workers"]
    )
    scheduler = status["scheduler"]
    age = scheduler["heartbeat_age_seconds"]
    heartbeat = f", heartbeat {duration(age)} ago" if scheduler["alive"] else ""
    checked = scheduler.get("health_checked_age_seconds")
    health = f", health checked {duration(checked)} ago" if checked is not None else ""
    out.write(
        f"\nscheduler: {'alive' if scheduler['alive'] else 'NOT RUNNING'}"
        f"{', leader ' + scheduler['leader'] if scheduler['leader'] else ''}{heartbeat}{health}\n"
    )
    out.write(
        f"\nsources\n  {'id':<22} {'status':<10} {'last poll':>9} {'success':>8} {'new':>8} {'fails':>5} "
        f"{'backoff':>7} {'delay p50/p95':>13} failure\n"
    )
    for s in status["sources"]:
        if not s["enabled"]:
            continue

        def age(value: float | None) -> str:
            return duration(now - value) if value else "-"

        out.write(
            f"  {s['id']:<22} {s['status'] or 'never':<10} {age(s['last_poll']):>9} "
            f"{age(s['last_success']):>8} "
            f"{age(s['last_new_story']):>8} {s['consecutive_failures']:>5} "
            f"{duration(s['backoff_remaining_seconds']) if s['backoff_remaining_seconds'] else '-':>7} "
            f"{delay(s['freshness']):>13} {s['failure'] or ''}\n"
        )
    pushed = [s for s in status["sources"] if s["enabled"] and s.get("websub")]
    if pushed:
        out.write("\nWebSub (pushed sources are polled at the fallback interval meanwhile)\n")
        for s in pushed:
            w = s["websub"]
            lease = (f"lease ends in {duration(w['expires_at'] - now)}" if w["pushed"] and w["expires_at"]
                     else "")
            last = f"last push {duration(now - w['last_push'])} ago" if w["last_push"] else "no push yet"
            rejected = (f", {w['rejected']} refused ({w['rejected_reason']})" if w["rejected"] else "")
            error = f"; {w['error']}" if w["error"] and not w["pushed"] else ""
            out.write(f"  {s['id']:<22} {w['state']:<10} {last}, {w['pushes']} push(es){rejected}"
                      f"{'; ' + lease if lease else ''}{error}\n")
    out.write("\ndeliveries (last 24 h)\n")
    out.writelines(
        f"  {channel:<20} sent {d['sent_24h']:>5}  retried {d['retried_24h']:>5}  failed {d['failed']:>4}\n"
        for channel, d in status["deliveries"].items()
    )
    t = status.get("translation") or {}
    if t.get("backend", "none") != "none":
        mean = f", {t['mean_ms']:.0f} ms a call" if t["mean_ms"] is not None else ""
        out.write(f"\nglosses by {t['engine']} ({t['backend']}, last 24 h): "
                  f"translated {t['translated_24h']}, from the cache {t['cached_24h']}, "
                  f"failed {t['failed_24h']}{mean}\n")
    if status.get("roles"):
        out.write("\nroles (newsmon run)\n")
        out.writelines(
            f"  {r['name']:<28} pid {r['pid']}  restarts {r['restarts']}  exits in 10 min {r['exits_10m']}"
            f"{'  last code ' + str(r['last_exit_code']) if r['last_exit_code'] is not None else ''}\n"
            for r in status["roles"]
        )
    out.write("\nproblems\n" if status["problems"] else "\nno problems\n")
    out.writelines(f"  [{problem['level']}] {problem['kind']}: {problem['message']}\n"
                   for problem in status["problems"])


EXIT_CODES = {"healthy": 0, "degraded": 1, "unhealthy": 2}


def run(args: argparse.Namespace, config_dir: Path, runtime: Runtime, out: TextIO = sys.stdout) -> int:
    """Run `status` or `failed`; returns the exit code (status: 0 healthy, 1 degraded, 2 unhealthy)."""

    conn = connect(runtime.redis_url, runtime.data_dir)
    if args.command == "status":
        # imported here: RQ loads only for the commands that read the queues
        from newsmon.app.configs import config_validator, explicit_config
        from newsmon.status import collect, load_for_status

        follow = not explicit_config(args)  # else the running system's published config
        config, error = load_for_status(config_dir, conn, config_validator(), follow=follow)
        status = collect(config, conn, time.time(), config_error=error)
        if args.json:
            out.write(json.dumps(status, ensure_ascii=False, default=str) + "\n")
        else:
            print_status(status, out)
        return EXIT_CODES[status["level"]]
    return _failed(args, conn, out)


def error_summary(traceback: str) -> str:
    """The exception line of a traceback (not the notes some libraries print after it)."""
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if not line.startswith(" ") and re.match(r"^[\w.]+(Error|Exception|Exit)\b", line):
            return line[:300]
    return lines[-1][:300] if lines else "no error recorded"


def print_failed(conn: Any, queue: str, action: str, out: TextIO, heading: str, indent: str = "") -> None:
    """The jobs of one queue that failed after their last retry, each with its error (what `failed list`
    and `alerts failed` print); `action` requeue or purge acts on each, list only prints."""
    # imported here: RQ loads only for the commands that read the queues
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    from newsmon.serializer import JobSerializer

    registry = FailedJobRegistry(queue=Queue(queue, connection=conn, serializer=JobSerializer))
    ids = registry.get_job_ids()
    out.write(heading.format(count=len(ids), queue=queue) + "\n")
    for job_id in ids:
        job = Job.fetch(job_id, connection=conn, serializer=JobSerializer)
        result = job.latest_result()
        error = (result.exc_string if result and result.exc_string else "").strip()
        out.write(f"{indent}{job_id}  {job.description}\n{indent}    {error_summary(error)}\n")
        if action == "requeue":
            registry.requeue(job_id)
            out.write(f"{indent}    requeued\n")
        elif action == "purge":
            registry.remove(job, delete_job=True)
            out.write(f"{indent}    deleted\n")


def _failed(args: argparse.Namespace, conn: Any, out: TextIO) -> int:
    # imported here: RQ loads only for the commands that read the queues
    from newsmon.status import QUEUES

    for name in [args.queue] if args.queue else QUEUES:
        print_failed(conn, name, args.action, out, "{queue}: {count} failed", indent="  ")
    return 0
