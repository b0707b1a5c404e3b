"""`newsmon alerts preview|test|failed`: what desks would get, channel checks with masked secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import yaml

from tests.conftest import FIXTURES, SmtpServer, WebhookReceiver, write_config

SOURCE = {"id": "s1", "name": "S", "outlet": "O", "language": "ar", "kind": "feed", "url": "http://x/f"}


def newsmon(
    config_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_config(tmp_path: Path, smtp_port: int, webhook_url: str) -> Path:
    alerts = {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "newsmon@test", "timeout": 3,
                 "username": "desk", "password": "${SMTP_PASSWORD}"},
        "channels": {"mail": {"type": "email", "to": ["desk@test"]},
                     "chat": {"type": "apprise", "url": webhook_url + "?token=${HOOK_TOKEN}"}},
        "desks": {"arabic": {"topics": ["k1_base"], "languages": ["ar"], "channels": ["mail", "chat"]},
                  "english": {"topics": ["*"], "languages": ["en"], "channels": ["chat"]}},
    }
    return write_config(tmp_path / "config", [SOURCE], alerts)


SECRETS = {"SMTP_PASSWORD": "pw-do-not-print", "HOOK_TOKEN": "tok-do-not-print"}


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_preview_renders_each_desk_and_explains_the_others(tmp_path: Path, webhook: WebhookReceiver) -> None:
    config_dir = make_config(tmp_path, 25, webhook.url)
    result = newsmon(
        config_dir,
        "alerts",
        "preview",
        "--story",
        str(FIXTURES / "seed" / "000_128dad676d5a1ee3.txt"),
        env=SECRETS,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "topics: k1_base, coalition_troops" in out
    assert (
        "=== desk arabic · channel mail (email)" in out and 'dir="rtl"' in out and "<mark>كيه-1</mark>" in out
    )
    # the chat part as its service reads it: a JSON webhook gets plain text, the matched word as written
    chat = out.split("=== desk arabic · channel chat (apprise)", 1)[1].split("===", 1)[0]
    assert "(plain text)\ntitle: K-1 air base (Kirkuk): " in chat
    assert "كيه-1" in chat and "**" not in chat
    assert "=== desk english: would not receive it" in out
    assert "do-not-print" not in out


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_test_reports_each_channel_and_masks_secrets(tmp_path: Path, webhook: WebhookReceiver,
                                                     smtp_server: SmtpServer) -> None:
    config_dir = make_config(tmp_path, smtp_server.port, webhook.url)
    smtp_server.stop()  # the mail channel fails, the chat channel works
    result = newsmon(config_dir, "alerts", "test", "arabic", env=SECRETS)
    assert result.returncode == 1
    assert "mail (desk@test): FAILED: email via 127.0.0.1" in result.stdout
    assert "chat (json://" in result.stdout and ": ok" in result.stdout
    assert "do-not-print" not in result.stdout + result.stderr
    assert len(webhook.posts) == 1 and "test message" in webhook.posts[0]["title"]


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_failed_lists_and_requeues(tmp_path: Path, redis_url: str, redis_conn: redis.Redis,
                                   webhook: WebhookReceiver) -> None:
    from rq import Queue, SimpleWorker
    from rq.registry import FailedJobRegistry
    from rq.serializers import JSONSerializer

    from newsmon import jobcontext, keys
    from newsmon.settings import load_config
    from tests.test_render import make_delivery

    config_dir = make_config(tmp_path, 25, webhook.url)
    config = load_config(config_dir, environ=SECRETS)
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn, archive_url="sqlite://"))
    queue = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    webhook.status = 500
    job = queue.enqueue(
        "alerts.jobs.deliver",
        make_delivery(channel="chat", desk="arabic").model_dump(mode="json"),
        description="deliver arabic:chat:abc:k1_base",
    )
    SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True)
    registry = FailedJobRegistry(queue=queue)
    assert registry.get_job_ids() == [job.id]

    env = {**SECRETS, "REDIS_URL": redis_url}
    listed = newsmon(config_dir, "alerts", "failed", env=env)
    assert "1 failed deliveries" in listed.stdout and "DeliveryError: chat via json://" in listed.stdout
    assert "do-not-print" not in listed.stdout
    webhook.status = 200
    requeued = newsmon(config_dir, "alerts", "failed", "--requeue", env=env)
    assert "requeued" in requeued.stdout and registry.count == 0
    SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True)
    assert len(webhook.posts) == 1


def test_example_alerts_config_has_desks(tmp_path: Path) -> None:
    from newsmon.settings import load_config

    example = yaml.safe_load((Path(__file__).resolve().parent.parent / "config" / "examples" /
                              "alerts.email-and-chat.yaml").read_text())
    assert {"kirkuk-desk", "editors"} <= set(example["desks"])
    directory = write_config(tmp_path / "c", [SOURCE], example)
    env = {n: "x" for n in ("SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD", "SLACK_TOKEN_A", "SLACK_TOKEN_B",
                            "SLACK_TOKEN_C")}
    config = load_config(directory, environ=env)
    assert config.alerts.all_desks()["editors"].mode == "digest"


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_preview_of_a_digest_desk_is_the_digest_it_is_sent(tmp_path: Path, webhook: WebhookReceiver) -> None:
    """A digest desk receives the story in its next digest: the preview shows that digest (its subject,
    header and slot), and a previewed file has its name as outlet and its modification time."""
    seed = tmp_path / "seed.txt"
    seed.write_text(
        (FIXTURES / "seed" / "000_128dad676d5a1ee3.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    os.utime(seed, (1_795_000_000, 1_795_000_000))  # 2026-11-18 11:06:40 UTC = 14:06 in Baghdad
    config_dir = make_config(tmp_path, 25, webhook.url)
    alerts = yaml.safe_load((config_dir / "alerts.yaml").read_text(encoding="utf-8"))
    alerts["desks"]["evening"] = {"topics": ["k1_base"], "channels": ["mail"], "mode": "digest",
                                  "digest_schedule": "0 18 * * *"}
    (config_dir / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True), encoding="utf-8")
    result = newsmon(config_dir, "alerts", "preview", "--story", str(seed), "--desk", "evening", env=SECRETS)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "=== desk evening · channel mail (email) · digest of " in out and " 18:00 +03" in out
    assert "Subject: [newsmon] digest for evening: 1 story\n" in out
    assert "newsmon digest for evening: 1 story, " in out and "18:00 +03" in out.split("--- text/plain")[1]
    assert "seed.txt · 2026-11-18 14:06 +03" in out
    assert "(file)" not in out and "time unknown" not in out
