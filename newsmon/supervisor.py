"""`newsmon run`: start scheduler, crawler and workers as child processes and stop them together."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

STOP_GRACE = 15.0
RESTART_DELAY = 2.0


@dataclass
class Child:
    """One role process."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    """Runs role processes, restarts one that dies, and stops all on SIGINT/SIGTERM."""

    def __init__(self, config_dir: Path, env: dict[str, str], workers: int = 1, log_level: str = "INFO",
                 stdout: int | None = None) -> None:
        base = [sys.executable, "-m", "newsmon", "--log-level", log_level, "--config-dir", str(config_dir)]
        self.children = [Child("scheduler", [*base, "scheduler"]), Child("crawler", [*base, "crawler"])]
        self.children += [Child(f"worker-{i + 1}", [*base, "worker"]) for i in range(workers)]
        self.env = env
        self.stdout = stdout
        self.stopping = False

    def start(self) -> None:
        """Start every child."""
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=self.env, stdout=self.stdout, stderr=self.stdout,
                                         start_new_session=True)
        child.started = time.monotonic()
        log.info("started %s pid=%d", child.name, child.process.pid)

    def check(self) -> None:
        """Restart children that died (not while stopping)."""
        for child in self.children:
            if self.stopping or child.process is None or child.process.poll() is None:
                continue
            code = child.process.returncode
            if time.monotonic() - child.started < RESTART_DELAY:
                continue
            child.restarts += 1
            log.error("%s exited with code %s; restarting (restart %d)", child.name, code, child.restarts)
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


def child_env(redis_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of role processes: ours, with REDIS_URL pointing at the shared Redis."""
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env.update(extra or {})
    return env
