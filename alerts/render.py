"""Rendering deliveries: subject, plain text, right-to-left aware HTML email and chat markdown (Jinja2).

Everything taken from a page is escaped: HTML-escaped in email (autoescape), markdown-escaped in chat.
Times are shown in the desk's time zone. Operators may override each template by putting a file of
the same name in `<config dir>/templates/`; templates render in Jinja's sandbox, so one cannot reach
Python's internals (`__subclasses__`, `__globals__`, ...): such a template fails to render, and the
delivery with it, with the reason.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from newsmon.languages import NAMES, RIGHT_TO_LEFT
from newsmon.models import Delivery, StoryAlert
from newsmon.urls import readable_url

TEMPLATES = Path(__file__).parent / "templates"
RTL_LANGUAGES = RIGHT_TO_LEFT
LANGUAGE_NAMES = NAMES
# what Markdown (Discord, Mattermost, and Apprise's conversions for Slack and Telegram) reads as syntax
# anywhere in a line: parentheses, braces and ! make a link or image only after a bracket, which is
# escaped, so they stay as written ("Kurdistan Democratic Party (KDP)", not "\(KDP\)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|<>~])")
# ... and what it reads as syntax only at the start of a line (a heading, a list item, "1." numbering)
_LINE_START = re.compile(r"(?m)^([ \t]*)([#+-])")
_NUMBERED = re.compile(r"(?m)^([ \t]*\d+)([.)])")
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")  # overrides and isolates: page text may reorder


@dataclass(frozen=True)
class Rendered:
    """One delivery rendered for every kind of channel."""

    subject: str
    text: str
    html: str
    render_chat: Callable[[ChatDialect], tuple[str, str]]  # a dialect -> (title, body)
    _chats: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def chat(self, dialect: str) -> tuple[str, str]:
        """The chat title and body in one dialect (CHAT_DIALECTS), rendered when first asked for: an email
        delivery renders no chat, a chat delivery the one dialect its service reads."""
        if dialect not in self._chats:
            self._chats[dialect] = self.render_chat(CHAT_DIALECTS[dialect])
        return self._chats[dialect]

    @property
    def chat_title(self) -> str:
        """The Markdown dialect's title."""
        return self.chat("markdown")[0]

    @property
    def chat_body(self) -> str:
        """The Markdown dialect's body."""
        return self.chat("markdown")[1]


_MASS_MENTION = re.compile(r"(?i)([@＠])(?=(everyone|here|channel|all|room)\b)")
_TAG_MENTION = re.compile(r"<(?=[!@#&])")
_SCHEME = re.compile(r"(?i)\b(https?|ftp|mailto|tg|javascript|data):(//)?")
_DOMAIN_DOT = re.compile(r"(?<=[^\W_])\.(?=[^\W\d_]{2,})")
ZWSP = "\u200b"


def chat_safe(value: object) -> str:
    """Page text that can neither ping nor link in any chat: mass mentions (@everyone, @here, @channel,
    @all, <!here>, <@&role>) broken with a zero-width space, and URLs or domains in the text broken the
    same way (chat clients link bare URLs and domains); the story's own URL is added by the template, as
    the only link. No markup is escaped: that is each dialect's part."""
    text = _SCHEME.sub(lambda m: m.group(1) + ":" + ZWSP + (m.group(2) or ""), str(value))
    text = _DOMAIN_DOT.sub("." + ZWSP, text)
    text = _MASS_MENTION.sub("\\1" + ZWSP, text)
    text = _BIDI_CONTROLS.sub("", text)  # nothing after it in the message is shown reordered
    return _TAG_MENTION.sub("<" + ZWSP, text)


def escape_markdown(value: object) -> str:
    """Chat-safe page text for Markdown (Discord, Mattermost): its syntax backslash-escaped."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", chat_safe(value))
    return _NUMBERED.sub(r"\1\\\2", _LINE_START.sub(r"\1\\\2", text))


def escape_telegram(value: object) -> str:
    """Chat-safe page text for Telegram's HTML: &, < and > as entities, which is all it needs."""
    return html_lib.escape(chat_safe(value), quote=False)


