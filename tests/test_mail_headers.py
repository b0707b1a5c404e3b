"""A story's text stays text in the alert mail: encoded words, line breaks, controls and bidi overrides in a
title cannot add or change a header of the message a real SMTP server receives."""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from newsmon.alerts.channels import MessageRefused, check_headers
from newsmon.alerts.jobs import deliver
from newsmon.alerts.render import subject_of
from newsmon.sanitize import clean_line
from tests.conftest import SmtpServer
from tests.test_delivery import context  # noqa: F401 - the fixture
from tests.test_render import make_alert, make_delivery

HEADERS = ["subject", "from", "to", "date", "message-id", "x-newsmon-key", "content-type",
           "mime-version"]

HOSTILE_TITLES = [
    "K-1 =?utf-8?q?a=0D=0ABcc:_victim@example.com?= end",  # q: CRLF then a header
    "K-1 =?utf-8?Q?a=0ABcc:_victim@example.com?= end",  # a bare LF
    "K-1 =?utf-8?b?YQ0KQmNjOiB2aWN0aW1AZXhhbXBsZS5jb20=?= end",  # b: the same CRLF + Bcc
    "K-1 =?utf-8?b?4oCuGwc=?= reversed",  # b: U+202E, ESC, BEL
    "K-1 =?iso-8859-1?q?x=0D=0AReply-To:_evil@example.com?=",  # another charset
    "K-1 \r\nBcc: victim@example.com",  # a raw line break
    "K-1 \u202e\x1b[31m\x07 raw controls",
    "K-1 =?utf-8?q?plain?= =?utf-8?q?words?= that decode to nothing harmful",
    "قاعدة كيه-1 =?utf-8?q?=0D=0ABcc:_victim@example.com?= عربي",  # non-ASCII beside the word
]


def received_headers(raw: bytes) -> tuple[list[str], EmailMessage]:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    return [name.lower() for name in message], message  # type: ignore[return-value]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_title_cannot_add_a_header_through_a_real_smtp_server(context, smtp_server: SmtpServer,  # noqa: F811
                                                                 title: str) -> None:
    delivery = make_delivery(make_alert(title=title))
    assert deliver(delivery.model_dump(mode="json")) == "sent"
    raw = smtp_server.mailbox.raw[0]
    names, message = received_headers(raw)
    assert sorted(names) == sorted(HEADERS), sorted(names)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(bcc|reply-to|cc)\s*:", head, re.IGNORECASE | re.MULTILINE), head
    subject = str(message["Subject"])
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in subject)
    assert subject == clean_line(subject_of(delivery), limit=900)
    assert "K-1" in subject  # the headline is still there, as text


def test_a_literal_encoded_word_arrives_as_written() -> None:
    """A harmless `=?...?=` in a headline is sent encoded, so a client shows it as the page wrote it."""
    from newsmon.alerts.channels import MAIL_POLICY, encode_subject

    text = "about =?utf-8?q?caf=C3=A9?= syntax"
    assert "=3D=3F" in encode_subject(text) or "?b?" in encode_subject(text).lower()  # `=?` encoded
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = text
    message.set_content("x")
    parsed = BytesParser(policy=email.policy.default).parsebytes(message.as_bytes())
    assert str(parsed["Subject"]) == text


def test_sanitation_removes_what_decodes_to_controls() -> None:
    assert clean_line("K-1 =?utf-8?q?a=0D=0ABcc:_v@x.com?= end") == "K-1 a Bcc: v@x.com end"
    assert clean_line("x =?utf-8?b?4oCuGwc=?= y") == "x y"
    assert clean_line("ok =?utf-8?q?caf=C3=A9?=") == "ok =?utf-8?q?caf=C3=A9?="  # nothing to defuse
    assert clean_line("=?nosuchcharset?q?a=0Db?=") == "=?nosuchcharset?q?a=0Db?="  # no client decodes it
    assert clean_line("=?iso-8859-1?b?YQ1i?=") == "a b"


def test_the_last_check_refuses_a_message_whose_headers_changed_on_the_way() -> None:
    """Built with Python's default policy (which decodes encoded words), the injected Bcc is caught."""
    message = EmailMessage(policy=email.policy.default)
    subject = "K-1 =?utf-8?q?a=0D=0ABcc:_victim@example.com?= end"
    message["Subject"] = subject
    message["To"] = "desk@test"
    message.set_content("x")
    with pytest.raises(MessageRefused, match="bcc"):
        check_headers(message, {"Subject": subject})
    honest = EmailMessage(policy=email.policy.default)
    honest["Subject"] = "plain words"
    honest.set_content("x")
    check_headers(honest, {"Subject": "plain words"})
    with pytest.raises(MessageRefused, match="Subject"):
        check_headers(honest, {"Subject": "other words"})
