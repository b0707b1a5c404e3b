"""The delivery log in the archive: what each desk was sent is there when Redis is gone (`explain`,
`alerts sent`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from newsmon import jobcontext, keys
from newsmon.models import Story, story_id_for
from newsmon.settings import load_config
from newsmon.urls import canonical_url
from tests.conftest import process_and_decide as process_story
from tests.conftest import write_config

pytestmark = pytest.mark.e2e  # starts newsmon in subprocesses

SOURCE = {"id": "s1", "name": "S", "outlet": "Kurdistan24", "language": "en", "kind": "feed",
          "url": "http://127.0.0.1:9/feed"}


def newsmon(config_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("REDIS_URL", "DATABASE_URL", "NEWSMON_DATA_DIR")}
    return subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args],
                          env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False)


def test_explain_and_alerts_sent_answer_from_the_archive_when_redis_is_gone(
        tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> None:
    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "desks": {"desk": {"topics": ["*"], "channels": ["box"], "timezone": "UTC"},
                        "morning": {"topics": ["*"], "channels": ["box"], "mode": "digest"}},
              "first_poll_max_age_hours": 0}
    config_dir = write_config(tmp_path / "config", [SOURCE], alerts)
    data_dir = tmp_path / "data"
    jobcontext.install(jobcontext.JobContext(config=load_config(config_dir), redis=redis_conn,
                                             archive_url=f"sqlite:///{data_dir / 'archive.sqlite'}"))
    url = "https://k24.example/en/1"
    story = Story(id=story_id_for(canonical_url(url)), source_id="s1", outlet="Kurdistan24", language="en",
                  url=url, canonical_url=canonical_url(url), title="Rockets hit the K-1 base",
                  text="Rockets hit the K-1 air base near Kirkuk on Sunday, police said.")
    process_story(story.model_dump(mode="json"))
    queue = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True)
    assert len(outbox.read_text().splitlines()) == 1  # the instant desk was sent it; the digest desk holds it
    assert redis_conn.llen(keys.DELIVERY_LOG) == 2

    # with Redis up, `alerts sent` moves the log into the archive first
    listed = newsmon(config_dir, {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(data_dir)},
                     "alerts", "sent", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert listed.returncode == 0, listed.stderr
    assert {(r["desk"], r["channel"], r["mode"], r["outcome"], r["story_id"]) for r in rows} == {
        ("desk", "box", "instant", "sent", story.id), ("morning", None, "instant", "held", story.id)}
    assert redis_conn.llen(keys.DELIVERY_LOG) == 0

    # Redis gone (no REDIS_URL, nothing running under the data directory): the archive answers
    gone = {"NEWSMON_DATA_DIR": str(data_dir)}
    explained = newsmon(config_dir, gone, "explain", story.id)
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert "desk desk:" in out and "alerted by this story (from the archive's delivery log)" in out, out
    sent_line = next(line for line in out.splitlines() if "delivery log: sent" in line)
    assert "instant via box at" in sent_line and "UTC" in sent_line, out
    assert "delivery log: held instant" in out and "the desk takes digests only" in out, out
    listed = newsmon(config_dir, gone, "alerts", "sent", "--desk", "desk", "--json")
    assert [json.loads(line)["outcome"] for line in listed.stdout.splitlines()] == ["sent"], listed.stderr
    text = newsmon(config_dir, gone, "alerts", "sent").stdout
    assert "desk  sent instant via box  [k1_base" in text and "Rockets hit the K-1 base" in text, text
