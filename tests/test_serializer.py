"""Jobs carry Arabic and Kurdish text as UTF-8 JSON, and read the same as RQ's own JSON jobs."""

from __future__ import annotations

import zlib

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from newsmon import keys
from newsmon.serializer import JobSerializer

STORY = {
    "id": "0123456789abcdef",
    "title": "هێزەکانی هاوپەیمانی",
    "text": "قوات التحالف في قاعدة كيه-1 " * 50,
}


def test_job_data_is_utf8_json_and_reads_both_ways(redis_conn: redis.Redis) -> None:
    ours = Queue("serializer-test", connection=redis_conn, serializer=JobSerializer)
    theirs = Queue("serializer-test", connection=redis_conn, serializer=JSONSerializer)
    job = ours.enqueue(keys.PROCESS_STORY_JOB, STORY)
    raw = zlib.decompress(redis_conn.hget(job.key, "data"))
    assert "قوات التحالف".encode() in raw and b"\\u" not in raw
    assert len(raw) < len(JSONSerializer.dumps([keys.PROCESS_STORY_JOB, None, [STORY], {}])) / 1.5
    assert theirs.fetch_job(job.id).args[0] == STORY  # a worker with RQ's serializer reads ours
    old = theirs.enqueue(keys.PROCESS_STORY_JOB, STORY)
    assert ours.fetch_job(old.id).args[0] == STORY  # and ours reads jobs enqueued before the change


def test_a_worker_s_saves_write_the_job_s_compressed_data_back_as_read(redis_conn: redis.Redis) -> None:
    """StoredJob: the saves a worker makes (started, finished, ...) reuse the compressed data read from
    Redis instead of compressing the batch again each time; what Redis holds reads back the same."""
    from rq.job import Job

    from newsmon.serializer import StoredJob

    batch = [{"id": str(n), "text": "قاعدة كيه-1 " * 200} for n in range(16)]
    queue = Queue("process", connection=redis_conn, serializer=JobSerializer, job_class=StoredJob)
    job_id = queue.enqueue(keys.PROCESS_BATCH_JOB, batch).id
    stored = redis_conn.hget(f"rq:job:{job_id}", "data")
    job = StoredJob.fetch(job_id, connection=redis_conn, serializer=JobSerializer)
    first, second = job.to_dict()["data"], job.to_dict()["data"]
    assert first is stored or first == stored
    assert second is first  # not compressed again
    job.save()
    job.save()
    assert redis_conn.hget(f"rq:job:{job_id}", "data") == stored
    assert list(Job.fetch(job_id, connection=redis_conn, serializer=JobSerializer).args) == [batch]
    assert list(job.args) == [batch] and job.func_name == keys.PROCESS_BATCH_JOB
    # new arguments are compressed anew
    job.args = ([{"id": "x"}],)
    job.save()
    assert list(Job.fetch(job_id, connection=redis_conn, serializer=JobSerializer).args) == [[{"id": "x"}]]
    assert zlib.decompress(redis_conn.hget(f"rq:job:{job_id}", "data")) == job.data


def test_a_job_queued_under_its_old_name_runs_under_the_new_one(redis_conn: redis.Redis) -> None:
    """Jobs an older newsmon left in the queues (named `workers.jobs...` before the roles were installed
    under `newsmon`) are read under the names the workers now resolve."""
    old_name = keys.PROCESS_BATCH_JOB.removeprefix("newsmon.")
    assert old_name == "workers.jobs.process_stories"
    raw = Queue("process", connection=redis_conn, serializer=JSONSerializer).enqueue(old_name, [STORY])
    job = Queue("process", connection=redis_conn, serializer=JobSerializer).fetch_job(raw.id)
    assert job.func_name == keys.PROCESS_BATCH_JOB and list(job.args) == [[STORY]]
    assert JobSerializer.loads(JobSerializer.dumps(["workers.jobs.unknown", None, [], {}]))[0] == \
        "workers.jobs.unknown"  # only the known names
