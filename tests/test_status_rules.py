"""The health rules of `newsmon.status.problems`, on status data built by hand with a driven clock, and
the names of transport failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newsmon.crawler.health import transport_failure
from newsmon.settings import load_config
from newsmon.status import level_of, problems
from tests.conftest import feed_source, write_config

NOW = 1_800_000_000.0


@pytest.fixture
def config(tmp_path: Path):
    sources = [feed_source(f"s{i}", f"http://example.org/{i}", interval=300) for i in range(4)]
    sources.append({**feed_source("off", "http://example.org/off"), "enabled": False})
    return load_config(write_config(tmp_path / "config", sources, {
        "channels": {"mail": {"type": "console"}}, "routes": [],
        "admin": {"failing_after_minutes": 30, "failures": 5, "retrying_minutes": 15, "restarts": 3}}))


def source_row(source_id: str, status: str | None = "ok", last_success: float | None = NOW - 60,
               failing_since: float | None = None, failures: int = 0, failure: str | None = None,
               enabled: bool = True) -> dict[str, Any]:
    return {
        "id": source_id,
        "enabled": enabled,
        "status": status,
        "failure": failure,
        "error": "boom",
        "last_poll": NOW - 10 if status else None,
        "last_success": last_success,
        "failing_since": failing_since,
        "consecutive_failures": failures,
        "polls_total": 3 if status else 0,
        "interval": 300,
    }


def status_of(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    queue = {"depth": 0, "oldest_age_seconds": None, "failed": 0}
    base = {"sources": rows, "queues": {"process": dict(queue), "alerts": dict(queue)},
            "workers": [{"queues": ["process", "alerts"], "host": "h", "pid": 1}],
            "scheduler": {"alive": True, "heartbeat_age_seconds": 1}, "deliveries": {"mail": {}}, "roles": [],
            "config": {"refused": []}, "starting_seconds_left": 0}
    base.update(extra)
    return base


def healthy_rows() -> list[dict[str, Any]]:
    return [source_row(f"s{i}") for i in range(4)] + [source_row("off", status=None, enabled=False)]


def ids(found: list[dict[str, str]]) -> set[str]:
    return {p["id"] for p in found}


def test_a_healthy_system_has_no_problem(config) -> None:
    found = problems(config, status_of(healthy_rows()), NOW)
    assert found == [] and level_of(found) == "healthy"


def test_a_source_fails_after_a_time_bound_not_a_count(config) -> None:
    rows = healthy_rows()
    rows[0] = source_row("s0", status="error", failure="timeout", failures=2, last_success=NOW - 3600,
                         failing_since=NOW - 29 * 60)
    assert problems(config, status_of(rows), NOW) == []  # 29 minutes: not yet
    rows[0]["failing_since"] = NOW - 31 * 60
    found = problems(config, status_of(rows), NOW)
    assert ids(found) == {"source-failing:s0"} and level_of(found) == "degraded"
    assert "timeout" in found[0]["message"]


def test_a_source_that_never_succeeded_is_failing_from_its_first_failed_poll(config) -> None:
    rows = healthy_rows()
    rows[1] = source_row(
        "s1", status="error", failure="dns", failures=1, last_success=None, failing_since=NOW - 5
    )
    found = problems(config, status_of(rows), NOW)
    assert ids(found) == {"source-failing:s1"} and "never succeeded" in found[0]["message"]


def test_every_source_failing_is_one_unhealthy_problem(config) -> None:
    rows = [source_row(f"s{i}", status="error", failure="dns" if i % 2 else "connection", failures=1,
                       last_success=None, failing_since=NOW - 5) for i in range(4)]
    found = problems(config, status_of(rows), NOW)
    assert ids(found) == {"sources-all-failing:sources"} and level_of(found) == "unhealthy"
    assert "connection, dns" in found[0]["message"] and "network down" in found[0]["message"]


def test_most_sources_failing_is_degraded(config) -> None:
    rows = healthy_rows()
    for i in range(3):
        rows[i] = source_row(f"s{i}", status="empty", failure="empty", failures=9, last_success=NOW - 90000,
                             failing_since=NOW - 86000)
    found = problems(config, status_of(rows), NOW)
    assert ids(found) == {"sources-most-failing:sources"} and level_of(found) == "degraded"


def test_stale_is_not_failing(config) -> None:
    rows = healthy_rows()
    rows[2] = source_row("s2", status="stale", failure="stale", failures=40, failing_since=NOW - 90000)
    assert problems(config, status_of(rows), NOW) == []


def test_failed_jobs_and_retrying_deliveries(config) -> None:
    status = status_of(healthy_rows())
    status["queues"]["process"]["failed"] = 15
    status["deliveries"]["mail"] = {"retried_recent": 21, "sent_recent": 0}
    found = problems(config, status, NOW)
    assert ids(found) == {"failed-jobs:process", "delivery-retrying:mail"} and level_of(found) == "degraded"
    status["deliveries"]["mail"]["sent_recent"] = 1  # it retries but gets through: not stuck
    assert ids(problems(config, status, NOW)) == {"failed-jobs:process"}


def test_missing_roles_are_unhealthy_except_in_the_start_up_grace(config) -> None:
    status = status_of(healthy_rows(), workers=[], scheduler={"alive": False, "heartbeat_age_seconds": None})
    found = problems(config, status, NOW)
    assert ids(found) == {"no-worker:process", "no-worker:alerts", "scheduler-down:scheduler"}
    assert level_of(found) == "unhealthy"
    status["starting_seconds_left"] = 40
    assert problems(config, status, NOW) == []


def test_a_restarting_role_and_configs_that_do_not_load(config) -> None:
    status = status_of(
        healthy_rows(),
        config_error="alerts.yaml: channels: unknown field",
        roles=[{"name": "h:worker-1", "role": "worker-1", "host": "h", "exits_10m": 3, "last_exit_code": 2}],
        config={"refused": [{"worker": "h:1", "version": "abc", "running": "def", "error": "bad"}]},
    )
    found = problems(config, status, NOW)
    assert ids(found) == {"config-invalid:config", "role-restarting:h:worker-1", "config-refused:h:1"}
    assert level_of(found) == "unhealthy" and "last exit code 2" in found[1]["message"]


@pytest.mark.parametrize(("name", "message", "kind"), [
    ("CannotResolveHostError", "DNS lookup failed: no results for hostname lookup: x.invalid.", "dns"),
    ("DNSLookupError", "address 'x' not found", "dns"),
    ("DownloadConnectionRefusedError", "Connection was refused by other side: 111", "connection"),
    ("ConnectionRefusedError", "Connection was refused by other side", "connection"),
    ("ConnectionLost", "Connection to the other side was lost", "connection"),
    ("TCPTimedOutError", "TCP connection timed out: 110", "timeout"),
    ("DownloadTimeoutError", "Getting http://x took longer than 20.0 seconds.", "timeout"),
    ("SSLError", "certificate verify failed", "tls"),
])
def test_transport_failures_are_named(name: str, message: str, kind: str) -> None:
    failure = transport_failure(name, message)
    assert failure.kind == kind and message in failure.message


def test_a_source_whose_polls_stopped_finishing_is_silent(config) -> None:
    rows = healthy_rows()
    rows[3] = source_row("s3", status="ok", last_success=NOW - 4000)  # 10 intervals of 300 s = 3000 s
    found = problems(config, status_of(rows), NOW)
    assert ids(found) == {"source-silent:s3"} and level_of(found) == "degraded"
