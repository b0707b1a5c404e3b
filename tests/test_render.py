"""Rendering: right-to-left HTML, escaping of page text, highlighted matches, times in the desk's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

from newsmon.alerts.render import escape_markdown, render_delivery
from newsmon.models import Delivery, Hit, StoryAlert, TopicMatch


def make_alert(
    title: str = "قاعدة كيه-1",
    language: str = "ar",
    snippet: str = "وصلت قوة الى قاعدة كيه-1 غرب كركوك",
    words: tuple[str, ...] = ("كيه-1",),
    story_id: str = "abc",
    published: datetime | None = None,
    note: str | None = None,
) -> StoryAlert:
    hits = [Hit(term=w, text=w, start=0, end=len(w)) for w in words]
    return StoryAlert(story_id=story_id, cluster_id=story_id, title=title, url="https://k24.example/ar/story/1",
                      outlet="Kurdistan24", language=language, snippets=[snippet], note=note,
                      published=published or datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
                      topics=[TopicMatch(topic="k1_base", name="K-1 air base", hits=hits)])


def make_delivery(*alerts: StoryAlert, kind: str = "instant", channel: str = "mail", desk: str = "desk",
                  slot: datetime | None = None) -> Delivery:
    return Delivery(
        desk_id=desk, channel_id=channel, kind=kind, items=list(alerts) or [make_alert()], slot=slot
    )


class _DirFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rtl_blocks: list[dict[str, str | None]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("dir") == "rtl":
            self.rtl_blocks.append(values)
        self.scripts += tag == "script"


def test_arabic_email_is_rtl_with_ltr_metadata_and_local_time() -> None:
    rendered = render_delivery(make_delivery())
    parser = _DirFinder()
    parser.feed(rendered.html)
    assert parser.rtl_blocks and parser.rtl_blocks[0].get("lang") == "ar"
    assert 'dir="ltr"' in rendered.html  # metadata table stays left-to-right
    assert "<mark>كيه-1</mark>" in rendered.html
    assert "2026-11-20 11:00 +03" in rendered.text  # 08:00 UTC shown in Asia/Baghdad
    assert "كيه-1" in rendered.text and "https://k24.example/ar/story/1" in rendered.text


def test_english_email_is_ltr() -> None:
    rendered = render_delivery(
        make_delivery(make_alert(title="K1 base", language="en", snippet="near the K1 base", words=("K1",)))
    )
    parser = _DirFinder()
    parser.feed(rendered.html)
    assert not parser.rtl_blocks


def test_page_text_is_escaped_everywhere() -> None:
    title = "<script>alert(1)</script> [click](http://evil) *bold*"
    rendered = render_delivery(
        make_delivery(make_alert(title=title, snippet="x <img src=x onerror=alert(1)> كيه-1"))
    )
    parser = _DirFinder()
    parser.feed(rendered.html)
    assert parser.scripts == 0
    assert "&lt;script&gt;" in rendered.html and "<img" not in rendered.html
    assert "\n" not in rendered.subject
    assert "\\[click\\](http:\u200b//evil)" in rendered.chat_body and "\\*bold\\*" in rendered.chat_body
    assert "**كيه-1**" in rendered.chat_body  # matched words in the chat's own markup


def test_subject_cannot_carry_header_injection() -> None:
    rendered = render_delivery(make_delivery(make_alert(title="headline\r\nBcc: victim@example.org")))
    assert "\r" not in rendered.subject and "\n" not in rendered.subject


def test_digest_lists_stories_with_notes() -> None:
    first = make_alert(title="First", story_id="a1", published=datetime(2026, 11, 20, 5, 0, tzinfo=UTC))
    second = make_alert(title="Second", story_id="a2", note="held during quiet hours (22:00-07:00)")
    rendered = render_delivery(make_delivery(first, second, kind="digest",
                                             slot=datetime(2026, 11, 20, 5, 0, tzinfo=UTC)))
    assert "digest for desk: 2 stories" in rendered.subject
    assert rendered.text.index("First") < rendered.text.index("Second")
    assert "held during quiet hours" in rendered.text and "2026-11-20 08:00" in rendered.text


def test_escape_markdown() -> None:
    assert escape_markdown("a_b*c[d]") == "a\\_b\\*c\\[d\\]"
    # only what Markdown reads as syntax: parentheses stay as written, a heading mark only at a line's start
    assert escape_markdown("Kurdistan Democratic Party (KDP) #1") == "Kurdistan Democratic Party (KDP) #1"
    assert escape_markdown("# big\n + item") == "\\# big\n \\+ item"
    assert escape_markdown("![x](y) <b>") == "!\\[x\\](y) \\<b\\>"


def test_a_message_without_topics_has_no_empty_matched_line() -> None:
    """`alerts test` sends a story with no topics: no `Matched:` line with nothing after it, anywhere."""
    bare = make_alert().model_copy(update={"topics": []})
    for kind in ("test", "instant"):
        rendered = render_delivery(make_delivery(bare, kind=kind))
        assert "Matched" not in rendered.text and "Matched" not in rendered.chat_body
        assert "<td>Matched</td>" not in rendered.html
    tagged = render_delivery(make_delivery())
    assert "Matched: K-1 air base (كيه-1)" in tagged.text and "Matched: K-1 air base" in tagged.chat_body
    assert "<td>Matched</td>" in tagged.html
