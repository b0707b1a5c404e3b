"""`newsmon demo --serve` stays live: its generated stories keep alerting for as long as it runs, and a
copy made on purpose alerts nobody again."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsmon.app import demo_live
from tests.conftest import wait_for
from tests.test_one_system import CLEAN_ENV

pytestmark = pytest.mark.e2e

WINDOW = 15
WINDOWS = 4


def test_demo_serve_alerts_in_every_15_s_window_for_a_minute(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "newsmon", "demo", "--serve"], cwd=tmp_path,
                                env=CLEAN_ENV, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "Ctrl-C stops everything" in log.read_text(errors="replace"), timeout=120,
                 what="the demo to serve")
        printed = log.read_text(errors="replace")
        assert "A new story every 4 s (15 a minute)" in printed, printed
        outbox = tmp_path / "var" / "demo" / "outbox.jsonl"
        start = time.monotonic()
        seen = 0
        arrivals: list[tuple[float, dict[str, object]]] = []
        while time.monotonic() - start < WINDOW * WINDOWS:
            lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
            for line in lines[seen:]:
                arrivals.append((time.monotonic() - start, json.loads(line)))
            seen = len(lines)
            assert demo.poll() is None, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        live = [(at, alert) for at, alert in arrivals if "/live/" in str(alert["url"])]
        per_window = [sum(1 for at, _ in live if k * WINDOW <= at < (k + 1) * WINDOW) for k in range(WINDOWS)]
        assert all(per_window), (per_window, [(round(at, 1), a["title"]) for at, a in live])
        # every story alerted once: no two alerts for one story, and the copies made on purpose none
        urls = [str(alert["url"]) for _, alert in live]
        assert len(urls) == len(set(urls))
        assert {alert["language"] for _, alert in live} >= {"ar", "en"}
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0


def test_the_live_stories_are_new_and_copies_are_copies() -> None:
    feeds = {"ar": 2, "en": 1, "ckb": 1, "kmr": 1}
    stories, previous = [], None
    for number in range(1, 121):
        previous = demo_live.live_story(number, feeds, previous)
        stories.append(previous)
    assert demo_live.live_story(7, feeds, stories[5]) == stories[6]  # the same number, the same story
    copies = [s for s in stories if s.copy_of]
    assert copies and all(s.language == "ar" for s in copies)  # only where a language has two outlets
    for copy in copies:
        original = stories[copy.copy_of - 1]
        assert (copy.title, copy.paragraphs) == (original.title, original.paragraphs)
        assert copy.feed_index != original.feed_index
    originals = [s for s in stories if not s.copy_of]
    assert len({s.title for s in originals}) == len(originals)  # no two new stories share a headline
    assert 0.5 < sum(s.matching for s in originals) / len(originals) < 0.8
    assert {s.language for s in originals} == {"ar", "en", "ckb", "kmr"}


def test_live_stories_stay_new_for_as_long_as_the_demo_says() -> None:
    """No two matching stories of one language among the first NEW_FOR share as many word triples as
    newsmon's copy threshold (dedupe.threshold): each is news, not a copy of an earlier one."""
    from newsmon.normalize import normalize_text
    from newsmon.settings import DedupeSettings
    from newsmon.workers.dedupe import shingles

    threshold = DedupeSettings().threshold
    feeds = {"ar": 2, "en": 1, "ckb": 1, "kmr": 1}
    previous, by_language = None, {}
    for number in range(1, demo_live.NEW_FOR + 1):
        previous = demo_live.live_story(number, feeds, previous)
        if previous.matching and not previous.copy_of:
            words = set(shingles(normalize_text(" ".join(previous.paragraphs))))
            by_language.setdefault(previous.language, []).append((number, words))
    for language, stories in by_language.items():
        for index, (number, words) in enumerate(stories):
            for earlier, seen in stories[:index]:
                similarity = len(words & seen) / len(words | seen)
                assert similarity < threshold, (language, earlier, number, similarity)
    from newsmon.app.demo import SERVE_EVERY

    assert demo_live.NEW_FOR * SERVE_EVERY / 60 >= demo_live.NEW_FOR_MINUTES


def test_redating_keeps_a_days_news_together_and_other_days_apart() -> None:
    from datetime import UTC, datetime, timedelta

    from newsmon.app.replay import APART_HOURS, ReplaySite, redate

    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    site = ReplaySite.demo(now=now)
    articles = sorted((a for f in site.feeds.values() for a in f.articles), key=lambda a: a.published)
    original = sorted((a for f in ReplaySite.demo().feeds.values() for a in f.articles),
                      key=lambda a: a.published)
    assert [a.path for a in articles] == [a.path for a in original]  # the order is kept
    assert articles[-1].published == now - timedelta(minutes=10)
    for (a, b), (x, y) in zip(itertools.pairwise(articles), itertools.pairwise(original)):
        gap, was = b.published - a.published, y.published - x.published
        assert gap == min(was, timedelta(hours=APART_HOURS))  # a day's minutes kept, years shrunk
        assert (gap > timedelta(hours=24)) == (was > timedelta(hours=24))
    from newsmon.app.demo import DEMO_STALE_HOURS

    assert now - articles[0].published < timedelta(hours=DEMO_STALE_HOURS)
    redate([], now)  # nothing to date: nothing happens
