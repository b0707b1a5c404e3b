"""Alert rendering: subject, plain text, right-to-left aware HTML email and chat markdown (Jinja2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from newsmon.models import Alert

TEMPLATES = Path(__file__).parent / "templates"
RTL_LANGUAGES = frozenset({"ar", "ckb", "fa"})
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "ckb": "Sorani Kurdish",
    "kmr": "Kurmanji Kurdish",
    "en": "English",
    "tr": "Turkish",
    "fa": "Persian",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


@dataclass(frozen=True)
class Rendered:
    """One alert rendered for every kind of channel."""

    subject: str
    text: str
    html: str
    chat_title: str
    chat_body: str


def escape_markdown(value: object) -> str:
    """Backslash-escape markdown syntax so page text cannot add links or formatting to chat messages."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def highlight(snippet: str, words: list[str]) -> Markup:
    """The snippet HTML-escaped, with every matched word wrapped in <mark>."""
    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return escape(snippet)
    pattern = re.compile("|".join(re.escape(w) for w in words))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(snippet):
        out.append(str(escape(snippet[position : match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        position = match.end()
    out.append(str(escape(snippet[position:])))
    return Markup("".join(out))


def _environment(override_dir: Path | None, autoescape: bool) -> Environment:
    search = [str(override_dir)] if override_dir and override_dir.is_dir() else []
    env = Environment(
        loader=FileSystemLoader([*search, str(TEMPLATES)]),
        autoescape=select_autoescape(["html", "html.j2"]) if autoescape else False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["md"] = escape_markdown
    return env


def render_alert(alert: Alert, override_dir: Path | None = None) -> Rendered:
    """Render an alert; templates in `override_dir` (config/templates) replace the shipped ones."""
    topic_names = ", ".join(t.name for t in alert.topics)
    subject = f"[newsmon] {topic_names}: {alert.title} ({alert.outlet})"
    subject = " ".join(subject.split())  # no header injection through newlines in a page title
    published = alert.published.strftime("%Y-%m-%d %H:%M UTC") if alert.published else "time unknown"
    words = [w for t in alert.topics for w in t.matched_words()]
    values = {
        "alert": alert,
        "subject": subject,
        "topics_line": topic_names,
        "published": published,
        "language_name": LANGUAGE_NAMES.get(alert.language, alert.language),
        "direction": "rtl" if alert.language in RTL_LANGUAGES else "ltr",
        "highlighted_snippet": highlight(alert.snippet, words),
    }
    html = _environment(override_dir, True).get_template("email.html.j2").render(values)
    plain_env = _environment(override_dir, False)
    text = plain_env.get_template("email.txt.j2").render(values)
    chat_values = dict(values, alert=_MarkdownAlert(alert))
    chat_body = plain_env.get_template("chat.md.j2").render(chat_values)
    chat_title = f"{topic_names}: {alert.title}"
    return Rendered(subject=subject, text=text, html=html, chat_title=chat_title, chat_body=chat_body)


class _MarkdownAlert:
    """An alert whose page-derived string fields come out markdown-escaped in chat templates."""

    _ESCAPED = ("title", "outlet", "snippet")

    def __init__(self, alert: Alert) -> None:
        self._alert = alert

    def __getattr__(self, name: str) -> object:
        value = getattr(self._alert, name)
        if name in self._ESCAPED:
            return escape_markdown(value)
        if name == "topics":
            return [_MarkdownTopic(t) for t in value]
        return value


class _MarkdownTopic:
    def __init__(self, topic: object) -> None:
        self._topic = topic

    @property
    def name(self) -> str:
        return escape_markdown(self._topic.name)  # type: ignore[attr-defined]

    def matched_words(self) -> list[str]:
        return [escape_markdown(w) for w in self._topic.matched_words()]  # type: ignore[attr-defined]
