"""History for the operator's tools from day one: `newsmon import --jsonl` archives stories with dedupe
and topics and alerts nothing; `keywords suggest` then finds a planted spelling and no common word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from newsmon import keys
from tests.conftest import settled, write_config

pytestmark = pytest.mark.e2e  # starts newsmon in subprocesses

SOURCE = {"id": "s1", "name": "S", "outlet": "Kurdistan24", "language": "en", "kind": "feed",
          "url": "http://127.0.0.1:9/feed"}
PLANT = "Daeish"  # one letter from the alias Daesh


def newsmon(config_dir: Path, env: dict[str, str], *args: str, stdin: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args],
                          env={**os.environ, **env}, input=stdin, capture_output=True, text=True,
                          timeout=300, check=False)


def history() -> list[dict]:
    """100 stories: most of them everyday news full of `day` and `has` (one letter from Daesh, or its
    start), some about ISIS under its aliases, four with the planted spelling beside nothing else."""
    lines = []

    def unique(n: int) -> str:  # words of its own, so that no two stories are near copies
        return " ".join(f"w{n}x{i}" for i in range(30))

    for n in range(84):
        lines.append({"url": f"https://news.example/en/{n}", "language": "en", "outlet": "Iraqi News",
                      "title": f"Ministry update number {n}",
                      "text": f"The ministry has said on the {n}th day of the month that the day went well. "
                              f"It has announced a budget for the day after, officials said. {unique(n)}"})
    for n in range(12):
        lines.append({"url": f"https://news.example/en/isis/{n}", "language": "en", "outlet": "Rudaw",
                      "title": f"Daesh attack number {n}",
                      "text": f"Daesh fighters attacked a checkpoint near Kirkuk; ISIS claimed it. "
                              f"{unique(100 + n)}",
                      "published": "2017-03-01T08:00:00+03:00"})
    for n in range(4):
        lines.append({"url": f"https://news.example/en/plant/{n}", "language": "en", "outlet": "Shafaq",
                      "title": f"{PLANT} fighters strike village {n}",
                      "text": f"{PLANT} fighters attacked a village in the desert west of Kirkuk overnight. "
                              f"{unique(200 + n)}"})
    return lines


def test_import_archives_history_without_alerts_and_suggest_finds_the_planted_spelling(
        tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> None:
    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "routes": [{"id": "desk", "topics": ["*"], "channels": ["box"]}], "first_poll_max_age_hours": 0}
    config_dir = write_config(tmp_path / "config", [SOURCE], alerts)
    env = {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    records = history()
    bad = ['{"url": "https://news.example/x"}', "not json", "[1, 2]"]
    imported = newsmon(config_dir, env, "import", "--jsonl", "-",
                       stdin="\n".join([*(json.dumps(r) for r in records), *bad]) + "\n")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "100 new" in imported.stdout and "3 unusable" in imported.stdout, imported.stdout
    assert "nothing was alerted" in imported.stdout
    assert "line 101: skipped: title, text missing or not text" in imported.stdout
    assert not outbox.exists() and redis_conn.llen(keys.ALERTS_QUEUE) == 0
    assert not redis_conn.keys("rq:queue:alerts")  # no alert job at all
    again = newsmon(config_dir, env, "import", "--jsonl", "-", stdin=json.dumps(records[0]) + "\n")
    assert "0 new" in again.stdout and "1 already archived" in again.stdout, again.stdout

    # the 2017 stories are in the window: it counts when newsmon archived a story, not its date
    found = newsmon(config_dir, env, "keywords", "suggest", "--topic", "isis", "--json")
    assert found.returncode == 0, found.stderr
    candidates = [json.loads(line)["candidate"] for line in found.stdout.splitlines()]
    assert PLANT in candidates, found.stdout
    assert not {"day", "has", "Day", "Has"} & set(candidates), candidates
    explained = newsmon(config_dir, env, "explain", "https://news.example/en/isis/0")
    assert "not alerted: history taken by `newsmon import`" in explained.stdout, explained.stdout


def sitemap(base: str, articles: list[tuple[str, str]]) -> bytes:
    urls = "".join(f"<url><loc>{base}{path}</loc><lastmod>{when}</lastmod></url>" for path, when in articles)
    return (f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>").encode()


def test_backfill_archives_a_sitemaps_history_without_alerts_and_the_next_poll_alerts_only_the_new(
        tmp_path: Path, redis_conn: redis.Redis, redis_url: str, replay, roles) -> None:
    from datetime import UTC, datetime, timedelta

    from newsmon.app.replay import Fixed
    from newsmon.scheduler.clock import LeaderLock, request_poll
    from newsmon.settings import load_config
    from newsmon.workers.archive import Archive, open_engine
    from tests.conftest import make_article, wait_for

    now = datetime.now(UTC)
    older = []
    for n in range(200):
        when = now - timedelta(days=1 + n % 20, hours=n % 7)
        path = f"/site/old/{n}"
        replay.add_article(make_article(path, f"Rockets hit the K-1 base, report {n}", [
            f"Report {n}: rockets hit the K-1 air base near Kirkuk, police said on the day of the attack.",
            f"Officials counted {n * 13 + 7} craters and closed the road number {n} for the night.",
            f"The statement {n} added that coalition troops were not hurt; an inquiry {n * 31} began.",
            " ".join(f"w{n}x{i}" for i in range(60))],
            published=when.isoformat()))
        older.append((path, when.strftime("%Y-%m-%dT%H:%M:%SZ")))
    replay.set_fixed("/site/sitemap.xml", Fixed(content_type="application/xml",
                                                body=sitemap(replay.base_url, older)))
    outbox = tmp_path / "outbox.jsonl"
    source = {"id": "site", "name": "Site", "outlet": "Kurdistan24", "language": "en", "kind": "sitemap",
              "url": f"{replay.base_url}/site/sitemap.xml", "interval": 60, "jitter": 0, "max_age_days": 3}
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "routes": [{"id": "desk", "topics": ["*"], "channels": ["box"]}], "first_poll_max_age_hours": 0}
    config_dir = write_config(tmp_path / "config", [source], alerts)
    data = tmp_path / "data"
    env = {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(data)}

    done = newsmon(config_dir, env, "backfill", "--days", "30")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "site: 200 listed, 200 stories read: 200 new" in done.stdout, done.stdout
    assert "nothing was alerted" in done.stdout
    archive = Archive(open_engine(f"sqlite:///{data / 'archive.sqlite'}"))
    assert archive.count() == 200
    assert not outbox.exists() and not redis_conn.keys("rq:queue:alerts")
    resumed = newsmon(config_dir, env, "backfill")
    assert "site: done by an earlier backfill" in resumed.stdout, resumed.stdout

    # the first real poll: the sitemap now lists one story more, the only one alerted
    replay.add_article(make_article("/site/new/1", "Drone sighted over the K-1 base", [
        "A drone was sighted over the K-1 air base near Kirkuk on Monday evening, officials said.",
        "Coalition troops at the base were not hurt, the statement added."], published=now.isoformat()))
    replay.set_fixed("/site/sitemap.xml", Fixed(content_type="application/xml", body=sitemap(
        replay.base_url, [("/site/new/1", now.strftime("%Y-%m-%dT%H:%M:%SZ")), *older])))
    database = {"DATABASE_URL": f"sqlite:///{data / 'archive.sqlite'}"}
    roles.start("crawler", config_dir, "crawler", env=database)
    roles.start("worker", config_dir, "worker", env=database)
    leader = LeaderLock(redis_conn)
    leader.refresh()
    assert request_poll(redis_conn, load_config(config_dir).source("site"), leader) == "requested"
    wait_for(lambda: outbox.exists() and outbox.read_text().strip(), timeout=90, what="the new story's alert")
    wait_for(lambda: archive.count() == 201, timeout=30, what="the new story archived")
    settled(redis_conn)
    titles = [json.loads(line)["title"] for line in outbox.read_text().splitlines()]
    assert titles == ["Drone sighted over the K-1 base"]


def test_backfill_reads_a_listings_further_pages_where_configured(
        tmp_path: Path, redis_conn: redis.Redis, redis_url: str, replay) -> None:
    from newsmon.app.replay import Fixed
    from newsmon.workers.archive import Archive, open_engine
    from tests.conftest import make_article

    for page in (1, 2, 3):
        links = []
        for n in range(page * 10, page * 10 + 4):
            replay.add_article(make_article(f"/listart/{n}", f"Peshmerga report {n}", [
                f"Report {n}: Peshmerga forces held positions south of Kirkuk, officials said.",
                " ".join(f"w{n}x{i}" for i in range(60))]))
            links.append(f'<li><a href="/listart/{n}">Peshmerga report {n}</a></li>')
        body = f"<html><body><ul>{''.join(links)}</ul></body></html>".encode()
        replay.set_fixed("/list" if page == 1 else f"/list/page/{page}", Fixed(body=body))
    source = {"id": "list", "name": "List", "outlet": "Rudaw", "language": "en", "kind": "listing",
              "url": f"{replay.base_url}/list", "link_pattern": r"/listart/\d+$",
              "page_url": f"{replay.base_url}/list/page/{{page}}", "backfill_pages": 3}
    config_dir = write_config(tmp_path / "config", [source], {"channels": {"c": {"type": "console"}}})
    data = tmp_path / "data"
    done = newsmon(config_dir, {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(data)}, "backfill")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "list: 12 listed, 12 stories read: 12 new" in done.stdout, done.stdout
    assert Archive(open_engine(f"sqlite:///{data / 'archive.sqlite'}")).count() == 12
    assert replay.hits.get("/list/page/3") == 1 and not replay.hits.get("/list/page/4")


def test_a_backfill_window_follows_a_sitemap_index_back_as_far_as_it_reads() -> None:
    from datetime import UTC, datetime, timedelta

    from newsmon.crawler.entries import parse_sitemap

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    children = "".join(f"<sitemap><loc>https://x.example/sitemap-{d}.xml</loc>"
                       f"<lastmod>{(now - timedelta(days=d)).strftime(stamp)}</lastmod></sitemap>"
                       for d in range(60))
    body = (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
            ).encode()
    poll = parse_sitemap(body, "https://x.example/index.xml", 3, 50, "UTC", now=now)
    assert poll.follow == [f"https://x.example/sitemap-{d}.xml" for d in range(3)]  # a poll: the newest 3
    backfill = parse_sitemap(body, "https://x.example/index.xml", 30, 1000, "UTC", now=now)
    assert backfill.follow == [f"https://x.example/sitemap-{d}.xml" for d in range(31)]  # 30 days back
