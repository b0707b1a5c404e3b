"""A role's heartbeat on local disk, read by `newsmon healthcheck`: the health check of a container.

A container's health check runs as a separate process beside the role, and a role's heartbeats in Redis
do not say which process wrote them in a way that survives scaling (every container of a service runs
the same command). So each long-running role, when NEWSMON_HEALTH_FILE names a file (the image sets it),
writes that file whenever its own heartbeat reached Redis: the worker every JOB_BEAT seconds after a
ping, the crawler with its `crawler_alive` key, the scheduler after renewing or trying the leader lease.
The web role writes its /healthz address once; the check asks it.

Without NEWSMON_HEALTH_FILE nothing is written and nothing costs anything.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HEALTH_FILE_ENV = "NEWSMON_HEALTH_FILE"
# seconds after which a role's last heartbeat on disk means it is stuck or cut off from Redis: a few of
# its beats (worker and crawler every 5 s, the scheduler every 10 s)
STALE_AFTER = {"worker": 30.0, "crawler": 30.0, "scheduler": 45.0}


def beat(role: str, **details: Any) -> None:
    """Record that `role` is alive now (atomically: the check never reads half a file)."""
    path = os.environ.get(HEALTH_FILE_ENV)
    if not path:
        return
    record = {"role": role, "pid": os.getpid(), "at": time.time(), **details}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        Path(tmp).write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full disk must not stop the role; the check then says the beat is old


def clear() -> None:
    """Remove the heartbeat a previous process left (a restarted container keeps its /tmp): the check
    fails until this process has reached Redis itself."""
    path = os.environ.get(HEALTH_FILE_ENV)
    if path:
        Path(path).unlink(missing_ok=True)


def check(path: str | None = None, now: float | None = None, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether the role that writes `path` (default: NEWSMON_HEALTH_FILE) is alive, and one line why."""
    path = path or os.environ.get(HEALTH_FILE_ENV)
    if not path:
        return False, f"{HEALTH_FILE_ENV} is not set: no role here writes a heartbeat to check"
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False, f"no heartbeat in {path} yet: the role has not reached Redis since it started"
    except (OSError, ValueError) as exc:
        return False, f"heartbeat file {path} unreadable: {exc}"
    role = str(record.get("role"))
    if role == "web":
        return _ask_web(str(record.get("url")), timeout)
    age = (time.time() if now is None else now) - float(record.get("at", 0))
    limit = STALE_AFTER.get(role, 30.0)
    if age > limit:
        return False, f"{role} pid {record.get('pid')}: last heartbeat {age:.0f} s ago (limit {limit:.0f} s)"
    return True, f"{role} pid {record.get('pid')}: heartbeat {age:.0f} s ago"


def _ask_web(url: str, timeout: float) -> tuple[bool, str]:
    """The web role's own /healthz: 200 healthy or degraded, 503 unhealthy (its body says why)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # the role's own loopback URL
            return True, f"web {url}: {response.read(200).decode('utf-8', 'replace').splitlines()[0]}"
    except urllib.error.HTTPError as exc:
        lines = exc.read(400).decode("utf-8", "replace").splitlines()
        return False, f"web {url}: HTTP {exc.code} {' '.join(lines[:3])}"
    except (OSError, ValueError) as exc:
        return False, f"web {url}: {exc}"
