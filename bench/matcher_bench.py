"""Matcher throughput: stories per second at 100 to 30,000 aliases, against a naive regex baseline.

Stories are 3 KB of mixed Arabic, Sorani, Kurmanji and English text (generated words plus real
aliases sprinkled in); aliases are generated in the same four languages and grouped ten to a topic.
The matcher's figure includes normalization of every story. Two baselines, same stories, same run:
"per-alias" compiles one word-boundary regex per alias and searches each story with every one of them
(what a first tagger does); "alternation" compiles all aliases, longest first, into one word-boundary
regex and runs it once per story (the strongest plain-regex tagger; it finds the same raw spellings,
none of the normalized variants). Both work on the raw text, with no normalization. Each rate is the
median of three timed passes of at least 2 s, with min–max. Single process, single thread.

    python bench/matcher_bench.py [--sizes 100 1000 10000 30000] [--stories 2000]
    python bench/matcher_bench.py --startup [--sizes 10000] [--stories 2000] [--baseline-python PY]

--startup measures what an operator waits for: compiling the matcher (median of 5, with the aliases'
normalization on its string path and, for comparison in the same run, on the vector path every alias
took before), and `newsmon keywords test --jsonl` run on `--stories` stories with a keywords file of
that many aliases (process start, config, compile and matching: median of 3 runs), per story. With
--baseline-python, the same command is also run, turn about, by another installation's interpreter (an
earlier newsmon installed in its own virtualenv), on the same files.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe, spread
from newsmon.settings import KeywordsFile
from newsmon.workers.matcher import Matcher

ALPHABETS = {
    "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوية",
    "ckb": "ئابپتجچحخدرڕزژسشعغفڤقکگلڵمنوۆهەیێ",
    "kmr": "abcçdeêfghiîjklmnopqrsştuûvwxyz",
    "en": "abcdefghijklmnopqrstuvwxyz",
}
REAL = [
    "قاعدة كيه-1",
    "قوات التحالف",
    "کەرکووک",
    "Kerkûk",
    "البيشمركة",
    "پێشمەرگە",
    "ISIS",
    "coalition troops",
]


def word(rng: random.Random, language: str) -> str:
    return "".join(rng.choice(ALPHABETS[language]) for _ in range(rng.randint(3, 9)))


def make_aliases(rng: random.Random, count: int) -> list[str]:
    aliases = set(REAL)
    languages = list(ALPHABETS)
    while len(aliases) < count:
        language = rng.choice(languages)
        aliases.add(" ".join(word(rng, language) for _ in range(rng.choice((1, 1, 2, 2, 3)))))
    return sorted(aliases)[:count]


def make_story(rng: random.Random, aliases: list[str], size: int = 3000) -> str:
    language = rng.choice(list(ALPHABETS))
    words: list[str] = []
    length = 0
    while length < size:
        token = rng.choice(aliases) if rng.random() < 0.01 else word(rng, language)
        if rng.random() < 0.08:
            token += rng.choice([".", "،", ","])
        words.append(token)
        length += len(token) + 1
    return " ".join(words)[:size]


def keywords_for(aliases: list[str]) -> KeywordsFile:
    topics = {
        f"t{i // 10}": {"name": f"topic {i // 10}", "any": aliases[i : i + 10]}
        for i in range(0, len(aliases), 10)
    }
    return KeywordsFile.model_validate({"topics": topics})


def rate(function, items: list[str], min_seconds: float) -> float:
    """Items per second, over whole passes until min_seconds have gone by (at least one item)."""
    done = 0
    start = time.perf_counter()
    while True:
        for item in items:
            function(item)
            done += 1
            if time.perf_counter() - start >= min_seconds and done >= 1:
                return done / (time.perf_counter() - start)


def startup(sizes: list[int], count: int, baseline: str | None = None) -> None:
    """Compile time with the string and the vector normalization of aliases, and the CLI's batch run."""
    # imported here: only the start-up mode needs them
    import json
    import subprocess
    import tempfile

    import yaml

    from newsmon import normalize
    from newsmon.workers import morphology

    print(f"{'aliases':>8} {'compile s (now)':>22} {'compile s (vector path)':>24} "
          f"{'keywords test --jsonl s':>24} {'ms/story incl. start-up':>24}"
          + (f" {'baseline --jsonl s':>24}" if baseline else ""))
    for size in sizes:
        rng = random.Random(size)
        aliases = make_aliases(rng, size)
        keywords = keywords_for(aliases)
        timed = {}
        for label, fold in (("now", normalize.normalize_text),
                            ("vector", lambda text: normalize.normalize(text).text.strip())):
            morphology.normalize_text = fold
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                Matcher(keywords)
                runs.append(time.perf_counter() - start)
            timed[label] = runs
        morphology.normalize_text = normalize.normalize_text
        stories = "".join(json.dumps({"id": n, "text": make_story(rng, aliases), "lang": "en"},
                                     ensure_ascii=False) + "\n" for n in range(count))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "keywords.yaml"
            path.write_text(yaml.safe_dump(keywords.model_dump(exclude_defaults=True), allow_unicode=True),
                            encoding="utf-8")
            cli: dict[str, list[float]] = {"now": [], "baseline": []}
            for _ in range(3):
                for label, python in (("now", sys.executable), ("baseline", baseline)):
                    if python is None:
                        continue
                    start = time.perf_counter()
                    subprocess.run([python, "-m", "newsmon", "keywords", "test", "--keywords", str(path),
                                    "--jsonl"], input=stories, capture_output=True, text=True, check=True,
                                   cwd=tmp)
                    cli[label].append(time.perf_counter() - start)
        print(f"{size:>8} {spread(timed['now'], 2):>22} {spread(timed['vector'], 2):>24} "
              f"{spread(cli['now'], 2):>24} {statistics.median(cli['now']) / count * 1000:>24.2f}"
              + (f" {spread(cli['baseline'], 2):>24}" if baseline else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000, 30000])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--startup", action="store_true", help="compile and CLI start-up times")
    parser.add_argument("--baseline-python", help="with --startup: an earlier installation's interpreter")
    args = parser.parse_args()
    process = psutil.Process(os.getpid())
    print(describe())
    if args.startup:
        startup(args.sizes, args.stories, args.baseline_python)
        return
    print(
        f"{'aliases':>8} {'compile s':>10} {'memory MiB':>11} {'matcher st/s':>24} {'alternation st/s':>24} "
        f"{'per-alias st/s':>22} {'vs alternation':>15} {'hits/story':>11}"
    )
    for size in args.sizes:
        rng = random.Random(size)
        aliases = make_aliases(rng, size)
        stories = [make_story(rng, aliases) for _ in range(args.stories)]
        keywords = keywords_for(aliases)
        gc.collect()
        before = process.memory_info().rss
        start = time.perf_counter()
        matcher = Matcher(keywords)
        compile_seconds = time.perf_counter() - start
        memory = (process.memory_info().rss - before) / 2**20
        hits = sum(len(h) for m in (matcher.match("", s).matches for s in stories[:200]) for h in
                   (x.hits for x in m)) / 200
        fast = [rate(lambda s, m=matcher: m.match("", s), stories, 2.0) for _ in range(3)]
        alternation = re.compile(
            r"(?<!\w)(?:"
            + "|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True))
            + r")(?!\w)",
            re.IGNORECASE,
        )
        strong = [rate(lambda s, p=alternation: p.findall(s), stories, 2.0) for _ in range(3)]
        patterns = [re.compile(r"(?<!\w)" + re.escape(a) + r"(?!\w)", re.IGNORECASE) for a in aliases]
        naive = [
            rate(lambda s, ps=patterns: [p for p in ps if p.search(s)], stories[:50], 2.0) for _ in range(3)
        ]
        ratio = statistics.median(fast) / statistics.median(strong)
        print(
            f"{size:>8} {compile_seconds:>10.2f} {memory:>11.1f} {spread(fast, 0):>24} "
            f"{spread(strong, 1):>24} "
            f"{spread(naive, 1):>22} {ratio:>14.1f}x {hits:>11.1f}"
        )


if __name__ == "__main__":
    main()
