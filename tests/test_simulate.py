"""`newsmon schedule simulate` and the simulator under it: the same stories under the fixed intervals and
the adaptive schedule at the same requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from newsmon.scheduler import simulate

START = 1_780_000_000 // 86400 * 86400


def test_adaptive_spends_the_same_requests_waits_less_and_keeps_hosts_within_their_limit() -> None:
    sources, stories = simulate.synthetic(60, 6, START)
    fixed, adaptive = simulate.compare(sources, stories, START, START + 6 * 86400, budget=60 * 12.0,
                                       host_limit=40)
    assert fixed.stories == adaptive.stories > 500  # the same stories, all seen by both
    assert fixed.requests_per_day == 60 * 288
    assert abs(adaptive.requests_per_day / fixed.requests_per_day - 1) < 0.05  # the same requests
    assert adaptive.p50 < fixed.p50 * 0.7
    # a limit of 40 an hour on hosts of up to two sources: within it, give or take the one poll each
    # source can land on either side of a clock hour's edge when its interval changes
    assert adaptive.busiest_host_per_hour <= 40 + 2 and fixed.busiest_host_per_hour <= 24
    assert 140 < fixed.p50 < 160 and 270 < fixed.p95 < 300  # polling every 300 s: half and 95 % of it
    assert adaptive.p95 < fixed.p95 * 0.7  # the default spread: the tail shortens too
    least = simulate.bound(sources, stories, START, START + 6 * 86400, budget=60 * 12.0, host_limit=40)
    assert least < adaptive.p95


def test_the_command_falls_back_to_a_synthetic_set_when_there_is_no_archive(tmp_path: Path) -> None:
    env = dict(os.environ, NEWSMON_DATA_DIR=str(tmp_path / "var"))
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "newsmon", "schedule", "simulate", "--sources", "20",
                             "--days", "4", "--json"], check=False, capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stories_from"] == "synthetic" and "fewer than 500 dated stories" in data["note"]
    assert [s["schedule"] for s in data["schedules"]] == ["fixed", "adaptive"]
    assert data["sources"] == 20 and data["days_measured"] == 2.0 and data["spread"] == 2.0
    adaptive = data["schedules"][1]
    assert 0 < data["least_possible_p95_seconds"] <= adaptive["p95_seconds"] * 1.05
