"""Adaptive polling on a driven clock: each source's posting profile learned from its polls, the budget
spent where stories are likely, within min/max intervals and per-host limits."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import redis
import yaml
from apscheduler.schedulers.blocking import BlockingScheduler

from newsmon import profile
from newsmon.scheduler.adaptive import default_budget, least_p95, plan, plan_for, predicted
from newsmon.scheduler.clock import Clock, LeaderLock, _Fixed, sync_sources
from newsmon.settings import load_config
from tests.conftest import write_config

MONDAY = datetime(2026, 11, 30, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC


def source(source_id: str, host: str, **fields) -> dict:
    return {"id": source_id, "name": source_id, "outlet": "O", "language": "en", "kind": "feed",
            "url": f"https://{host}/{source_id}/rss", **fields}


def config_with(tmp_path: Path, sources: list[dict], scheduler: dict | None = None):
    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    directory = write_config(tmp_path / "config", sources, alerts)
    if scheduler:
        (directory / "newsmon.yaml").write_text(yaml.safe_dump({"scheduler": scheduler}))
    return load_config(directory)


def test_interval_given_means_fixed_and_absent_means_adaptive(tmp_path: Path) -> None:
    config = config_with(tmp_path, [source("fixed", "a.example", interval=600), source("new", "b.example"),
                                    source("chosen", "c.example", interval=600, schedule="adaptive")])
    assert [s.adaptive for s in config.sources.sources] == [False, True, True]
    assert default_budget(config) == 3600 / 600 + 3600 / 300 + 3600 / 600  # what fixed polling spends


def test_the_budget_goes_where_stories_are_likely_within_bounds_and_host_limits(tmp_path: Path) -> None:
    config = config_with(tmp_path, [
        source("busy", "a.example"), source("quiet", "b.example"), source("silent", "c.example"),
        source("fixed", "d.example", interval=300),
        source("h1", "e.example"), source("h2", "e.example"), source("h3", "e.example"),
    ], scheduler={"budget_per_hour": 120, "host_polls_per_hour": 20})
    rates = {"busy": 6.0, "quiet": 0.25, "silent": 0.0, "h1": 6.0, "h2": 6.0, "h3": 6.0}
    intervals = plan(config, {k: [v] * 24 for k, v in rates.items()}).intervals
    # the busy source as often as the quiet one or more, the silent one least (a cap may hold the busy
    # source to the quiet one's interval: what it saves shortens the tail elsewhere)
    assert intervals["busy"] <= intervals["quiet"] < intervals["silent"]
    assert intervals["silent"] == 3600.0  # max_interval: polled at least hourly with no news at all
    assert intervals["busy"] >= 60.0  # min_interval
    spent = sum(3600 / i for i in intervals.values()) + 3600 / 300  # the fixed source spends its own
    assert spent <= 120 * 1.001
    assert sum(3600 / intervals[h] for h in ("h1", "h2", "h3")) <= 20 * 1.001  # one host's limit wins
    # a bigger budget is spent too, up to each source's min_interval
    rich = plan(config_with(tmp_path / "rich", [source("busy", "a.example"), source("quiet", "b.example")],
                            scheduler={"budget_per_hour": 10_000}),
                {"busy": [6.0] * 24, "quiet": [0.25] * 24})
    assert rich.intervals == {"busy": 60.0, "quiet": 60.0}


def drive_a_fortnight(conn: redis.Redis) -> None:
    """Polls every 5 min for two weeks: `day` posts every 10 min from 08:00 to 20:00 UTC and never at
    night, `steady` once an hour around the clock."""
    with conn.pipeline(transaction=False) as pipe:
        for step in range(14 * 24 * 12):
            at = MONDAY - 14 * 86400 + step * 300
            hour = datetime.fromtimestamp(at, tz=UTC).hour
            profile.observe(pipe, "day", (1 if step % 2 else 0) if 8 <= hour < 20 else 0, at, 5 / 60)
            profile.observe(pipe, "steady", 1 if step % 12 == 0 else 0, at, 5 / 60)
        pipe.execute()


def test_a_source_posting_by_day_is_polled_more_often_by_day_than_at_night(
        tmp_path: Path, redis_conn: redis.Redis) -> None:
    drive_a_fortnight(redis_conn)
    noon, night = MONDAY + 12 * 3600, MONDAY + 2 * 3600
    by_day = {k: c[0] for k, c in profile.rates(redis_conn, ["day", "steady", "unknown"], noon).items()}
    at_night = {k: c[0] for k, c in profile.rates(redis_conn, ["day", "steady"], night).items()}
    assert 5.0 < by_day["day"] <= 6.0 and at_night["day"] < 0.5  # six an hour by day, close to none by night
    assert 0.8 < by_day["steady"] < 1.2 and 0.8 < at_night["steady"] < 1.2
    assert by_day["unknown"] == profile.PRIOR_RATE
    config = config_with(tmp_path, [source("day", "a.example"), source("steady", "b.example")])
    ids = ["day", "steady"]
    day_plan = plan(config, profile.rates(redis_conn, ids, noon, hours=24)).intervals
    night_plan = plan(config, profile.rates(redis_conn, ids, night, hours=24)).intervals
    assert day_plan["day"] < day_plan["steady"] and night_plan["day"] > night_plan["steady"]
    assert day_plan["day"] < night_plan["day"] / 2
    # over the day, busy hours get more of the budget than quiet ones, and the day spends it all
    polls = [sum(3600 / i for i in plan(config, profile.rates(redis_conn, ids, MONDAY + h * 3600,
                                                              hours=24)).intervals.values())
             for h in range(24)]
    assert polls[12] > 1.2 * default_budget(config) and polls[2] < 0.8 * default_budget(config)
    assert abs(sum(polls) / 24 / default_budget(config) - 1) < 0.05


def test_the_plan_shortens_the_tail_the_square_root_rule_leaves(tmp_path: Path) -> None:
    """Ten busy sources and forty quiet ones at the fixed schedule's budget: the square-root rule alone
    (no cap) polls the quiet ones least, and their stories wait longer than at fixed intervals; the plan
    caps the busy ones and predicts a 95th percentile below the fixed schedule's, and no plan of that
    budget can beat least_p95."""
    sources = [source(f"busy{i}", f"b{i}.example") for i in range(10)]
    sources += [source(f"quiet{i}", f"q{i}.example") for i in range(40)]
    config = config_with(tmp_path, sources)
    curves = {f"busy{i}": [6.0] * 24 for i in range(10)} | {f"quiet{i}": [0.3] * 24 for i in range(40)}
    rates = np.array([curves[s.id][0] for s in config.enabled_sources()])
    chosen = plan(config, curves)
    assert chosen.kind == "square-root" and chosen.cap is not None
    fixed = predicted(rates, np.full(50, 12.0))  # every 300 s
    planned = predicted(rates, np.array([3600 / chosen.intervals[s.id] for s in config.enabled_sources()]))
    assert abs(fixed[0] - 0.95 * 300) < 1 and abs(planned[0] - chosen.p95) < 1
    assert planned[0] < 0.9 * fixed[0] and planned[1] < fixed[1]
    uncapped = np.sqrt(rates) / np.sqrt(rates).sum() * 600  # the square-root rule, same polls
    assert predicted(rates, uncapped)[0] > fixed[0]
    assert abs(sum(3600 / i for i in chosen.intervals.values()) - default_budget(config)) < 0.5
    least = least_p95(config.enabled_sources(), default_budget(config), 120, curves)
    assert least <= chosen.p95
    # one source, polled 12 times an hour: 95 % of its stories wait less than 95 % of 300 s
    one = config_with(tmp_path / "one", [source("only", "o.example")])
    assert abs(least_p95(one.enabled_sources(), 12, 120, {"only": [1.0] * 24}) - 285) < 1


def test_no_plan_predicts_a_shorter_tail_than_least_p95_even_where_hosts_limit_it(tmp_path: Path) -> None:
    """least_p95 is the least 95th percentile any plan of the budget can give (to the 5 % steps of the
    waits it tries): below the chosen plan's and below even polling's, with hosts that hold two or three
    busy sources back."""
    import random

    rng = random.Random(5)
    sources = [source(f"s{i}", f"h{i // 3}.example") for i in range(30)]
    curves = {f"s{i}": [rng.lognormvariate(0, 1.5) * (1.5 + math.sin(h / 4)) for h in range(24)]
              for i in range(30)}
    config = config_with(tmp_path, sources)
    for host_limit in (30, 60, 1000):
        chosen = plan_for(config.enabled_sources(), 360, host_limit, curves)
        least = least_p95(config.enabled_sources(), 360, host_limit, curves)
        assert least <= chosen.p95 * 1.05, (host_limit, least, chosen.p95)
    # a host limit costs the tail something: the least with hosts of 30 an hour is above that of 1000
    assert least_p95(config.enabled_sources(), 360, 30, curves) > least * 1.05


def test_a_host_s_limit_moves_polls_to_other_hosts_instead_of_losing_them(tmp_path: Path) -> None:
    config = config_with(tmp_path, [source("a1", "a.example"), source("a2", "a.example"),
                                    source("b", "b.example"), source("c", "c.example")])
    curves = {"a1": [6.0] * 24, "a2": [6.0] * 24, "b": [1.0] * 24, "c": [1.0] * 24}
    intervals = plan_for(config.enabled_sources(), 60, 30, curves).intervals
    assert 3600 / intervals["a1"] + 3600 / intervals["a2"] <= 30 * 1.001
    assert abs(sum(3600 / i for i in intervals.values()) - 60) < 0.5  # b and c take what host a cannot


def test_replan_retimes_the_poll_jobs_and_never_pushes_a_due_poll_later(
        tmp_path: Path, redis_conn: redis.Redis) -> None:
    drive_a_fortnight(redis_conn)
    config = config_with(tmp_path, [source("day", "a.example"), source("steady", "b.example"),
                                    source("fixed", "c.example", interval=900)])
    scheduler = BlockingScheduler(timezone=UTC)
    leader = LeaderLock(redis_conn)
    sync_sources(scheduler, config, redis_conn, leader)
    before = {j.id: j.next_run_time for j in scheduler.get_jobs()}
    clock = Clock(redis_conn, _Fixed(config), leader, scheduler=scheduler)
    planned = clock.replan(now=MONDAY + 12 * 3600)
    assert set(planned) == {"day", "steady"}  # the fixed source keeps its interval
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert jobs["poll:fixed"].trigger.interval == timedelta(seconds=900)
    for source_id in ("day", "steady"):
        job = jobs[f"poll:{source_id}"]
        # re-timed, or left where it was when the plan moved it by a tenth or less
        now = job.trigger.interval.total_seconds()
        assert abs(now - planned[source_id]) < 1 or (now == 300 and abs(planned[source_id] - 300) <= 30)
        assert job.next_run_time <= before[job.id]  # a poll due soon stays due soon


def test_the_crawler_s_polls_teach_the_profile_from_the_second_on(tmp_path: Path,
                                                                  redis_conn: redis.Redis) -> None:
    """A source's first poll takes its backlog (nothing to learn from); later successful polls add their
    new stories and the hours since the previous poll; a failed poll adds nothing."""
    from types import SimpleNamespace

    from newsmon import keys
    from newsmon.crawler import health, polls

    config = config_with(tmp_path, [source("s", "a.example")])

    def poll(new: int, failure=None) -> SimpleNamespace:
        return SimpleNamespace(status="ok" if failure is None else "error", failure=failure, http_status=200,
                               bytes=100, items=10, new=new, newest=None, validators={}, entry_errors=[],
                               skipped=[])

    polls.record_poll(redis_conn, config.source("s"), poll(9), 0.1, 3600)
    assert redis_conn.hgetall(keys.source_profile("s")) == {}
    redis_conn.hset(keys.source_state("s"), "last_poll", f"{datetime.now(UTC).timestamp() - 1800:.3f}")
    polls.record_poll(redis_conn, config.source("s"), poll(2), 0.1, 3600)
    failed = poll(0, health.Failure("timeout", "timed out"))
    polls.record_poll(redis_conn, config.source("s"), failed, 0.1, 3600)
    fields = {k.decode(): float(v) for k, v in redis_conn.hgetall(keys.source_profile("s")).items()}
    assert len(fields) == 2  # one hour of the week: its stories and its hours
    rate = profile.rates(redis_conn, ["s"], datetime.now(UTC).timestamp())["s"][0]
    assert abs(rate - 4.0) < 0.01  # 2 new stories in half an hour, and nothing else known


def test_an_adaptive_source_is_not_polled_past_its_host_s_hourly_limit(tmp_path: Path,
                                                                       redis_conn: redis.Redis) -> None:
    """The plan keeps a host within its limit on average; request_poll holds it to it in any hour: the
    host's polls of the last hour (fixed sources' too) are counted, and an adaptive source waits."""
    import time

    from newsmon import keys
    from newsmon.scheduler.clock import request_poll

    config = config_with(tmp_path, [source("a1", "shared.example"), source("a2", "shared.example"),
                                    source("f", "shared.example", interval=600)])
    leader = LeaderLock(redis_conn)
    assert leader.refresh()
    a1, a2, fixed = (config.source(i) for i in ("a1", "a2", "f"))
    assert request_poll(redis_conn, fixed, leader, host_limit=2) == "requested"  # fixed: counted
    assert request_poll(redis_conn, a1, leader, host_limit=2) == "requested"
    assert request_poll(redis_conn, a2, leader, host_limit=2) == "host-limit"  # two polls this hour
    assert redis_conn.zcard(keys.host_polls("shared.example")) == 2
    # an hour later the first two no longer count
    old = time.time() - 3601
    redis_conn.zadd(keys.host_polls("shared.example"),
                    dict.fromkeys(redis_conn.zrange(keys.host_polls("shared.example"), 0, -1), old))
    assert request_poll(redis_conn, a2, leader, host_limit=2) == "requested"
