"""Backtest throughput: archived stories per second when a candidate keywords file is replayed.

Fills a SQLite archive with N synthetic stories (default 100,000; ~3 KB of mixed Arabic, Sorani,
Kurmanji and English words, one in twenty mentioning a watched alias), then runs the real backtest
(reading the archive, matching with the candidate, comparing with the stored topics) and prints
stories per second. Also prints the figure for hit-dense stories (the seed article, which names five
topics many times), the worst case for the matcher.

    python bench/backtest_bench.py [--stories 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe
from newsmon.settings import load_config, load_keywords
from newsmon.workers.archive import Archive, open_engine, stories
from newsmon.workers.backtest import backtest

ALPHABETS = {"ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوية", "ckb": "ئابپتجچحخدرڕزژسشعغفڤقکگلڵمنوۆهەیێ",
             "kmr": "abcçdeêfghiîjklmnopqrsştuûvwxyz", "en": "abcdefghijklmnopqrstuvwxyz"}
MENTIONS = {
    "ar": "قاعدة كيه-1 غرب كركوك",
    "ckb": "هێزەکانی هاوپەیمانی لە کەرکووک",
    "kmr": "Pêşmerge li Kerkûkê",
    "en": "coalition troops at the K1 base",
}


def fill(archive: Archive, count: int, seed_text: str | None) -> None:
    rng = random.Random(count)
    now = datetime.now(UTC)
    batch = []
    for i in range(count):
        language = rng.choice(list(ALPHABETS))
        if seed_text:
            text = seed_text
        else:
            words = [
                "".join(rng.choice(ALPHABETS[language]) for _ in range(rng.randint(3, 9))) for _ in range(480)
            ]
            if rng.random() < 0.05:
                words.insert(rng.randint(0, len(words)), MENTIONS[language])
            text = " ".join(words)[:3000]
        batch.append(
            {
                "id": f"{i:016x}",
                "source_id": "bench",
                "outlet": f"Outlet {i % 20}",
                "language": language,
                "url": f"https://bench.example/{i}",
                "canonical_url": f"https://bench.example/{i}",
                "title": f"Story {i}",
                "text": text,
                "fetched": now,
                "processed": now,
                "content_hash": "-",
                "cluster_id": f"{i:016x}",
                "dedupe_kind": "new",
                "topics": [],
                "config_version": "bench",
                "search_text": "",
            }
        )
        if len(batch) == 5000:
            with archive.engine.begin() as conn:
                conn.execute(insert(stories), batch)
            batch = []
    if batch:
        with archive.engine.begin() as conn:
            conn.execute(insert(stories), batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    args = parser.parse_args()
    config = load_config(ROOT / "config")
    candidate = load_keywords(ROOT / "config" / "keywords.yaml")
    seed = (ROOT / "tests" / "fixtures" / "seed" / "000_128dad676d5a1ee3.txt").read_text(encoding="utf-8")
    print(describe())
    print(f"backtest of config/keywords.yaml over a SQLite archive ({args.stories:,} stories)")
    for label, text, count in (("mixed-language 3 KB stories", None, args.stories),
                               ("hit-dense stories (the seed article)", seed, min(args.stories, 20_000))):
        directory = tempfile.mkdtemp(prefix="newsmon-backtest-")
        archive = Archive(open_engine(f"sqlite:///{directory}/archive.sqlite"))
        started = time.perf_counter()
        fill(archive, count, text)
        filled = time.perf_counter() - started
        report = backtest(archive.engine, config.keywords, candidate, None)
        print(f"  {label:<40} {report['stories']:>7} stories  {report['stories_per_second']:>6} stories/s  "
              f"(archive filled in {filled:.1f} s)")


if __name__ == "__main__":
    main()
