"""Snippets that read well: whole sentences or whole words, merged where they touch, "…" only where text
was left out; in HTML, paragraphs kept, the title highlighted, links readable."""

from __future__ import annotations

from newsmon.alerts.building import snippets
from newsmon.alerts.render import render_delivery
from newsmon.models import Carrier, Hit, Story, TopicMatch
from newsmon.snippets import excerpts
from tests.test_render import make_alert, make_delivery

TEXT = (
    "The council met on Monday to discuss the budget. A drone was shot down near the K-1 air base "
    "north-west of Kirkuk on Saturday, officials said. Residents heard two explosions before dawn.\n"
    "Coalition troops left the base in 2020. Since then Iraqi forces have run it and reported three similar "
    "attempts this year, none of which caused casualties or damage to the runway, the hangars or the "
    "barracks that house the units stationed there.\n"
    "In other news the governor opened a school."
)


def spans(*words: str) -> list[tuple[int, int]]:
    return [(TEXT.index(w), TEXT.index(w) + len(w)) for w in words]


def test_a_snippet_is_the_sentence_around_the_match() -> None:
    assert excerpts(TEXT, spans("K-1"), radius=120) == [
        "… A drone was shot down near the K-1 air base north-west of Kirkuk on Saturday, officials said. …"]


def test_a_long_sentence_is_cut_between_words_with_an_ellipsis() -> None:
    [snippet] = excerpts(TEXT, spans("casualties"), radius=60)
    assert snippet.startswith("… ") and snippet.endswith(" …")
    inner = snippet[2:-2]
    assert inner in TEXT and "casualties" in inner
    start = TEXT.index(inner)
    assert TEXT[start - 1] == " " and TEXT[start + len(inner)] in " ,"  # whole words at both ends


def test_snippets_that_touch_are_one_and_nothing_left_out_has_no_ellipsis() -> None:
    """Matches in consecutive sentences: one snippet, with "…" only at its ends; the paragraph break
    inside it stays; a sentence left out between two matches separates them; a text shown whole has none."""
    [snippet] = excerpts(TEXT, spans("K-1", "explosions", "Coalition"), radius=120)
    assert snippet == (
        "… A drone was shot down near the K-1 air base north-west of Kirkuk on Saturday, officials "
        "said. Residents heard two explosions before dawn.\nCoalition troops left the base in 2020. …"
    )
    assert snippet.count("…") == 2
    assert excerpts(TEXT, spans("K-1", "Coalition"), radius=120) == [
        "… A drone was shot down near the K-1 air base north-west of Kirkuk on Saturday, officials said. …",
        "… Coalition troops left the base in 2020. …"]
    short = "Rockets hit the K-1 base. No one was hurt."
    assert excerpts(short, [(16, 19)], radius=120) == [short]


def test_far_apart_matches_make_separate_snippets_up_to_the_limit() -> None:
    found = excerpts(TEXT, spans("K-1", "casualties", "governor"), radius=40, most=2)
    assert len(found) == 2 and "K-1" in found[0] and "casualties" in found[1] and "governor" not in found[1]
    assert all(s.startswith("… ") and s.endswith(" …") for s in found)


def test_a_title_only_match_shows_the_opening_cut_at_a_sentence() -> None:
    story = Story(id="s", source_id="x", outlet="O", language="en", url="https://o.example/1",
                  canonical_url="https://o.example/1", title="K-1 base", text=TEXT)
    topics = [TopicMatch(topic="k1_base", name="K-1 air base",
                         hits=[Hit(term="K-1", text="K-1", start=0, end=3, field="title")])]
    assert snippets(story, topics, radius=60) == ["The council met on Monday to discuss the budget. …"]


def test_html_keeps_paragraphs_highlights_the_title_and_shows_a_readable_link() -> None:
    url = "https://www.kurdistan24.net/ar/story/" + "%D9%82%D8%A7%D8%B9%D8%AF%D8%A9-%D9%83%D9%8A%D9%87-1"
    alert = make_alert(
        title="سقوط صاروخ على قاعدة كيه-1",
        snippet="وصلت قوة الى قاعدة كيه-1.\nوقال مصدر امني",
        words=("كيه-1",),
    ).model_copy(update={"url": url})
    html = render_delivery(make_delivery(alert)).html
    assert f'<a href="{url}">سقوط صاروخ على قاعدة <mark>كيه-1</mark></a>' in html
    assert "قاعدة <mark>كيه-1</mark>.<br>\nوقال مصدر امني" in html
    assert f'<a href="{url}"><bdi>https://www.kurdistan24.net/ar/story/قاعدة-كيه-1</bdi></a>' in html


def test_affiliations_in_email_chat_and_digest() -> None:
    alert = make_alert().model_copy(update={
        "affiliation": "Kurdistan Democratic Party (KDP)", "also_reported_by": 2,
        "also": [Carrier(outlet="Rudaw", affiliation="close to the KDP"),
                 Carrier(outlet="Shafaq News", affiliation="not established")]})
    instant = render_delivery(make_delivery(alert))
    assert "Kurdistan24 — Kurdistan Democratic Party (KDP)" in instant.text
    assert (
        "Also reported by 2 other outlets:\n  Rudaw — close to the KDP\n  Shafaq News — affiliation not "
        "established"
        in instant.text
    )
    assert (
        "<bdi>Kurdistan Democratic Party (KDP)</bdi>" in instant.html
        and "<bdi>Rudaw — close to the KDP</bdi>" in instant.html
    )
    chat = render_delivery(make_delivery(alert, channel="chat")).chat_body
    assert (
        "Kurdistan24 — Kurdistan Democratic Party (KDP)" in chat and "- Rudaw — close to the KDP" in chat
    )
    digest = render_delivery(make_delivery(alert, make_alert(story_id="b"), kind="digest"))
    assert digest.text.count("Kurdistan24 — Kurdistan Democratic Party (KDP)") == 1
    assert "<bdi>Kurdistan Democratic Party (KDP)</bdi>" in digest.html
