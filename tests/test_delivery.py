"""Delivery through a real SMTP server (plain, and STARTTLS with AUTH) and a real webhook receiver."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis

from newsmon import jobcontext, keys, stats
from newsmon.alerts.jobs import deliver
from newsmon.errors import DeliveryError
from newsmon.settings import load_config
from tests.conftest import SmtpServer, WebhookReceiver, write_config
from tests.test_render import make_alert, make_delivery

SOURCE = {"id": "s1", "name": "S", "outlet": "O", "language": "ar", "kind": "feed", "url": "http://x/feed"}


def install(tmp_path: Path, redis_conn: redis.Redis, smtp: dict, webhook_url: str) -> None:
    alerts = {
        "smtp": smtp,
        "channels": {
            "mail": {"type": "email", "to": ["desk@test"]},
            "chat": {"type": "apprise", "url": webhook_url},
            "box": {"type": "outbox", "path": str(tmp_path / "outbox.jsonl")},
        },
        "desks": {"desk": {"topics": ["*"], "channels": ["mail", "chat", "box"]}},
    }
    config = load_config(write_config(tmp_path / "config", [SOURCE], alerts))
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn, archive_url=f"sqlite:///{tmp_path}/a.db"))


@pytest.fixture
def context(
    tmp_path: Path, redis_conn: redis.Redis, smtp_server: SmtpServer, webhook: WebhookReceiver
) -> None:
    install(tmp_path, redis_conn, {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test",
                                   "timeout": 5}, webhook.url)


def test_email_is_multipart_rtl_and_escaped(context, smtp_server: SmtpServer) -> None:
    delivery = make_delivery(make_alert(title="<script>x</script> قاعدة كيه-1"))
    assert deliver(delivery.model_dump(mode="json")) == "sent"
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "desk@test" and "K-1 air base" in message["Subject"]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert 'dir="rtl"' in html and 'lang="ar"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "https://k24.example/ar/story/1" in text and "كيه-1" in text
    assert message["X-Newsmon-Key"] == "desk:mail:abc:k1_base"


SUBJECTS = [
    (
        "ckb",
        (
            "هێزەکانی هاوپەیمانی گەیشتنە بنکەی کەی وان لە نزیک کەرکووک و سەربازەکانی ئەمریکا "
            "ڕایانگەیاند کە هێرشەکە هیچ زیانێکی گیانی لێنەکەوتووەتەوە و لێکۆڵینەوە دەستی پێکردووە"
        ),
    ),
    (
        "ar",
        (
            "سقوط صاروخ على قاعدة كيه-1 غرب كركوك ولا إصابات بين قوات التحالف الدولي والقوات العراقية "
            "بحسب بيان لخلية الإعلام الأمني صدر مساء السبت"
        ),
    ),
    (
        "ckb",
        "K-1: هێزەکانی هاوپەیمانی (coalition troops) لە بنکەی K-1 و Kirkuk — قاعدة كيه-1 Hêzên koalîsyonê",
    ),
    ("kmr", "Hêzên koalîsyonê li baregeha K-1 ya li nêzî Kerkûkê ne û hêzên Iraqê jî li wir in"),
]


@pytest.mark.parametrize(("language", "title"), SUBJECTS)
def test_long_rtl_and_mixed_subjects_arrive_intact(context, smtp_server: SmtpServer, language: str,
                                                    title: str) -> None:
    """What the SMTP server received decodes to exactly the subject newsmon wrote, with Python's parser
    and with the classic RFC 2047 decoder (which drops whitespace between encoded words, as clients do)."""
    from email.header import decode_header, make_header

    from newsmon.alerts.render import subject_of

    delivery = make_delivery(make_alert(title=title, language=language))
    expected = subject_of(delivery)
    assert deliver(delivery.model_dump(mode="json")) == "sent"
    assert smtp_server.messages[0]["Subject"] == expected
    head = smtp_server.mailbox.raw[0].split(b"\r\n\r\n", 1)[0].decode("ascii")  # 7-bit on the wire
    folded = re.search(r"^Subject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE)
    assert folded is not None
    lines = folded.group(1).split("\r\n")
    assert all(len(line) <= 78 for line in lines)
    assert str(make_header(decode_header("\r\n".join(lines)))) == expected


def starttls_login(server: SmtpServer, password: str) -> dict:
    """SMTP settings for the test's TLS server: STARTTLS, then AUTH as `desk` with this password."""
    return {"host": "localhost", "port": server.port, "sender": "newsmon@test", "starttls": True,
            "username": "desk", "password": password, "ca_file": str(server.cert_file), "timeout": 5}


