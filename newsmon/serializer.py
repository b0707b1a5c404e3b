"""The serializer of every RQ job, result and error: JSON (never pickle), written as UTF-8.

RQ's own JSONSerializer writes `json.dumps` defaults, so Arabic and Kurdish text becomes `\\uXXXX`
escapes, six bytes a letter: a poll's batch of stories grew about 2.2 times, and RQ compresses a job's
data on every save (enqueue, start, finish). Both forms are JSON and read the same, so jobs written
by either serializer are read by the other.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from rq.job import Job

from newsmon.keys import RENAMED_JOBS


class JobSerializer:
    """`dumps`/`loads` as RQ expects them (bytes out, bytes in)."""

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> bytes:
        kwargs.setdefault("ensure_ascii", False)
        kwargs.setdefault("separators", (",", ":"))
        return json.dumps(*args, **kwargs).encode("utf-8")

    @staticmethod
    def loads(data: bytes, *args: Any, **kwargs: Any) -> Any:
        value = json.loads(data.decode("utf-8"), *args, **kwargs)
        # a job's data is [function name, instance, args, kwargs]; one queued under a name jobs had before
        # is read under its name now
        if type(value) is list and len(value) == 4 and type(value[0]) is str and value[0] in RENAMED_JOBS:
            value[0] = RENAMED_JOBS[value[0]]
        return value


class StoredJob(Job):
    """An RQ job that compresses its data once. RQ's `Job.to_dict` compresses the data on every save,
    and a worker saves a job several times (started, finished, ...) though its data never changes: for a
    poll's batch of stories (tens of KB) that was a third of a millisecond per story. The compressed
    bytes read from Redis, or made at the first save, are written back as they are.

    RQ internals used here: `Job.restore`, `Job.to_dict` and the `_data` attribute, the same from rq 2.4
    to 3.0 (pyproject allows `rq>=2.4,<3.1` for that reason); tests/test_serializer.py
    (test_a_worker_s_saves_write_the_job_s_compressed_data_back_as_read) fails when a release changes
    them, and .ci/run runs it on both ends of the range."""

    _stored: tuple[bytes, bytes] | None = None  # (data, its compressed form)

    def restore(self, raw_data: Any) -> Any:
        result = super().restore(raw_data)
        stored = raw_data.get(b"data") if isinstance(raw_data, dict) else None
        if isinstance(stored, bytes) and stored is not self._data:  # compressed in Redis
            self._stored = (self._data, stored)
        return result

    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict:
        data = self.data
        if self._stored is None or self._stored[0] is not data:
            self._stored = (data, zlib.compress(data))
        self._data = b""  # RQ's to_dict compresses whatever this holds: nothing, here
        try:
            obj = super().to_dict(include_meta=include_meta, include_result=include_result)
        finally:
            self._data = data
        obj["data"] = self._stored[1]
        return obj
