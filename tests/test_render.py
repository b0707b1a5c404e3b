"""Alert rendering: right-to-left HTML, escaping of page text, highlighted matches, chat markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from alerts.render import escape_markdown, render_alert
from newsmon.models import Alert, Hit, TopicMatch


def make_alert(title: str = "قاعدة كيه-1", language: str = "ar", snippet: str = "وصلت قوة الى قاعدة كيه-1 غرب كركوك",
               words: tuple[str, ...] = ("كيه-1",)) -> Alert:
    hits = [Hit(term=w, text=w, start=0, end=len(w)) for w in words]
    return Alert(route_id="desk", channel_id="mail", story_id="abc", title=title, url="https://k24.example/ar/story/1",
                 outlet="Kurdistan24", language=language, published=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
                 snippet=snippet, topics=[TopicMatch(topic="k1_base", name="K-1 air base", hits=hits)])


class _DirFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rtl_blocks: list[dict[str, str | None]] = []
        self.marks = 0
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("dir") == "rtl":
            self.rtl_blocks.append(values)
        self.marks += tag == "mark"
        self.scripts += tag == "script"


def test_arabic_email_is_rtl_with_ltr_metadata() -> None:
    rendered = render_alert(make_alert())
    parser = _DirFinder()
    parser.feed(rendered.html)
    assert parser.rtl_blocks and parser.rtl_blocks[0].get("lang") == "ar"
    assert 'dir="ltr"' in rendered.html  # metadata table stays left-to-right
    assert "<mark>كيه-1</mark>" in rendered.html
    assert "كيه-1" in rendered.text and "https://k24.example/ar/story/1" in rendered.text


def test_english_email_is_ltr() -> None:
    rendered = render_alert(make_alert(title="K1 base", language="en", snippet="near the K1 base", words=("K1",)))
    parser = _DirFinder()
    parser.feed(rendered.html)
    assert not parser.rtl_blocks


def test_page_text_is_escaped_everywhere() -> None:
    title = "<script>alert(1)</script> [click](http://evil) *bold*"
    rendered = render_alert(make_alert(title=title, snippet="x <img src=x onerror=alert(1)> كيه-1"))
    parser = _DirFinder()
    parser.feed(rendered.html)
    assert parser.scripts == 0
    assert "&lt;script&gt;" in rendered.html and "<img" not in rendered.html
    assert "\n" not in rendered.subject
    assert "\\[click\\]\\(http://evil\\)" in rendered.chat_body
    assert "\\*bold\\*" in rendered.chat_body


def test_subject_cannot_carry_header_injection() -> None:
    rendered = render_alert(make_alert(title="headline\r\nBcc: victim@example.org"))
    assert "\r" not in rendered.subject and "\n" not in rendered.subject


def test_escape_markdown() -> None:
    assert escape_markdown("a_b*c[d]") == "a\\_b\\*c\\[d\\]"