@dataclass(frozen=True)
class ChatDialect:
    """One chat markup: how page text is escaped in it, how it emphasises, and the Apprise body format
    the message is handed over as (one Apprise passes on as it is)."""

    name: str
    escape: Callable[[object], str]
    strong: Callable[[str], str]
    body_format: str


CHAT_DIALECT_NAMES = {"markdown": "Markdown", "telegram": "Telegram HTML", "text": "plain text"}
CHAT_DIALECTS = {
    "markdown": ChatDialect("markdown", escape_markdown, lambda s: f"**{s}**", "markdown"),
    "telegram": ChatDialect("telegram", escape_telegram, lambda s: f"<b>{s}</b>", "html"),
    "text": ChatDialect("text", chat_safe, lambda s: s, "text"),
}


def chat_link(url: str) -> str:
    """The story's own URL as the one link of a chat message: characters that markdown or chat clients
    read as syntax or mentions are percent-encoded (the link still opens the same page)."""

    try:
        parts = urlsplit(url)
    except ValueError:
        return escape_markdown(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # no user info in a link shown to desks
    safe = "/:;=?&%+,~.-!$'"

    return urlunsplit((parts.scheme, netloc, quote(parts.path, safe=safe), quote(parts.query, safe=safe),
                       quote(parts.fragment, safe=safe)))


def _marked(snippet: str, words: list[str], dialect: ChatDialect | None) -> str | Markup:
    """The snippet escaped for HTML email (no dialect) or a chat dialect, with every matched word
    highlighted (and in HTML its paragraph breaks kept as line breaks)."""
    words = sorted({w for w in words if w}, key=len, reverse=True)
    quote = (lambda v: str(escape(v))) if dialect is None else dialect.escape
    mark = (lambda v: f"<mark>{v}</mark>") if dialect is None else dialect.strong
    out: list[str] = []
    position = 0
    if words:
        for match in re.finditer("|".join(re.escape(w) for w in words), snippet):
            out.append(quote(snippet[position:match.start()]))
            out.append(mark(quote(match.group(0))))
            position = match.end()
    out.append(quote(snippet[position:]))
    return Markup("".join(out).replace("\n", "<br>\n")) if dialect is None else "".join(out)


def _local_time(alert: StoryAlert, zone: Any) -> str:
    if alert.published is None:
        return "time unknown"
    local = alert.published.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


class _Item:
    """A story alert with everything a template needs, escaped for one kind of output."""

    def __init__(self, alert: StoryAlert, zone: Any, dialect: ChatDialect | None) -> None:
        html = dialect is None
        words = [w for t in alert.topics for w in t.matched_words()]
        self.alert = alert if html else _ChatAlert(alert, dialect)
        self.topics_line = ", ".join(t.name for t in alert.topics)
        self.published = _local_time(alert, zone)
        self.language_name = LANGUAGE_NAMES.get(alert.language, alert.language)
        self.direction = "rtl" if alert.language in RTL_LANGUAGES else "ltr"
        self.snippets = [_marked(s, words, dialect) for s in alert.snippets]
        self.title = _marked(alert.title, words, None) if html else alert.title  # a match in the title shows
        self.link_text = readable_url(alert.url)
        self.source_line = outlet_line(alert.outlet, alert.affiliation)
        self.also_lines = [outlet_line(c.outlet, c.affiliation) for c in alert.also]
        self.also_count = max(alert.also_reported_by, len(alert.also))
        self.breaking_line = breaking_line(alert, zone)
        self.also_in_line = also_in_line(alert, zone)
        # the desk's glosses (alerts/translate.py): an engine's text is escaped like a page's
        quote = (lambda v: v) if html or dialect is None else dialect.escape
        gloss = alert.gloss
        self.latin = quote(gloss.latin) if gloss and gloss.latin else ""
        self.gloss_title = quote(gloss.title) if gloss and gloss.title else ""
        self.gloss_snippets = [quote(t) for t in gloss.snippets if t] if gloss else []
        self.gloss_direction = "rtl" if gloss and gloss.language in RTL_LANGUAGES else "ltr"
        self.gloss_label = self.gloss_missing = ""
        if gloss and gloss.engine:
            self.gloss_label = gloss_label(gloss.language or "", gloss.engine)
        if gloss and gloss.missing:
            self.gloss_missing = f"no machine translation this time: {gloss.missing}"


def gloss_label(language: str, engine: str) -> str:
    """How a machine translation is marked wherever a desk reads it."""
    return f"machine translation into {LANGUAGE_NAMES.get(language, language)} by {engine}"


def also_in_line(alert: StoryAlert, zone: Any) -> str:
    """The story's event in other languages: "Also in Sorani: Rudaw 10:12; in English: Kurdistan24 10:20"."""
    by_language: dict[str, list[str]] = {}
    for report in alert.also_in:
        name = LANGUAGE_NAMES.get(report.language, report.language)
        at = report.at.astimezone(zone).strftime("%H:%M")
        by_language.setdefault(name, []).append(f"{report.outlet} {at}")
    parts = [f"in {name}: {', '.join(carriers)}" for name, carriers in by_language.items()]
    return ("Also " + "; ".join(parts)) if parts else ""


def breaking_line(alert: StoryAlert, zone: Any) -> str:
    """What makes a breaking alert: the spread across outlets, or the surge over the usual hour."""
    event = alert.breaking
    if event is None:
        return ""
    if event.kind == "surge":
        usual = event.usual or 0.0
        shown = f"{usual:.1f}" if usual < 10 else f"{usual:.0f}"
        return (
            f"{event.topic_name or event.topic}: {event.count} new stories in the last hour; usually {shown}"
        )
    minutes = round(event.minutes or 0)
    carried = ", ".join(
        f"{s.outlet} {s.at.astimezone(zone).strftime('%H:%M')} ({LANGUAGE_NAMES.get(s.language, s.language)})"
        for s in event.outlets
    )
    unit = "minute" if minutes == 1 else "minutes"
    languages = list(dict.fromkeys(LANGUAGE_NAMES.get(s.language, s.language) for s in event.outlets))
    spoken = f" in {len(languages)} languages ({', '.join(languages)})" if len(languages) > 1 else ""
    return f"reported by {len(event.outlets)} outlets{spoken} in {minutes} {unit}: {carried}"


def outlet_line(outlet: str, affiliation: str | None) -> str:
    """Who is speaking, in one short line: the outlet and, from the catalogue, who runs it."""
    if not affiliation:
        return outlet
    return f"{outlet} — {'affiliation ' if affiliation == 'not established' else ''}{affiliation}"


def _environment(override_dir: Path | None, autoescape: bool) -> Environment:
    search = [str(override_dir)] if override_dir and override_dir.is_dir() else []
    env = SandboxedEnvironment(  # an operator's template cannot reach Python's internals
        loader=FileSystemLoader([*search, str(TEMPLATES)]),
        autoescape=select_autoescape(["html", "html.j2"]) if autoescape else False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    # chat templates: `md` escapes page text and `strong` emphasises in the dialect being rendered
    env.filters["md"] = pass_context(lambda context, value: _dialect_of(context).escape(value))
    env.filters["strong"] = pass_context(lambda context, value: _dialect_of(context).strong(str(value)))
    return env


def _dialect_of(context: Any) -> ChatDialect:
    return context.get("dialect") or CHAT_DIALECTS["markdown"]


def subject_of(delivery: Delivery) -> str:
    """The email subject / chat title: topics, headline and outlet (or the digest's size)."""
    if delivery.kind == "digest":
        count = len(delivery.items)
        subject = f"[newsmon] digest for {delivery.desk_id}: {count} stor{'y' if count == 1 else 'ies'}"
    elif delivery.kind == "test":
        subject = f"[newsmon] test message for desk {delivery.desk_id}"
    else:
        item = delivery.items[0]
        topics = ", ".join(t.name for t in item.topics)
        urgent = "URGENT " if item.urgent else ""
        subject = f"[newsmon] {urgent}{topics}: {item.title} ({item.outlet})"
        if item.breaking is not None and item.breaking.kind == "surge":
            subject = f"[newsmon] {urgent}SURGE {breaking_line(item, UTC)}"
        elif item.breaking is not None:
            subject = (
                f"[newsmon] {urgent}BREAKING {topics}: {item.title} — {len(item.breaking.outlets)} outlets "
                f"in {round(item.breaking.minutes or 0)} min"
            )
    return " ".join(subject.split())  # no header injection through newlines in a page title


def render_health(delivery: Delivery) -> Rendered:
    """A health alert: short, the same in every channel."""
    health = delivery.health or {}
    state = "FIRING" if health.get("state") == "firing" else "RESOLVED"
    subject = " ".join(f"[newsmon] health {state}: {health.get('message', '')}".split())
    text = (
        f"{state}: {health.get('message', '')}\nproblem: {health.get('id', '')}\nsince: "
        f"{health.get('at', '')}\n"
        f"--\nnewsmon health check; `newsmon status` shows the whole picture\n"
    )
    html = f"<!DOCTYPE html><html><body><pre>{escape(text)}</pre></body></html>"
    return Rendered(subject=subject, text=text, html=html, render_chat=lambda dialect: (
        dialect.escape(subject.removeprefix("[newsmon] ")), dialect.escape(text)))


def render_delivery(delivery: Delivery, override_dir: Path | None = None) -> Rendered:
    """Render a delivery; templates in `override_dir` (config/templates) replace the shipped ones."""

    if delivery.kind == "health":
        return render_health(delivery)
    zone = ZoneInfo(delivery.timezone)
    subject = subject_of(delivery)
    slot = delivery.slot.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if delivery.slot else ""
    html_items = [_Item(a, zone, None) for a in delivery.items]
    text_items = [_Item(a, zone, CHAT_DIALECTS["text"]) for a in delivery.items]
    for item, alert in zip(text_items, delivery.items):
        item.alert = alert  # email's plain text is not a chat: page text stays as written
        item.snippets = list(alert.snippets)
    base = {"delivery": delivery, "subject": subject, "slot": slot}
    html = _environment(override_dir, True).get_template("email.html.j2").render(base, items=html_items)
    plain = _environment(override_dir, False)
    text = plain.get_template("email.txt.j2").render(base, items=text_items)

    def render_chat(dialect: ChatDialect) -> tuple[str, str]:
        body = plain.get_template("chat.md.j2").render(
            base, items=[_Item(a, zone, dialect) for a in delivery.items], dialect=dialect
        )
        return chat_title_of(delivery, dialect), body

    return Rendered(subject=subject, text=text, html=html, render_chat=render_chat)


def chat_title_of(delivery: Delivery, dialect: ChatDialect = CHAT_DIALECTS["markdown"]) -> str:
    """The chat title: the subject without its prefix, every page-derived part escaped for the dialect."""
    quote = dialect.escape
    if delivery.kind != "instant" or not delivery.items:
        return quote(subject_of(delivery).removeprefix("[newsmon] "))
    item = delivery.items[0]
    if item.breaking is not None:
        return quote(subject_of(delivery).removeprefix("[newsmon] "))
    topics = ", ".join(t.name for t in item.topics)
    urgent = "URGENT " if item.urgent else ""
    return " ".join(f"{urgent}{quote(topics)}: {quote(item.title)} ({quote(item.outlet)})".split())


class _ChatAlert:
    """A story alert whose page-derived fields come out escaped for one chat dialect."""

    _ESCAPED = ("title", "outlet", "note")

    def __init__(self, alert: StoryAlert, dialect: ChatDialect) -> None:
        self._alert = alert
        self._dialect = dialect

    def __getattr__(self, name: str) -> object:
        value = getattr(self._alert, name)
        if name in self._ESCAPED and value is not None:
            return self._dialect.escape(value)
        if name == "url":
            link = chat_link(value)
            return html_lib.escape(link, quote=False) if self._dialect.name == "telegram" else link
        if name == "topics":
            return [_ChatTopic(t, self._dialect) for t in value]
        return value


class _ChatTopic:
    def __init__(self, topic: object, dialect: ChatDialect) -> None:
        self._topic = topic
        self._dialect = dialect

    @property
    def name(self) -> str:
        return self._dialect.escape(self._topic.name)  # type: ignore[attr-defined]

    def matched_words(self) -> list[str]:
        return [self._dialect.escape(w) for w in self._topic.matched_words()]  # type: ignore[attr-defined]
