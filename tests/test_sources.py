"""Every source kind against the replay site: new items found, old ones skipped, failures named and
backed off, charsets and Arabic/Sorani dates handled, private addresses refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
import redis
import yaml

from newsmon import keys
from newsmon.app.replay import Fixed, ReplaySite
from newsmon.crawler import polls
from newsmon.scheduler.clock import LeaderLock, request_poll
from newsmon.settings import load_config
from tests.conftest import (
    FIXTURES,
    Roles,
    add_feed,
    make_article,
    poll_finished,
    queued_stories,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e

PAGES = FIXTURES / "pages"
ALERTS = {"channels": {"c": {"type": "console"}}, "routes": []}
TODAY = datetime.now(UTC) - timedelta(hours=2)
OLD = TODAY - timedelta(days=30)
BODY = ["سقط صاروخان مساء امس على قاعدة كيه-1 غرب كركوك من دون ان يسفرا عن اصابات بحسب مصدر امني.",
        "واضاف المصدر ان القوات الامنية فتحت تحقيقا لمعرفة الجهة التي اطلقت الصواريخ."]


def page(name: str, base: str) -> bytes:
    text = (PAGES / name).read_text(encoding="utf-8")
    return (
        text.replace("{base}", base)
        .replace("{today}", TODAY.isoformat())
        .replace("{old}", OLD.isoformat())
        .encode()
    )


def article_html(title: str, date_text: str, paragraphs: list[str], lang: str = "ar") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<html lang="{lang}" dir="rtl"><head><title>{title}</title></head><body><nav><a '
        'href="/">الرئيسية</a></nav>'
        f'<article><h1>{title}</h1><div class="post-date">{date_text}</div>{body}</article></body></html>'
    )


def stories(conn: redis.Redis, expected: int | None = None) -> dict[str, dict]:
    """The stories enqueued so far; with `expected`, wait until that many are there (a poll is recorded
    as done when its last callback has run, which can be a moment before its last item is enqueued)."""

    def read() -> dict[str, dict]:
        return {story["url"]: story for story in queued_stories(conn)}

    if expected is not None:
        wait_for(lambda: len(read()) >= expected, timeout=30, what=f"{expected} stories enqueued")
    return read()


@pytest.fixture
def site(replay: ReplaySite, roles: Roles, redis_conn: redis.Redis, tmp_path: Path):
    base = replay.base_url
    port = base.rsplit(":", 1)[1]
    # listing: Shafaq-like "all news" page, Arabic section paths with tatweel
    replay.set_fixed("/ar/كل-الاخبار", Fixed(body=page("shafaq_all_news.html", base)))
    replay.set_fixed(
        "/ar/أمـن/صواريخ-على-قاعدة-كيه-1",
        Fixed(  # windows-1256, but declared UTF-8
            body=article_html(
                "سقوط صواريخ على قاعدة كيه-1", "16 تشرين الثاني 2026 الساعة 10:30", BODY
            ).encode("cp1256"),
            content_type="text/html; charset=utf-8",
        ),
    )
    replay.set_fixed(
        "/ar/كوردســتانيات/وفد-التحالف-في-اربيل",
        Fixed(  # UTF-8 with a BOM, no charset declared
            body="\ufeff".encode()
            + article_html(
                "شاندی هاوپەیمانی لە هەولێر",
                "٢٠ی تشرینی دووەمی ٢٠٢٦ کاتژمێر ١٤:٠٥",
                [
                    (
                        "شاندێکی هاوپەیمانیی نێودەوڵەتی ئەمڕۆ گەیشتە هەولێر بۆ تاوتوێکردنی دۆسیەی "
                        "ڕاوێژکارەکان لە هەرێمدا."
                    ),
                    "بەرپرسێک ڕایگەیاند کە کۆبوونەوەکان دوو ڕۆژ دەخایەنن و پێشمەرگەش بەشدار دەبێت.",
                ],
                "ckb",
            ).encode(),
            content_type="text/html",
        ),
    )
    replay.add_article(make_article("/ar/اقتصـاد/ارتفاع-صادرات-النفط", "ارتفاع صادرات النفط", [
        "ارتفعت صادرات العراق النفطية خلال الشهر الماضي بنسبة اربعة بالمئة بحسب بيان لوزارة النفط.",
        "وقال المتحدث باسم الوزارة ان المعدل اليومي بلغ ثلاثة ملايين واربعمئة الف برميل."], language="ar"))
    # sitemap: index -> today's news sitemap; the old child sitemap and the old URL are not read
    replay.set_fixed(
        "/sitemap.xml", Fixed(body=page("sitemap_index.xml", base), content_type="application/xml")
    )
    replay.set_fixed(
        "/sitemaps/news-today.xml", Fixed(body=page("sitemap_news.xml", base), content_type="application/xml")
    )
    replay.set_fixed(
        "/sitemaps/news-old.xml", Fixed(body=page("sitemap_news.xml", base), content_type="application/xml")
    )
    replay.add_article(make_article("/news/localnews/570001/صواريخ-على-كيه-1", "صواريخ على قاعدة كيه-1", BODY,
                                    language="ar"))
    replay.add_article(make_article("/news/politics/570002/جلسة-البرلمان", "جلسة البرلمان", [
        "عقد مجلس النواب جلسته الاعتيادية برئاسة رئيس المجلس وحضور مئة وستين نائبا لمناقشة الموازنة.",
        "وقرر المجلس رفع الجلسة الى يوم الاثنين المقبل لاستكمال القراءة الثانية."], language="ar"))
    # telegram channel preview
    replay.set_fixed("/s/shafaaqnews", Fixed(body=page("telegram_channel.html", base)))
    # feeds: full content (the real Iraqi News feed), empty, blocked, slow, rate-limited, redirected, hostile
    replay.set_fixed(
        "/iraqinews/feed",
        Fixed(
            body=(FIXTURES / "real" / "iraqinews.com" / "feed_2025-04-22.rss.xml").read_bytes(),
            content_type="application/rss+xml",
        ),
    )
    replay.set_fixed(
        "/empty/rss",
        Fixed(
            body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
            content_type="application/rss+xml",
        ),
    )
    replay.set_fixed("/blocked/rss", Fixed(status=403, body=b"<html><body>Forbidden</body></html>"))
    replay.set_fixed("/slow/rss", Fixed(body=b"<rss/>", delay=3))
    replay.set_fixed("/limited/rss", Fixed(status=429, body=b"slow down", headers={"Retry-After": "900"}))
    replay.set_fixed("/moved/rss", Fixed(status=302, body=b"", headers={"Location": f"http://localhost:{port}/other/rss"}))
    add_feed(replay, "/other/rss", [make_article("/other/1", "Other site", BODY)])
    replay.add_article(make_article("/hostile/ok", "Fine", BODY))
    replay.set_fixed("/hostile/rss", Fixed(content_type="application/rss+xml", body=f"""<?xml version="1.0"?>
        <rss version="2.0"><channel><title>Hostile</title>
        <item><title>Fine</title><link>{base}/hostile/ok</link></item>
        <item><title>Internal</title><link>http://127.0.0.2:{port}/internal</link></item>
        <item><title>Internal v6</title><link>http://[::1]:{port}/internal6</link></item>
        <item><title>Broken</title><link>http://127.0.0.1:notaport/x</link></item>
        </channel></rss>""".encode()))
    sources = [
        {
            "id": "shafaq-all",
            "kind": "listing",
            "url": f"{base}/ar/كل-الاخبار",
            "language": "ar",
            "outlet": "Shafaq News",
            "link_pattern": r"^https?://[^/]+/ar/[^/]+/[^/]+$",
            "link_exclude": r"/ar/(tags|bbc-arabic|page)/",
        },
        {
            "id": "sumaria-sitemap",
            "kind": "sitemap",
            "url": f"{base}/sitemap.xml",
            "language": "ar",
            "outlet": "Alsumaria",
        },
        {
            "id": "shafaq-tg",
            "kind": "telegram",
            "url": f"{base}/s/shafaaqnews",
            "language": "ar",
            "outlet": "Shafaq News",
        },
        {
            "id": "iraqinews",
            "kind": "feed",
            "url": f"{base}/iraqinews/feed",
            "language": "en",
            "outlet": "Iraqi News",
        },
        {"id": "empty", "kind": "feed", "url": f"{base}/empty/rss", "language": "en", "outlet": "E"},
        {"id": "blocked", "kind": "feed", "url": f"{base}/blocked/rss", "language": "en", "outlet": "B"},
        {"id": "slow", "kind": "feed", "url": f"{base}/slow/rss", "language": "en", "outlet": "S"},
        {"id": "limited", "kind": "feed", "url": f"{base}/limited/rss", "language": "en", "outlet": "L"},
        {"id": "moved", "kind": "feed", "url": f"{base}/moved/rss", "language": "en", "outlet": "M"},
        {
            "id": "other",
            "kind": "feed",
            "url": f"http://localhost:{port}/other/rss",
            "language": "en",
            "outlet": "O",
            "enabled": False,
        },
        {"id": "hostile", "kind": "feed", "url": f"{base}/hostile/rss", "language": "en", "outlet": "H"},
    ]
    for source in sources:
        source.setdefault("name", source["id"])
        source["interval"] = 60
    config_dir = write_config(tmp_path / "config", sources, ALERTS)
    (config_dir / "newsmon.yaml").write_text(yaml.safe_dump({"crawler": {"timeout": 1}}))
    config = load_config(config_dir)
    roles.start("crawler", config_dir, "crawler")
    leader = LeaderLock(redis_conn)
    assert leader.refresh()

    def poll(source_id: str) -> dict[str, str]:
        before = int(redis_conn.hget(keys.source_state(source_id), "polls_total") or 0)
        assert request_poll(redis_conn, config.source(source_id), leader) == "requested"
        poll_finished(redis_conn, source_id, before)
        return polls.source_state(redis_conn, source_id)

    poll.config = config  # type: ignore[attr-defined]
    poll.leader = leader  # type: ignore[attr-defined]
    return poll


def test_listing_finds_articles_decodes_charsets_and_dates(
    site, redis_conn: redis.Redis, replay: ReplaySite
) -> None:
    state = site("shafaq-all")
    assert state["status"] == "ok", state
    found = {s["title"]: s for s in stories(redis_conn, 3).values()}
    assert set(found) == {"سقوط صواريخ على قاعدة كيه-1", "شاندی هاوپەیمانی لە هەولێر", "ارتفاع صادرات النفط"}
    cp1256 = found["سقوط صواريخ على قاعدة كيه-1"]
    assert "قاعدة كيه-1 غرب كركوك" in cp1256["text"]  # decoded although declared UTF-8
    assert cp1256["published"] == "2026-11-16T07:30:00Z" and cp1256["language"] == "ar"
    sorani = found["شاندی هاوپەیمانی لە هەولێر"]
    assert sorani["published"] == "2026-11-20T11:05:00Z" and sorani["language"] == "ckb"
    assert "/ar/tags/" not in " ".join(found[t]["url"] for t in found)
    assert any("اقتصـاد" in unquote(s["url"]) for s in found.values())  # tatweel kept in the URL path
    assert site("shafaq-all")["last_new"] == "0"  # the second poll finds nothing new
    assert len(stories(redis_conn)) == 3


def test_sitemap_index_newest_first_bounded_by_age(site, redis_conn: redis.Redis, replay: ReplaySite) -> None:
    state = site("sumaria-sitemap")
    assert state["status"] == "ok", state
    assert {s["title"] for s in stories(redis_conn, 2).values()} == {
        "صواريخ على قاعدة كيه-1",
        "جلسة البرلمان",
    }
    assert "/sitemaps/news-old.xml" not in replay.hits and "/news/politics/469000/خبر-قديم" not in replay.hits


def test_telegram_posts_become_stories(site, redis_conn: redis.Redis) -> None:
    state = site("shafaq-tg")
    assert state["status"] == "ok", state
    found = {s["url"]: s for s in stories(redis_conn, 2).values()}
    assert set(found) == {
        "https://t.me/shafaaqnews/101",
        "https://t.me/shafaaqnews/102",
    }  # the old post is left
    flash = found["https://t.me/shafaaqnews/101"]
    assert flash["title"] == "عاجل | سقوط صاروخين على قاعدة كيه-1 غرب كركوك"
    assert flash["links"] == ["https://shafaq.com/ar/أمـن/صواريخ-كيه-1"]
    assert flash["published"][:10] == TODAY.date().isoformat()
    assert site("shafaq-tg")["last_new"] == "0"


def test_full_content_feed_needs_no_fetch_and_old_feed_is_stale(site, redis_conn: redis.Redis) -> None:
    state = site("iraqinews")
    assert len(stories(redis_conn, 10)) == 10  # bodies taken from content:encoded, no article fetched
    assert all(len(s["text"]) > 400 for s in stories(redis_conn).values())
    assert (
        state["status"] == "stale" and state["failure_kind"] == "stale"
    )  # its newest item is from April 2025


def test_failures_are_named_and_backed_off(site, redis_conn: redis.Redis) -> None:
    config, leader = site.config, site.leader
    empty = site("empty")
    assert (empty["status"], empty["failure_kind"]) == ("empty", "empty")
    blocked = site("blocked")
    assert (blocked["failure_kind"], blocked["last_http_status"]) == ("blocked", "403")
    assert float(blocked["backoff_until"]) > time.time() + 30
    assert request_poll(redis_conn, config.source("blocked"), leader) == "backoff"
    slow = site("slow")
    assert slow["failure_kind"] == "timeout", slow
    assert float(slow["backoff_until"]) > time.time() + 30
    limited = site("limited")
    assert limited["failure_kind"] == "rate-limited"
    assert float(limited["backoff_until"]) >= time.time() + 850  # Retry-After: 900 honoured
    moved = site("moved")
    assert moved["failure_kind"] == "redirect-offsite" and "localhost" in moved["last_error"]
    history = [yaml.safe_load(line) for line in redis_conn.lrange(keys.poll_history("blocked"), 0, -1)]
    assert history[0]["failure"] == "blocked" and history[0]["http"] == 403


def test_backoff_recovers_after_success(site, redis_conn: redis.Redis, replay: ReplaySite) -> None:
    assert site("blocked")["consecutive_failures"] == "1"
    replay.set_fixed(
        "/blocked/rss",
        Fixed(
            body=b'<rss version="2.0"><channel><title>t</title></channel></rss>',
            content_type="application/rss+xml",
        ),
    )
    redis_conn.hset(keys.source_state("blocked"), "backoff_until", "0")  # the pause has run out
    assert site("blocked")["failure_kind"] == "empty"  # answers again, with nothing in it


def test_private_addresses_in_a_feed_are_not_fetched(site, redis_conn: redis.Redis, roles: Roles) -> None:
    state = site("hostile")
    assert [s["title"] for s in stories(redis_conn, 1).values()] == ["Fine"]
    log = roles.log("crawler")
    assert "127.0.0.2 is a private address" in log and "::1 is a private address" in log
    # the malformed link is skipped with its reason, in the poll's line and record; the poll is ok
    assert "skipped=1 (entry 3: ValueError: Port could not be cast" in log
    assert (
        state["status"] == "ok" and state["last_skipped"] == "1" and "entry 3" in state["last_skipped_reason"]
    )


def _newsmon(config_dir: Path, redis_url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_sources_test_shows_what_would_be_enqueued_and_stores_nothing(site, redis_conn: redis.Redis,
                                                                       tmp_path: Path) -> None:
    result = _newsmon(tmp_path / "config", None, "sources", "test", "shafaq-all", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["poll"]["status"] == "ok" and data["poll"]["items"] == 3
    assert {s["language"] for s in data["stories"]} == {"ar", "ckb"}
    assert not redis_conn.exists(keys.seen_entries("shafaq-all"))
    assert not stories(redis_conn)
    human = _newsmon(tmp_path / "config", None, "sources", "test", "shafaq-tg")
    assert "2 stories would be enqueued" in human.stdout and "عاجل | سقوط صاروخين" in human.stdout
    other = _newsmon(tmp_path / "config", None, "sources", "test", "shafaq-all", "--url",
                     f"{site.config.source('empty').url}")
    assert other.returncode == 1 and "unusable listing" in other.stdout


def test_sources_list_shows_last_outcome(site, redis_url: str, tmp_path: Path) -> None:
    site("blocked")
    result = _newsmon(tmp_path / "config", redis_url, "sources", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["blocked"]["status"] == "error" and rows["blocked"]["failure"] == "blocked"
    assert rows["shafaq-all"]["kind"] == "listing" and rows["other"]["enabled"] is False
    table = _newsmon(tmp_path / "config", redis_url, "sources", "list")
    assert "blocked" in table.stdout and "(blocked, 1x)" in table.stdout


def test_sources_list_json_says_where_each_outlet_s_affiliation_is_documented(redis_url: str) -> None:
    """The shipped outlets carry `affiliation_source`: `sources list --json` shows it by the affiliation."""
    from tests.conftest import SHIPPED_CONFIG

    result = _newsmon(SHIPPED_CONFIG, redis_url, "sources", "list", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    catalogue = load_config(SHIPPED_CONFIG).sources
    documented = [r for r in rows if r["affiliation_source"]]
    assert documented and all(r["affiliation_source"] == catalogue.outlet(r["outlet"]).affiliation_source
                              for r in rows), rows[:3]
