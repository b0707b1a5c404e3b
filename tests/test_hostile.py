"""Hostile input costs only itself: a hostile fixture site served locally, polled by the real crawler
process; `config check` on hostile config files; what each chat format receives for a hostile headline."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import yaml

from newsmon import keys
from newsmon.app.replay import Fixed, ReplaySite
from newsmon.crawler import polls
from newsmon.scheduler.clock import LeaderLock, request_poll
from newsmon.settings import load_config
from tests.conftest import Roles, make_article, poll_finished, queued_stories, wait_for, write_config

NOW = datetime.now(UTC) - timedelta(hours=1)
BODY = ["Two rockets landed near the K-1 base west of Kirkuk on Friday, a security source said.",
        "Police opened an investigation into who launched them, the source added."]
GOOD = ("good-1", "good-2", "good-3")


def rss(base: str, links: list[tuple[str, str]]) -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid></item>" for t, link in links
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>h</title>{items}</channel></rss>'.encode()
    )


def good_links(base: str, kind: str) -> list[tuple[str, str]]:
    return [(f"{kind} {name}", f"{base}/{kind}/{name}") for name in GOOD]


@pytest.fixture
def hostile(replay: ReplaySite, roles: Roles, redis_conn: redis.Redis, tmp_path: Path):
    base = replay.base_url
    for kind in ("rss", "json", "listing", "sitemap", "loop", "tg"):
        for name in GOOD:
            replay.add_article(make_article(f"/{kind}/{name}", f"{kind} {name}", [f"{kind} {name}: {BODY[0]}",
                                                                                   BODY[1]]))
    bad = "http://[::1"
    good = good_links(base, "rss")
    replay.set_fixed("/rss", Fixed(body=rss(base, [good[0], ("Bad", bad), good[1], good[2]]),
                                   content_type="application/rss+xml"))
    replay.set_fixed("/json", Fixed(content_type="application/feed+json", body=json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "j", "items": [
            {"id": "1", "url": f"{base}/json/good-1", "title": "json good-1"},
            {"id": "x", "url": bad, "title": "bad link"},
            7, ["not", "an", "object"], {"id": "t", "url": f"{base}/json/x", "title": {"nested": True}},
            {"id": "2", "url": f"{base}/json/good-2", "title": "json good-2"},
            {"id": "3", "url": f"{base}/json/good-3", "title": "json good-3"}]}).encode()))
    replay.set_fixed("/json-dict", Fixed(content_type="application/feed+json", body=json.dumps(
        {"version": "https://jsonfeed.org/version/1", "items": {"a": 1}}).encode()))
    replay.set_fixed("/json-deep", Fixed(content_type="application/feed+json", body=(
        b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 50000 + b"]" * 50000 + b"}")))
    links = (
        "".join(f'<a href="/listing/{n}">listing {n}</a>' for n in GOOD[:1])
        + f'<a href="{bad}">bad</a>'
        + "".join(f'<a href="/listing/{n}">listing {n}</a>' for n in GOOD[1:])
    )
    replay.set_fixed("/listing", Fixed(body=f"<html><body><main>{links}</main></body></html>".encode()))
    evil = "".join(
        f'<a href="/x/{"a" * 40}{i}!">x</a>' for i in range(300)
    )  # (a+)+$ would backtrack on these
    replay.set_fixed(
        "/redos", Fixed(body=f"<html><body>{evil}<a href='/listing/good-1'>ok</a></body></html>".encode())
    )
    urls = "".join(
        f"<url><loc>{base}/sitemap/{n}</loc><lastmod>{NOW.isoformat()}</lastmod></url>" for n in GOOD
    )
    replay.set_fixed("/sitemap-news.xml", Fixed(content_type="application/xml", body=(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}'
        f"<url><loc>{bad}</loc></url></urlset>").encode()))
    replay.set_fixed("/sitemap.xml", Fixed(content_type="application/xml", body=(
        f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-news.xml</loc></sitemap><sitemap><loc>{bad}</loc></sitemap>"
        f"</sitemapindex>").encode()))
    # a sitemap index that lists itself and a chain of ever deeper indexes
    chain = "".join(f"<sitemap><loc>{base}/loop/{i}.xml</loc></sitemap>" for i in range(1))
    replay.set_fixed("/loop.xml", Fixed(content_type="application/xml", body=(
        f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/loop.xml</loc></sitemap>{chain}</sitemapindex>").encode()))
    for depth in range(20):
        replay.set_fixed(f"/loop/{depth}.xml", Fixed(content_type="application/xml", body=(
            f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{base}/loop/{depth + 1}.xml</loc></sitemap>"
            f"<sitemap><loc>{base}/loop.xml</loc></sitemap></sitemapindex>").encode()))
    posts = "".join(
        f'<div class="tgme_widget_message" data-post="chan/{i}"><div class="tgme_widget_message_text">'
        f'tg post {i}: {BODY[0]}</div><a class="tgme_widget_message_date" href="{href}">'
        f'<time datetime="{NOW.isoformat()}"></time></a></div>'
        for i, href in enumerate([f"{base}/tg/p1", bad, f"{base}/tg/p2", f"{base}/tg/p3"]))
    replay.set_fixed("/s/chan", Fixed(body=f"<html><body>{posts}</body></html>".encode()))
    sources = [
        {"id": "rss", "kind": "feed", "url": f"{base}/rss"},
        {"id": "json", "kind": "feed", "url": f"{base}/json"},
        {"id": "json-dict", "kind": "feed", "url": f"{base}/json-dict"},
        {"id": "json-deep", "kind": "feed", "url": f"{base}/json-deep"},
        {"id": "listing", "kind": "listing", "url": f"{base}/listing", "link_pattern": r"/listing/"},
        {"id": "redos", "kind": "listing", "url": f"{base}/redos", "link_pattern": r"(a+)+$"},
        {"id": "sitemap", "kind": "sitemap", "url": f"{base}/sitemap.xml"},
        {"id": "loop", "kind": "sitemap", "url": f"{base}/loop.xml"},
        {"id": "tg", "kind": "telegram", "url": f"{base}/s/chan"},
    ]
    for source in sources:
        source.update({"name": source["id"], "outlet": source["id"], "language": "en", "interval": 60})
    config_dir = write_config(
        tmp_path / "config", sources, {"channels": {"c": {"type": "console"}}, "routes": []}
    )
    (config_dir / "newsmon.yaml").write_text(
        yaml.safe_dump({"crawler": {"timeout": 5, "poll_max_requests": 30}})
    )
    config = load_config(config_dir)
    roles.start("crawler", config_dir, "crawler")
    leader = LeaderLock(redis_conn)
    assert leader.refresh()

    def request(source_id: str) -> int:
        before = int(redis_conn.hget(keys.source_state(source_id), "polls_total") or 0)
        assert request_poll(redis_conn, config.source(source_id), leader) == "requested"
        return before

    def finished(source_id: str, before: int, timeout: float = 60) -> dict[str, str]:
        poll_finished(redis_conn, source_id, before, timeout)
        return polls.source_state(redis_conn, source_id)

    def poll(source_id: str) -> dict[str, str]:
        return finished(source_id, request(source_id))

    poll.request, poll.finished = request, finished  # type: ignore[attr-defined]
    return poll


def enqueued_titles(conn: redis.Redis) -> set[str]:
    return {story["title"] for story in queued_stories(conn)}


def last_poll(conn: redis.Redis, source_id: str) -> dict:
    return json.loads(conn.lindex(keys.poll_history(source_id), 0))


@pytest.mark.parametrize("kind", ["rss", "json", "listing", "sitemap", "tg"])
def test_one_malformed_item_costs_only_itself(hostile, redis_conn: redis.Redis, kind: str) -> None:
    state = hostile(kind)
    assert state["status"] == "ok", state
    prefix = {"tg": "tg post"}.get(kind, kind)
    wait_for(lambda: len([t for t in enqueued_titles(redis_conn) if t.startswith(prefix)]) == 3, timeout=30,
             what=f"three good {kind} stories")
    record = last_poll(redis_conn, kind)
    assert record["skipped"] >= 1 and any("Invalid IPv6 URL" in r for r in record["skipped_reasons"]), record
    assert int(state["last_skipped"]) == record["skipped"]


def test_json_feed_items_of_the_wrong_shape_are_named(hostile, redis_conn: redis.Redis) -> None:
    hostile("json")
    reasons = last_poll(redis_conn, "json")["skipped_reasons"]
    assert any("item is a int, not an object" in r for r in reasons)
    assert any("item is a list, not an object" in r for r in reasons)
    assert any("title is a dict, not text" in r for r in reasons)
    dict_items = hostile("json-dict")
    assert dict_items["failure_kind"] == "unusable" and "items is a dict" in dict_items["last_error"]
    deep = hostile("json-deep")  # its only item is nested 50,000 deep: that item is skipped with the reason
    assert deep["failure_kind"] == "empty"
    reasons = last_poll(redis_conn, "json-deep")["skipped_reasons"]
    assert reasons == ["entry 0: ValueError: JSON nested too deeply"]


def test_a_backtracking_link_pattern_cannot_hang_the_crawler(hostile, redis_conn: redis.Redis) -> None:
    started = time.monotonic()
    state = hostile("redos")
    assert time.monotonic() - started < 20 and state["status"] in ("ok", "empty")


def test_a_sitemap_index_listing_itself_ends_within_its_budget_while_others_are_polled(
        hostile, redis_conn: redis.Redis, replay: ReplaySite) -> None:
    loop_before = hostile.request("loop")
    rss_before = hostile.request("rss")
    rss = hostile.finished("rss", rss_before, timeout=30)
    assert rss["status"] == "ok"  # polled while the loop runs
    loop = hostile.finished("loop", loop_before, timeout=60)
    record = last_poll(redis_conn, "loop")
    reasons = " ".join(record["skipped_reasons"])
    assert "already read in this poll" in reasons and "deeper than 3 index levels" in reasons, record
    hits = sum(n for path, n in replay.hits.items() if path.startswith("/loop"))
    assert hits <= 5, replay.hits  # the index, three levels below it, and nothing more
    assert loop["status"] in ("empty", "ok", "error")


def test_a_poll_over_its_request_budget_ends_as_over_budget(replay: ReplaySite, roles: Roles,
                                                           redis_conn: redis.Redis, tmp_path: Path) -> None:
    base = replay.base_url
    for i in range(40):
        replay.add_article(make_article(f"/many/{i}", f"story {i}", [f"{i}: {BODY[0]}", BODY[1]]))
    replay.set_fixed(
        "/many.rss",
        Fixed(
            body=rss(base, [(f"story {i}", f"{base}/many/{i}") for i in range(40)]),
            content_type="application/rss+xml",
        ),
    )
    source = {"id": "many", "name": "many", "outlet": "M", "language": "en", "kind": "feed",
              "url": f"{base}/many.rss", "interval": 60}
    config_dir = write_config(
        tmp_path / "config", [source], {"channels": {"c": {"type": "console"}}, "routes": []}
    )
    (config_dir / "newsmon.yaml").write_text(yaml.safe_dump({"crawler": {"poll_max_requests": 10}}))
    config = load_config(config_dir)
    roles.start("crawler", config_dir, "crawler")
    leader = LeaderLock(redis_conn)
    leader.refresh()
    assert request_poll(redis_conn, config.source("many"), leader) == "requested"
    wait_for(lambda: redis_conn.hget(keys.source_state("many"), "polls_total"), timeout=60, what="the poll")
    state = polls.source_state(redis_conn, "many")
    assert state["failure_kind"] == "over-budget" and "10 requests" in state["last_error"]
    assert replay.hits.get("/many.rss") == 1
    assert sum(n for path, n in replay.hits.items() if path.startswith("/many/")) == 9
    wait_for(lambda: len(enqueued_titles(redis_conn)) == 9, timeout=30, what="the nine stories fetched")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize(
    ("file", "content", "field", "reason"),
    [
        ("sources.yaml", BOMB + "sources: []\n", "line 2", "YAML aliases (*a) are not allowed"),
        (
            "sources.yaml",
            (
                "sources:\n  - {id: s, name: s, outlet: o, language: en, kind: listing, url: 'http://x/',\n"
                "     link_pattern: '(a)\\1'}\n"
            ),
            "sources[0]",
            "link_pattern: not supported by the linear-time",
        ),
        (
            "sources.yaml",
            (
                "sources:\n  - {id: s, name: s, outlet: o, language: en, kind: listing, url: 'http://x/',\n"
                "     link_pattern: '^(?!tags/).*'}\n"
            ),
            "sources[0]",
            "lookaround are not allowed",
        ),
        (
            "sources.yaml",
            (
                "sources:\n  - {id: s, name: s, outlet: o, language: en, kind: listing, url: 'http://x/',\n"
                "     link_selector: 'div.main a[href'}\n"
            ),
            "sources[0]",
            "link_selector: not a valid CSS selector",
        ),
        (
            "sources.yaml",
            (
                "sources:\n  - {id: s, name: s, outlet: o, language: en, kind: listing, url: 'http://x/',\n"
                "     link_xpath: '//a[@href'}\n"
            ),
            "sources[0]",
            "link_xpath: not a valid XPath",
        ),
        ("keywords.yaml", "topics: " + "[" * 5000 + "]" * 5000 + "\n", "keywords.yaml", "nested too deeply"),
    ],
)
def test_config_check_refuses_hostile_config_in_a_second(tmp_path: Path, file: str, content: str, field: str,
                                                         reason: str) -> None:
    config_dir = write_config(tmp_path / "config", [], {"channels": {"c": {"type": "console"}}, "routes": []})
    (config_dir / file).write_text(content)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", "config", "check", "--config-dir", str(config_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 2, result.stdout
    assert str(config_dir / file) in result.stderr and field in result.stderr and reason in result.stderr, \
        result.stderr
    # CPU time, not wall time, so a busy machine does not fail it: the interpreter's start is most of it
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 5, cpu


def test_a_lone_surrogate_or_controls_in_a_title_cost_nothing(tmp_path: Path) -> None:
    from newsmon.models import Story
    from newsmon.sanitize import TITLE_MAX

    story = Story(id="0" * 16, source_id="s", outlet="Out\u202elet", language="ar", url="https://x/\ud800",
                  canonical_url="https://x/", title="K-1 \ud800 \x1b[2J\u202egnp.exe\n" + "x" * 200_000,
                  text="first\u200c\u200f para\x00\n\nsecond\ud800")
    data = json.loads(story.model_dump_json())  # encodes as UTF-8 JSON: no surrogate left
    assert (
        data["title"].startswith("K-1 \ufffd [2J")
        and "\u202e" not in data["title"]
        and "\n" not in data["title"]
    )
    assert len(data["title"]) == TITLE_MAX and data["title"].endswith("…")
    assert data["outlet"] == "Outlet" and data["text"] == "first\u200c\u200f para\n\nsecond\ufffd"
