"""What writing a Sorani headline in Latin letters costs (newsmon/transliterate.py), per headline.

Transliterates the real Sorani headlines of tests/corpus/events.yaml, each `--repeat` times per run, and
prints the time per headline as the median of `--runs` runs with their spread.

    python bench/transliterate_bench.py [--runs 5] [--repeat 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe, spread
from newsmon.transliterate import to_latin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    corpus = yaml.safe_load((ROOT / "tests" / "corpus" / "events.yaml").read_text(encoding="utf-8"))
    titles = [r["title"] for r in corpus if r["lang"] == "ckb" and r["title"]]
    print(describe())
    per_headline = []
    for _ in range(args.runs):
        started = time.perf_counter()
        for _ in range(args.repeat):
            for title in titles:
                to_latin(title)
        per_headline.append((time.perf_counter() - started) / (args.repeat * len(titles)) * 1e6)
    length = sum(map(len, titles)) / len(titles)
    print(f"{len(titles)} Sorani headlines (mean {length:.0f} characters), {args.repeat} times a run")
    print(f"to_latin per headline: {spread(per_headline)} µs (median of {args.runs} runs, min–max)")


if __name__ == "__main__":
    main()
