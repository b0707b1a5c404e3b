"""Adaptive polling on a driven clock: each source's posting profile learned from its polls, the budget
spent where stories are likely, within min/max intervals and per-host limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import yaml
from apscheduler.schedulers.blocking import BlockingScheduler

from newsmon import profile
from newsmon.scheduler.adaptive import day_share, default_budget, plan
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
    intervals = plan(config, rates)
    assert intervals["busy"] < intervals["quiet"] < intervals["silent"]
    assert intervals["silent"] == 3600.0  # max_interval: polled at least hourly with no news at all
    assert intervals["busy"] >= 60.0  # min_interval
    spent = sum(3600 / i for i in intervals.values()) + 3600 / 300  # the fixed source spends its own
    assert spent <= 120 * 1.001
    assert sum(3600 / intervals[h] for h in ("h1", "h2", "h3")) <= 20 * 1.001  # one host's limit wins
    # a bigger budget is spent too, up to each source's min_interval
    rich = plan(config_with(tmp_path / "rich", [source("busy", "a.example"), source("quiet", "b.example")],
                            scheduler={"budget_per_hour": 10_000}), {"busy": 6.0, "quiet": 0.25})
    assert rich == {"busy": 60.0, "quiet": 60.0}


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
    day_plan, night_plan = plan(config, by_day), plan(config, at_night)
    assert day_plan["day"] < day_plan["steady"] and night_plan["day"] > night_plan["steady"]
    assert day_plan["day"] < night_plan["day"] / 2
    for planned in (day_plan, night_plan):  # at the same share, the same requests: the default budget
        assert abs(sum(3600 / i for i in planned.values()) - default_budget(config)) < 0.01
    # over the day, busy hours get more of the budget than quiet ones, and the day spends it all
    shares = [day_share(profile.rates(redis_conn, ["day", "steady"], MONDAY + h * 3600, hours=24))
              for h in range(24)]
    assert shares[12] > 1.2 and shares[2] < 0.8
    assert abs(sum(shares) - 24) < 0.01


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
        assert abs(job.trigger.interval.total_seconds() - planned[source_id]) < 1
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
