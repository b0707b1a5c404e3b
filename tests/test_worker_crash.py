"""A worker killed right after the SMTP server accepted an alert: the retried job must not send again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from newsmon import keys
from newsmon.alerts.jobs import enqueue_deliveries
from newsmon.models import Hit, Story, StoryAlert, TopicMatch
from newsmon.settings import load_config
from tests.conftest import Roles, SmtpServer, wait_for, write_config

pytestmark = pytest.mark.e2e

SOURCE = {"id": "s1", "name": "S", "outlet": "Kurdistan24", "language": "ar", "kind": "feed", "url": "http://x/f"}


def test_killed_after_send_retry_does_not_send_twice(roles: Roles, redis_conn: redis.Redis,
                                                     smtp_server: SmtpServer, tmp_path: Path) -> None:
    alerts = {
        "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
        "channels": {"mail": {"type": "email", "to": ["desk@test"]}},
        "routes": [{"id": "desk", "topics": ["*"], "channels": ["mail"]}],
        "retry": {"max": 3, "intervals": [1]},
    }
    config_dir = write_config(tmp_path / "config", [SOURCE], alerts)
    config = load_config(config_dir)
    worker = roles.start("worker", config_dir, "worker", "--queues", "alerts")

    # the SMTP server takes the message, then the worker dies before it hears "250 OK"
    smtp_server.mailbox.on_message = lambda _message: os.kill(worker.pid, signal.SIGKILL)
    story = Story(id="00000000000000a1", source_id="s1", outlet="Kurdistan24", language="ar", url="https://k24.example/1",
                  canonical_url="https://k24.example/1", title="قاعدة كيه-1", text="نص عن قاعدة كيه-1")
    topic = TopicMatch(topic="k1_base", name="K-1", hits=[Hit(term="كيه-1", text="كيه-1", start=10, end=15)])
    alert = StoryAlert(
        story_id=story.id,
        cluster_id=story.id,
        title=story.title,
        url=story.url,
        outlet=story.outlet,
        language=story.language,
        published=None,
        snippets=[story.text],
        topics=[topic],
    )
    desk = config.alerts.all_desks()["desk"]
    assert enqueue_deliveries(config, redis_conn, "desk", desk, "instant", [alert]) == 1
    wait_for(lambda: worker.poll() is not None, timeout=60, what="the worker to be killed")
    assert len(smtp_server.messages) == 1

    # RQ's maintenance finds the abandoned job once its heartbeat expires; run it with the clock advanced
    queue = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    registry = StartedJobRegistry(queue=queue)
    job_id = registry.get_job_ids()[0]
    registry.cleanup(timestamp=time.time() + 3600)
    smtp_server.mailbox.on_message = None
    roles.start("worker-2", config_dir, "worker", "--queues", "alerts")

    def finished() -> Job | None:
        job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
        return job if job.get_status() == JobStatus.FINISHED else None

    job = wait_for(finished, timeout=60, what="the retried job to finish")
    assert job.return_value() == "in-doubt"
    assert len(smtp_server.messages) == 1
