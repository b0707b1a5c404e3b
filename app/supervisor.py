"""`newsmon run`: start scheduler, crawler and workers as child processes and stop them together.

A role that dies is restarted after a delay that doubles while it keeps dying (2 s up to a minute) and
goes back to 2 s once it has run for a minute. Every exit is logged with the role and its exit code,
and recorded in Redis (`keys.ROLES`) so that `newsmon status` can report a role that keeps restarting.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from newsmon import keys
from newsmon.redis_conn import death_signal

log = logging.getLogger(__name__)

STOP_GRACE = 15.0
RESTART_DELAY = 2.0
RESTART_DELAY_MAX = 60.0
STABLE_AFTER = 60.0  # a role that ran this long has its restart delay reset
EXITS_KEPT = 20


@dataclass
class Child:
    """One role process."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = field(default_factory=time.monotonic)
    delay: float = RESTART_DELAY
    died_at: float | None = None
    exits: list[list[float]] = field(default_factory=list)


class Supervisor:
    """Runs role processes, restarts one that dies, and stops all on SIGINT/SIGTERM."""

    def __init__(self, config_dir: Path, env: dict[str, str], workers: int = 1, log_level: str = "INFO",
                 stdout: int | None = None, redis_conn: redis.Redis | None = None) -> None:
        base = [sys.executable, "-m", "newsmon", "--log-level", log_level, "--config-dir", str(config_dir)]
        self.children = [Child("scheduler", [*base, "scheduler"]), Child("crawler", [*base, "crawler"])]
        self.children += [Child(f"worker-{i + 1}", [*base, "worker"]) for i in range(workers)]
        self.env = env
        self.stdout = stdout
        self.stopping = False
        self.redis = redis_conn
        self.host = socket.gethostname()

    def start(self) -> None:
        """Start every child."""
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        # a session of its own (Ctrl-C reaches the supervisor, which stops the roles in order), and SIGTERM
        # from the kernel if the supervisor dies without stopping them (SIGKILL, OOM)
        child.process = subprocess.Popen(child.argv, env=self.env, stdout=self.stdout, stderr=self.stdout,
                                         start_new_session=True,
                                         preexec_fn=death_signal())  # noqa: PLW1509 - one prctl call
        child.started = time.monotonic()
        child.died_at = None
        log.debug("started %s pid=%d", child.name, child.process.pid)
        self._record(child)

    def _record(self, child: Child) -> None:
        if self.redis is None or child.process is None:
            return
        record = {"role": child.name, "host": self.host, "pid": child.process.pid, "restarts": child.restarts,
                  "exits": child.exits[-EXITS_KEPT:], "supervisor": os.getpid(), "at": time.time()}
        try:
            self.redis.hset(keys.ROLES, f"{self.host}:{child.name}", json.dumps(record))
        except redis.RedisError as exc:
            log.debug("could not record %s in Redis: %s", child.name, exc)

    def check(self) -> None:
        """Notice children that died and restart them after their delay (not while stopping)."""
        now = time.monotonic()
        for child in self.children:
            if self.stopping or child.process is None or child.process.poll() is None:
                if (
                    child.process is not None
                    and child.process.poll() is None
                    and now - child.started > STABLE_AFTER
                ):
                    child.delay = RESTART_DELAY
                continue
            if child.died_at is None:
                child.died_at = now
                _kill_group(child.process.pid)  # what it forked (RQ's scheduler process) goes with it
                code = child.process.returncode
                child.exits.append([round(time.time(), 3), code])
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                log.error(
                    "%s (pid %d) %s; restarting in %.0f s", child.name, child.process.pid, how, child.delay
                )
                self._record(child)
            if now - child.died_at < child.delay:
                continue
            child.restarts += 1
            child.delay = min(RESTART_DELAY_MAX, child.delay * 2)
            self._spawn(child)

    def stop(self) -> None:
        """SIGTERM every child, wait for them, SIGKILL what is left after the grace period."""
        self.stopping = True
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s; killing it", child.name, STOP_GRACE)
                child.process.kill()
                child.process.wait()
            _kill_group(child.process.pid)
        if self.redis is not None:
            try:
                self.redis.hdel(keys.ROLES, *[f"{self.host}:{c.name}" for c in self.children])
            except redis.RedisError:
                pass
        log.info("all roles stopped")

    def run_forever(self) -> None:
        """Supervise until SIGINT or SIGTERM."""
        received: list[int] = []

        def on_signal(signum: int, _frame: object) -> None:
            received.append(signum)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        self.start()
        try:
            while not received:
                self.check()
                time.sleep(0.5)
        finally:
            self.stop()


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a role's process group (each role runs in a session of its own)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def child_env(redis_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of role processes: ours, with REDIS_URL pointing at the shared Redis."""
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env.update(extra or {})
    return env
