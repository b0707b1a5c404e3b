"""What `newsmon status` prints for people: the start-up notice only while a role has yet to report."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import redis
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from newsmon import keys
from newsmon.app.cli_status import print_status
from newsmon.settings import load_config
from newsmon.status import collect, mark_starting
from tests.conftest import feed_source, write_config


def test_the_start_up_notice_shows_only_while_a_worker_or_the_scheduler_is_missing(
        tmp_path: Path, redis_conn: redis.Redis) -> None:
    config = load_config(write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/feed")],
                                      {"channels": {"c": {"type": "console"}}, "routes": []}))
    mark_starting(redis_conn, config, fresh=True)

    def printed() -> str:
        out = io.StringIO()
        print_status(collect(config, redis_conn), out)
        return out.getvalue()

    assert "starting: workers and scheduler have" in printed()
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    Worker([queue], connection=redis_conn, serializer=JSONSerializer, name="w").register_birth()
    assert "starting: workers and scheduler have" in printed()  # the scheduler has not reported
    redis_conn.set(keys.SCHEDULER_HEARTBEAT, json.dumps({"at": time.time(), "leader": "t", "next_polls": {}}))
    assert collect(config, redis_conn)["starting_seconds_left"] > 0  # the grace is still open...
    assert "starting:" not in printed()  # ...but both report: nothing to wait for
