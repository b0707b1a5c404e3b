"""Jobs carry Arabic and Kurdish text as UTF-8 JSON, and read the same as RQ's own JSON jobs."""

from __future__ import annotations

import zlib

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from newsmon.serializer import JobSerializer

STORY = {
    "id": "0123456789abcdef",
    "title": "هێزەکانی هاوپەیمانی",
    "text": "قوات التحالف في قاعدة كيه-1 " * 50,
}


def test_job_data_is_utf8_json_and_reads_both_ways(redis_conn: redis.Redis) -> None:
    ours = Queue("serializer-test", connection=redis_conn, serializer=JobSerializer)
    theirs = Queue("serializer-test", connection=redis_conn, serializer=JSONSerializer)
    job = ours.enqueue("workers.jobs.process_story", STORY)
    raw = zlib.decompress(redis_conn.hget(job.key, "data"))
    assert "قوات التحالف".encode() in raw and b"\\u" not in raw
    assert len(raw) < len(JSONSerializer.dumps(["workers.jobs.process_story", None, [STORY], {}])) / 1.5
    assert theirs.fetch_job(job.id).args[0] == STORY  # a worker with RQ's serializer reads ours
    old = theirs.enqueue("workers.jobs.process_story", STORY)
    assert ours.fetch_job(old.id).args[0] == STORY  # and ours reads jobs enqueued before the change
