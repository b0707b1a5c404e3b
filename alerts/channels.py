"""Delivery channels: email over SMTP, chat through Apprise, a JSON-lines outbox and the console."""

from __future__ import annotations

import email.policy
import fcntl
import hashlib
import json
import logging
import smtplib
import ssl
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid
from pathlib import Path

import apprise

from newsmon.alerts.render import CHAT_DIALECTS, Rendered
from newsmon.errors import DeliveryError
from newsmon.models import Delivery
from newsmon.sanitize import clean_line
from newsmon.settings import AppriseChannel, ConsoleChannel, OutboxChannel, SmtpSettings

log = logging.getLogger(__name__)


class _MailPolicy(EmailPolicy):
    """email.policy.default, except that newsmon encodes the Subject itself.

    The default policy parses a header value as it is stored, and its parser decodes RFC 2047 encoded
    words: a headline holding `=?utf-8?q?a=0D=0ABcc:_x?=` became a real `Bcc:` line when the message was
    written out. So the Subject is kept as the plain text newsmon made (never parsed) and written with
    email.header.Header: plain ASCII without `=?` is only folded; anything else (non-ASCII, or a literal
    `=?` that a client would decode) becomes encoded words with every space inside a word, which every
    client decodes back to the original text (the default folder could leave the space between two
    words as folding whitespace, which RFC 2047 decoders drop: a Sorani subject arrived as one word).
    """

    def header_store_parse(self, name: str, value: object) -> tuple[str, object]:
        if name.lower() == "subject" and isinstance(value, str):
            return name, clean_line(value, limit=SUBJECT_MAX)
        return super().header_store_parse(name, value)

    def _encoded(self, name: str, value: object) -> str | None:
        if name.lower() != "subject" or hasattr(value, "name"):
            return None
        return f"{name}: {encode_subject(str(value), self.linesep)}{self.linesep}"

    def fold(self, name: str, value: str) -> str:
        encoded = self._encoded(name, value)
        return super().fold(name, value) if encoded is None else encoded

    def fold_binary(self, name: str, value: str) -> bytes:
        encoded = self._encoded(name, value)
        return super().fold_binary(name, value) if encoded is None else encoded.encode("ascii")


MAIL_POLICY = _MailPolicy()
SUBJECT_MAX = 900


def encode_subject(text: str, linesep: str = "\r\n") -> str:
    """The Subject header's value as written: folded ASCII, or RFC 2047 words when the text is not
    plain ASCII or holds `=?` (a client would decode that as an encoded word)."""
    plain = text.isascii() and "=?" not in text and text.isprintable()
    return Header(text, "us-ascii" if plain else "utf-8", header_name="Subject").encode(linesep=linesep)


class MessageRefused(DeliveryError):
    """The message as written would not carry the headers newsmon meant: it is not sent."""


def check_headers(message: EmailMessage, meant: dict[str, str]) -> None:
    """The last check before SMTP: parse the bytes that would be sent and compare their headers with
    the ones newsmon set (names, count and decoded values).

    Raises:
        MessageRefused: a header was added, lost or changed on the way (say by text read as a header).
    """
    parsed = BytesParser(policy=email.policy.default).parsebytes(message.as_bytes(), headersonly=True)
    names = [name.lower() for name in parsed]
    expected = [name.lower() for name in message]
    if names != expected:
        extra = sorted(set(names) - set(expected)) or sorted(set(expected) - set(names)) or names
        raise MessageRefused(f"message refused before sending: its headers would be {names} "
                             f"where newsmon set {expected} (differs in {extra})")
    for name, value in meant.items():
        got = " ".join(str(parsed[name] or "").split())
        if got != " ".join(value.split()):
            raise MessageRefused(f"message refused before sending: its {name} would read {got[:200]!r}, "
                                 f"not the {value[:200]!r} newsmon wrote")


def build_email(delivery: Delivery, rendered: Rendered, smtp: SmtpSettings, to: list[str]) -> EmailMessage:
    """A multipart/alternative message (plain text + HTML) with a stable Message-ID per delivery; its
    headers are checked as written (check_headers) before it is returned.

    Raises:
        MessageRefused: the written message would not carry the headers set here.
    """
    message = EmailMessage(policy=MAIL_POLICY)
    subject = clean_line(rendered.subject, limit=SUBJECT_MAX)
    message["Subject"] = subject
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
    check_headers(message, {"Subject": subject, "X-Newsmon-Key": key})
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


# The chat markup each service reads, as newsmon renders it (alerts/render.py CHAT_DIALECTS). Telegram gets
# its HTML (escape &, < and > and nothing else; a stray * or _ cannot break the message, as it can in
# its Markdown). Slack gets plain text: Apprise escapes Slack's &, < and > itself, and neither of the ways
# to hand it mrkdwn keeps page text as text (Apprise's CommonMark conversion leaves backslash escapes,
# which Slack shows; its pass-through turns "!here>" in the text back into a live <!here>). Discord and
# Mattermost read Markdown with backslash escapes. Services not named here get Markdown when Markdown is
# their own format, else plain text (a JSON webhook's receiver reads no markup).
CHAT_DIALECT_BY_SCHEME = {"tgram": "telegram", "slack": "text", "discord": "markdown", "mmost": "markdown",
                          "mmosts": "markdown", "json": "text", "jsons": "text"}


def chat_dialect(url: str) -> str:
    """The chat dialect a service reads, from its Apprise URL."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in CHAT_DIALECT_BY_SCHEME:
        return CHAT_DIALECT_BY_SCHEME[scheme]
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    formats = getattr(plugin, "notify_format", None)
    first = formats[0] if isinstance(formats, (tuple, list)) else formats
    return "markdown" if first == apprise.NotifyFormat.MARKDOWN else "text"


def send_apprise(channel: AppriseChannel, rendered: Rendered) -> None:
    """Send one chat message through an Apprise URL, in the markup its service reads.

    Raises:
        DeliveryError: the URL is not understood or the service did not accept the message.
    """
    url = channel.url.get_secret_value()
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryError(f"apprise URL not understood: {masked_url(url)}")
    dialect = CHAT_DIALECTS[chat_dialect(url)]
    title, body = rendered.chat(dialect.name)
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat(dialect.body_format))
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

