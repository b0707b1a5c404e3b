"""Delivery channels: email over SMTP, chat through Apprise, a JSON-lines outbox and the console."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import smtplib
import ssl
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid
from pathlib import Path

import apprise

from alerts.render import Rendered
from newsmon.errors import DeliveryError
from newsmon.models import Delivery
from newsmon.settings import AppriseChannel, ConsoleChannel, OutboxChannel, SmtpSettings

log = logging.getLogger(__name__)


class _MailPolicy(EmailPolicy):
    """email.policy.default, except that a non-ASCII subject is encoded by email.header.Header.

    The default folder can leave the space between two words as the folding whitespace between two
    encoded words (or after a line's leading space), where RFC 2047 decoders drop it: a Sorani subject
    "هێزەکانی هاوپەیمانی" arrived as one word. Header puts every space inside an encoded word, so every
    client decodes the original text (with SMTPUTF8 the subject goes as UTF-8 and is not encoded).
    """

    def _encoded(self, name: str, value: object) -> str | None:
        text = str(value)
        if name.lower() != "subject" or self.utf8 or text.isascii():
            return None
        return f"{name}: {Header(text, 'utf-8', header_name=name).encode(linesep=self.linesep)}{self.linesep}"

    def fold(self, name: str, value: str) -> str:
        encoded = self._encoded(name, value)
        return super().fold(name, value) if encoded is None else encoded

    def fold_binary(self, name: str, value: str) -> bytes:
        encoded = self._encoded(name, value)
        return super().fold_binary(name, value) if encoded is None else encoded.encode("ascii")


MAIL_POLICY = _MailPolicy()


def build_email(delivery: Delivery, rendered: Rendered, smtp: SmtpSettings, to: list[str]) -> EmailMessage:
    """A multipart/alternative message (plain text + HTML) with a stable Message-ID per delivery."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = rendered.subject
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False)
    key = delivery.idempotency_key()
    message["Message-ID"] = make_msgid(idstring=hashlib.sha1(key.encode()).hexdigest()[:24], domain="newsmon")
    message["X-Newsmon-Key"] = key
    languages = sorted({item.language for item in delivery.items})
    if languages:
        message["Content-Language"] = ", ".join(languages)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def send_email(message: EmailMessage, smtp: SmtpSettings) -> None:
    """Send one message through the configured SMTP server.

    Raises:
        DeliveryError: the server could not be reached or refused the message.
    """
    context = ssl.create_default_context(cafile=smtp.ca_file)
    try:
        if smtp.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=context)
            if smtp.username:
                password = smtp.password.get_secret_value() if smtp.password else ""
                client.login(smtp.username, password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"email via {smtp.host}:{smtp.port} failed: {exc}") from exc


def masked_url(url: str) -> str:
    """An Apprise URL with its secrets masked, for logs and errors."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return url.split("://", 1)[0] + "://***"
    return plugin.url(privacy=True)


def send_apprise(channel: AppriseChannel, rendered: Rendered) -> None:
    """Send one chat message through an Apprise URL.

    Raises:
        DeliveryError: the URL is not understood or the service did not accept the message.
    """
    url = channel.url.get_secret_value()
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryError(f"apprise URL not understood: {masked_url(url)}")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = notifier.notify(
            title=rendered.chat_title, body=rendered.chat_body, body_format=apprise.NotifyFormat.MARKDOWN
        )
    if not ok:
        reason = " ".join(captured.getvalue().split())[-300:] or "no reason given"
        raise DeliveryError(f"chat via {masked_url(url)} failed: {reason}")


def append_outbox(channel: OutboxChannel, delivery: Delivery, rendered: Rendered, base: Path) -> None:
    """Append one JSON line per story of the delivery; a lock keeps lines whole across workers."""
    path = Path(channel.path)
    if not path.is_absolute():
        path = base / path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if delivery.kind == "health" and delivery.health:
        lines.append(json.dumps({"kind": "health", "desk": delivery.desk_id, "channel": delivery.channel_id,
                                 "subject": rendered.subject, **delivery.health}, ensure_ascii=False) + "\n")
    for item in delivery.items:
        record = {
            "title": item.title,
            "url": item.url,
            "outlet": item.outlet,
            "language": item.language,
            "published": item.published.isoformat() if item.published else None,
            "topics": [t.topic for t in item.topics],
            "matches": {t.topic: t.matched_words() for t in item.topics},
            "snippets": item.snippets,
            "note": item.note,
            "cluster": item.cluster_id,
            "also_reported_by": item.also_reported_by,
            "subject": rendered.subject,
            "desk": delivery.desk_id,
            "channel": delivery.channel_id,
            "kind": delivery.kind,
            "story_id": item.story_id,
        }
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write("".join(lines))


def print_console(channel: ConsoleChannel, rendered: Rendered) -> None:
    """Print the plain-text rendering to standard output."""
    print(f"=== {rendered.subject}\n{rendered.text}", flush=True)

