"""A story whose archive write fails leaves no trace in the dedupe index: a later copy does not join a
cluster whose first story is missing, and the retried job still finds its story new."""

from __future__ import annotations

import pytest
import redis

from newsmon.workers.archive import Archive
from tests.test_process_job import K1, archive, story  # noqa: F401 - the fixture is used by name


def test_a_failed_archive_write_takes_the_story_out_of_the_index(archive: Archive,  # noqa: F811
                                                                  redis_conn: redis.Redis,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import process_and_decide as process_story

    first = story("https://shafaq.com/en/Security/rockets", K1)
    real_record = Archive.record_many

    def disk_full(*args: object, **kwargs: object) -> tuple:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Archive, "record_many", disk_full)
    with pytest.raises(OSError):
        process_story(first)
    monkeypatch.setattr(Archive, "record_many", real_record)
    assert archive.get(first["id"]) is None
    copy = process_story(story("https://www.kurdistan24.net/en/story/1/rockets", K1 + " More soon.",
                               outlet="Kurdistan24"))
    assert copy["kind"] == "new" and copy["duplicate_of"] is None  # not pointed at the missing story
    assert archive.get(copy["story"])["cluster_id"] == copy["story"]
    retried = process_story(first)  # RQ's retry of the failed job
    assert retried["kind"] == "near" and retried["cluster"] == copy["cluster"]
    assert archive.get(first["id"]) is not None


def test_without_the_removal_a_copy_would_point_at_the_missing_story(archive: Archive,  # noqa: F811
                                                                    redis_conn: redis.Redis,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The same failure with the index's removal disabled: proves the first test can fail."""
    from newsmon.workers.dedupe import DedupeIndex
    from tests.conftest import process_and_decide as process_story

    monkeypatch.setattr(DedupeIndex, "remove", lambda self, *a, **k: 0)
    monkeypatch.setattr(
        Archive, "record_many", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "disk full"))
    )
    first = story("https://shafaq.com/en/Security/rockets", K1)
    with pytest.raises(OSError):
        process_story(first)
    monkeypatch.undo()
    copy = process_story(story("https://www.kurdistan24.net/en/story/1/rockets", K1 + " More soon.",
                               outlet="Kurdistan24"))
    assert copy["duplicate_of"] == first["id"] and archive.get(first["id"]) is None
