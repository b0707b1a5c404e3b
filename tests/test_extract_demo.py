"""Article extraction from outlet-like pages, and `newsmon demo --json` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmon.app.replay import Article, ReplaySite, read_story_file
from newsmon.crawler.extract import extract_article
from newsmon.crawler.language import detect_language
from newsmon.errors import FetchError
from tests.conftest import FIXTURES


def test_seed_page_extracts_title_text_date_and_canonical() -> None:
    title, paragraphs = read_story_file(FIXTURES / "seed" / "000_128dad676d5a1ee3.txt")
    article = Article(path="/ar/story/128676/k1", title=title, paragraphs=paragraphs, language="ar",
                      outlet="Kurdistan24", published=datetime(2017, 11, 16, 8, 30, tzinfo=UTC))
    html = ReplaySite.render_article(article, "https://www.kurdistan24.net").decode()
    extracted = extract_article(html, "https://www.kurdistan24.net/ar/story/128676/k1?utm_source=fb")
    assert extracted.title == title
    assert "قاعدة كيه-1" in extracted.text and "لقوات التحالف" in extracted.text
    assert "Related story" not in extracted.text and "All rights reserved" not in extracted.text
    assert extracted.published == datetime(2017, 11, 16, 8, 30, tzinfo=UTC)
    assert extracted.canonical_url == "https://www.kurdistan24.net/ar/story/128676/k1"
    assert extracted.language == "ar"


def test_page_without_article_text_is_an_error() -> None:
    with pytest.raises(FetchError):
        extract_article("<html><body><nav><a href='/'>Home</a></nav></body></html>", "https://x.example/")
    with pytest.raises(FetchError):
        extract_article("", "https://x.example/")


def test_canonical_to_another_site_is_ignored() -> None:
    body = "<p>" + "A long paragraph about the K-1 base near Kirkuk and what happened there. " * 5 + "</p>"
    html = f'<html><head><link rel="canonical" href="https://aggregator.example/x"></head><body>{body}</body></html>'
    assert extract_article(html, "https://outlet.example/story/1").canonical_url is None


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        ("هێزەکانی هاوپەیمانی لە بنکەکە دەرچوون و پێشمەرگە گەیشتن بۆ شارەکە لە ئێوارەدا", "ar", "ckb"),
        ("انسحبت قوات التحالف من القاعدة الجوية غرب كركوك مساء امس بحسب مصادر امنية", "ckb", "ar"),
        (
            "Hêzên Pêşmergeyan û artêşa Iraqê îro li gundên başûrê Kerkûkê operasyonek dan destpêkirin",
            "en",
            "kmr",
        ),
        (
            "Two rockets struck the K-1 air base west of Kirkuk late on Friday, a security source said",
            "ar",
            "en",
        ),
        (
            "Irak ordusu bugün Kerkük yakınlarında bir operasyon başlattı ve çok sayıda gözaltı var",
            "en",
            "tr",
        ),
        ("short", "ku-Arab", "ckb"),
        ("short", "ku-Latn", "kmr"),
        ("short", None, "en"),
    ],
)
def test_language_detection(text: str, declared: str | None, expected: str) -> None:
    assert detect_language(text, declared, "en") == expected


@pytest.mark.e2e
def test_demo_json_shows_seed_story_alert(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "NEWSMON_DATA_DIR")}
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", "demo", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    for alert in alerts:
        assert {"title", "url", "outlet", "language", "topics", "matches"} <= set(alert)
    seed = [a for a in alerts if "تحرك قوات امريكية" in a["title"]]
    assert len(seed) == 1
    assert {"k1_base", "coalition_troops"} <= set(seed[0]["topics"])
    assert "كيه-1" in seed[0]["matches"]["k1_base"]
    assert seed[0]["outlet"] == "Kurdistan24" and seed[0]["language"] == "ar"
    assert {a["language"] for a in alerts} >= {"ar", "ckb", "kmr", "en"}
    assert not any("oil exports" in a["title"].lower() for a in alerts)  # no false alarm


BODY_TEXT = (
    "<p>"
    + "The joint operations command said the drone was brought down before it reached the base. " * 4
    + "</p>"
)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        # everything in the head
        (
            (
                '<html lang="en"><head><title>Site | Page</title><meta property="og:title" content=" '
                'Drone  downed ">'
                '<meta name="author" content="Hemin Salih"><link rel="canonical" href="https://x.example/a">'
                '<meta property="article:published_time" '
                'content="2026-11-16T10:30:00+03:00"></head><body><article>'
                f"<h1>Other</h1>{BODY_TEXT}</article></body></html>"
            ),
            ("Drone downed", "Hemin Salih", "2026-11-16T07:30:00+00:00", "https://x.example/a", "en"),
        ),
        # the head lacks them: the body's h1, rel="author", <time datetime>; a meta without content is skipped
        (
            (
                '<html><head><title> Page title </title><meta property="og:title"><meta name="author" '
                'content="  ">'
                '</head><body><article><h1> Body  title </h1><span class="by"><a REL="author" '
                'href="/u"> Dilan </a></span>'
                f'<time datetime="2026-11-16T08:00:00Z">today</time>{BODY_TEXT}</article></body></html>'
            ),
            ("Body title", "Dilan", "2026-11-16T08:00:00+00:00", None, None),
        ),
        # nothing but a <title>; the word "author" in a class is not an author
        (
            (
                '<html><head><title>Only the title</title></head><body><div '
                f'class="author-box">x</div>{BODY_TEXT}</body></html>'
            ),
            ("Only the title", None, None, None, None),
        ),
    ],
)
def test_page_metadata_from_head_then_body(markup: str, expected: tuple) -> None:
    found = extract_article(markup, "https://x.example/a?utm_source=y")
    published = found.published.astimezone(UTC).isoformat() if found.published else None
    assert (found.title, found.author, published, found.canonical_url, found.language) == expected


def test_comment_markers_inside_paragraphs_keep_the_whole_text() -> None:
    """Server-rendered React writes `<!-- -->` between the pieces of a paragraph: every piece stays."""
    page = (FIXTURES / "pages" / "react_comment_markers.html").read_text(encoding="utf-8")
    found = extract_article(page, "https://outlet.example/news/drone")
    paragraphs = found.text.split("\n")
    assert paragraphs == [
        (
            "When the joint operations command announced on Saturday that a drone had been shot down "
            "near the K-1 air "
            "base north-west of Kirkuk, residents of the nearby villages said they had heard two "
            "explosions shortly "
            "before dawn."
        ),
        (
            "The statement said the drone carried explosives and was brought down before it reached the "
            "base; no one "
            "was hurt and an investigation into where it was launched from has begun."
        ),
        (
            "Coalition troops left the base in 2020, and it has since been run by Iraqi forces, who "
            "have reported "
            "three similar attempts this year."
        ),
    ]


def test_a_date_without_a_zone_is_the_outlets_time_on_every_path() -> None:
    """`2026-11-16T10:30:00` from a Baghdad outlet is 07:30 UTC whether it comes from the page's meta,
    its <time> element or the feed (one date function, in the outlet's zone)."""
    from newsmon.crawler.dates import parse_date

    body = (
        "<p>" + "The governor said the road to the base would reopen on Monday after repairs. " * 4 + "</p>"
    )
    meta = (f'<html><head><meta property="article:published_time" content="2026-11-16T10:30:00"></head>'
            f'<body><article><h1>Road</h1>{body}</article></body></html>')
    element = (f'<html><body><article><h1>Road</h1><time datetime="2026-11-16T10:30:00">x</time>{body}'
               "</article></body></html>")
    expected = datetime(2026, 11, 16, 7, 30, tzinfo=UTC)
    assert extract_article(meta, "https://x.example/a", "Asia/Baghdad").published == expected
    assert extract_article(element, "https://x.example/a", "Asia/Baghdad").published == expected
    assert parse_date("2026-11-16T10:30:00", "Asia/Baghdad") == expected


def test_a_page_the_fast_path_returns_whole_gets_its_article() -> None:
    """A page whose markup names no content block: the fast path returns the whole page (menu, "most
    read" list, footer); the extractor sees that and takes trafilatura's full path, which finds the
    article."""
    import trafilatura

    page = (FIXTURES / "pages" / "no_content_block.html").read_text(encoding="utf-8")
    fast = trafilatura.extract(page, fast=True)
    assert "Privacy policy" in fast and "Most read" in fast  # the failure this guards against, as it is
    found = extract_article(page, "https://outlet.example/news/drone")
    assert found.title == "Drone downed near K-1 air base"
    assert found.text.split("\n") == [
        "Kirkuk · 16 November 2026",
        (
            "A drone carrying explosives was shot down on Saturday near the K-1 air base north-west of "
            "Kirkuk, the joint operations command said in a statement."
        ),
        (
            "Residents of two nearby villages said they heard explosions shortly before dawn. No one "
            "was hurt, and an investigation into where the drone was launched from has begun."
        ),
        (
            "Coalition troops left the base in 2020; Iraqi forces who run it have reported three similar "
            "attempts this year."
        ),
    ]


_ODD_INPUTS = [
    '<?xml version="1.0" encoding="utf-8"?><html><body><p>declared in a string</p></body></html>',
    "",
    "plain text, no markup",
    "<p>a lone fragment</p>",
    "<div><p>a</p><p>b</p></div>",
    "<html/>\n<body><p>self-closing html</p></body>",
    "<!DOCTYPE html>\n<html><body><p>a NUL\x00inside</p></body></html>",
    "\ufeff<html><body>after a BOM</body></html>",
    "<html><body>" + "<div>" * 3000 + "deep" + "</div>" * 3000 + "</body></html>",
]


def test_the_page_parser_builds_trafilaturas_tree_without_python_class_lookups() -> None:
    """The extractor parses with trafilatura's settings but lxml's C-level class lookup: the same tree
    and the same fast and full extractions as `trafilatura.load_html` on every page fixture, the seed
    page and odd inputs; and no per-element Python lookup (lxml.html's would make a <form> a
    FormElement)."""
    import trafilatura
    from lxml import etree
    from lxml.html import HtmlElement

    from newsmon.crawler.extract import load_html

    title, paragraphs = read_story_file(FIXTURES / "seed" / "000_128dad676d5a1ee3.txt")
    seed = Article(path="/ar/story/128676/k1", title=title, paragraphs=paragraphs, language="ar",
                   outlet="Kurdistan24", published=datetime(2017, 11, 16, 8, 30, tzinfo=UTC))
    pages = [path.read_text(encoding="utf-8", errors="replace") for path in sorted(FIXTURES.rglob("*.html"))]
    pages.append(ReplaySite.render_article(seed, "https://www.kurdistan24.net").decode())
    assert len(pages) >= 5
    for html in pages + _ODD_INPUTS:
        ours, theirs = load_html(html), trafilatura.load_html(html)
        assert (ours is None) == (theirs is None), html[:60]
        if ours is None:
            continue
        assert etree.tostring(ours) == etree.tostring(theirs), html[:60]
        for fast in (True, False):
            mine, reference = (
                trafilatura.bare_extraction(tree, url="https://x.example/a", with_metadata=False, fast=fast)
                for tree in (ours, theirs)
            )
            assert (mine and mine.text) == (reference and reference.text), html[:60]
    form = load_html("<html><body><form><input name='q'></form><p>text</p></body></html>")
    assert {type(element) for element in form.iter()} == {HtmlElement}
    theirs = trafilatura.load_html("<html><body><form></form></body></html>")
    assert type(next(theirs.iter("form"))) is not HtmlElement  # what lxml.html's lookup makes of it