def test_email_over_starttls_with_auth(tmp_path: Path, redis_conn: redis.Redis, webhook: WebhookReceiver,
                                       tls_smtp_server: SmtpServer) -> None:
    install(tmp_path, redis_conn, starttls_login(tls_smtp_server, "s3cret"), webhook.url)
    assert deliver(make_delivery().model_dump(mode="json")) == "sent"
    assert len(tls_smtp_server.messages) == 1
    assert tls_smtp_server.mailbox.logins == [("desk", "s3cret")]


def test_wrong_password_is_a_delivery_error_without_the_secret(tmp_path: Path, redis_conn: redis.Redis,
                                                                webhook: WebhookReceiver,
                                                                tls_smtp_server: SmtpServer) -> None:
    install(tmp_path, redis_conn, starttls_login(tls_smtp_server, "wrong-pass"), webhook.url)
    with pytest.raises(DeliveryError) as caught:
        deliver(make_delivery().model_dump(mode="json"))
    assert "wrong-pass" not in str(caught.value)
    assert tls_smtp_server.messages == []


def test_chat_post_through_apprise(context, webhook: WebhookReceiver) -> None:
    assert deliver(make_delivery(channel="chat").model_dump(mode="json")) == "sent"
    assert len(webhook.posts) == 1
    post = webhook.posts[0]
    assert "قاعدة كيه-1" in post["title"]
    assert "Kurdistan24" in post["message"] and "https://k24.example/ar/story/1" in post["message"]
    # a JSON webhook's receiver reads no markup: plain text, the matched word as written
    assert "قاعدة كيه-1\n" in post["message"] and "*" not in post["message"] and "\\" not in post["message"]


def test_second_delivery_of_same_alert_sends_nothing(context, smtp_server: SmtpServer) -> None:
    payload = make_delivery().model_dump(mode="json")
    assert deliver(payload) == "sent"
    assert deliver(payload) == "already-sent"
    assert len(smtp_server.messages) == 1


def test_smtp_down_raises_and_releases_claim(
    context, smtp_server: SmtpServer, redis_conn: redis.Redis
) -> None:
    smtp_server.stop()
    payload = make_delivery().model_dump(mode="json")
    with pytest.raises(DeliveryError, match="email via 127.0.0.1"):
        deliver(payload)
    assert not redis_conn.exists(keys.alert_sent("desk:mail:abc:k1_base"))
    assert stats.total(redis_conn, "alerts:mail:retried", 60) == 1
    smtp_server.start()
    assert deliver(payload) == "sent"
    assert len(smtp_server.messages) == 1


def test_webhook_error_is_a_delivery_error(context, webhook: WebhookReceiver) -> None:
    webhook.status = 500
    with pytest.raises(DeliveryError) as caught:
        deliver(make_delivery(channel="chat").model_dump(mode="json"))
    assert "chat via json://" in str(caught.value)


def test_in_doubt_delivery_is_not_repeated(context, smtp_server: SmtpServer, redis_conn: redis.Redis) -> None:
    redis_conn.set(keys.alert_sent("desk:mail:abc:k1_base"), '{"state": "sending", "at": 0}')
    assert deliver(make_delivery().model_dump(mode="json")) == "in-doubt"
    assert smtp_server.messages == []


def test_outbox_line(context, tmp_path: Path) -> None:
    deliver(make_delivery(channel="box").model_dump(mode="json"))
    record = json.loads((tmp_path / "outbox.jsonl").read_text().strip())
    assert record["topics"] == ["k1_base"] and record["matches"] == {"k1_base": ["كيه-1"]}
    assert record["language"] == "ar" and record["outlet"] == "Kurdistan24" and record["desk"] == "desk"


def test_retry_waits_repeat_the_last_interval_as_rq_reads_them(redis_conn: redis.Redis) -> None:
    """RQ repeats the *first* interval when there are fewer intervals than retries; the policy's waits
    are spelt out so that the last one repeats, as alerts.yaml says."""
    from rq import Queue, Retry
    from rq.serializers import JSONSerializer

    from newsmon.settings.alerts import RetrySettings

    policy = RetrySettings(max=6, intervals=[1, 2, 30])
    job = Queue("retry-test", connection=redis_conn, serializer=JSONSerializer).enqueue(
        "os.getcwd", retry=Retry(max=policy.max, interval=policy.waits()))
    seen = []
    while job.retries_left:
        seen.append(job.get_retry_interval())
        job.retries_left -= 1
    assert seen == [1, 2, 30, 30, 30, 30]
    assert RetrySettings().window_seconds() == 26930  # the shipped policy: about 7.5 hours
