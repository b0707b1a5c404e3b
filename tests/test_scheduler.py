"""Scheduler: one leader among several schedulers, and no new poll while the previous one runs."""

from __future__ import annotations

import redis

from newsmon import keys, leases
from newsmon.models import PollRequest
from newsmon.scheduler.clock import LeaderLock, request_poll
from newsmon.settings import Source
from tests.conftest import wait_for

SOURCE = Source(id="k24-ar", name="K24", outlet="Kurdistan24", language="ar", kind="feed",
                url="http://127.0.0.1:1/rss", interval=60)


def test_only_one_scheduler_leads(redis_conn: redis.Redis) -> None:
    first, second = LeaderLock(redis_conn), LeaderLock(redis_conn)
    assert first.refresh() is True
    assert second.refresh() is False
    assert request_poll(redis_conn, SOURCE, second) == "standby"
    assert 0 < redis_conn.ttl(keys.SCHEDULER_LEADER) <= 30
    first.release()
    assert second.refresh() is True  # the standby takes over at once


def test_leader_lock_expires_when_scheduler_dies(redis_conn: redis.Redis) -> None:
    dead, standby = LeaderLock(redis_conn, ttl=1), LeaderLock(redis_conn)
    assert dead.refresh()
    assert standby.refresh() is False  # the lock holds while its holder may be alive
    # the holder dies without releasing: Redis itself expires the lock after its ttl (waited for, not
    # deleted by hand), and the standby takes over
    wait_for(lambda: not redis_conn.exists(keys.SCHEDULER_LEADER), timeout=5, interval=0.05,
             what="the leader lock to expire")
    assert standby.refresh() is True


def test_no_new_poll_while_previous_runs(redis_conn: redis.Redis) -> None:
    leader = LeaderLock(redis_conn)
    leader.refresh()
    assert request_poll(redis_conn, SOURCE, leader) == "requested"
    assert request_poll(redis_conn, SOURCE, leader) == "busy"
    assert redis_conn.llen(keys.poll_requests("feed")) == 1
    request = PollRequest.model_validate_json(redis_conn.lpop(keys.poll_requests("feed")))
    assert request.source_id == "k24-ar"
    assert 0 < redis_conn.ttl(keys.poll_lock("k24-ar")) <= leases.poll_lock_ttl(60)
    assert leases.release_poll(redis_conn, "k24-ar", "someone-else") is False
    assert leases.release_poll(redis_conn, "k24-ar", request.lock_token) is True
    assert request_poll(redis_conn, SOURCE, leader) == "requested"
