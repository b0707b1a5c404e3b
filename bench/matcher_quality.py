"""Prints precision and recall of the shipped keywords per topic on tests/corpus/matcher.yaml.

    python bench/matcher_quality.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsmon.settings import load_config
from tests.test_matcher_corpus import evaluate, load_corpus
from workers.matcher import Matcher


def main() -> None:
    corpus = load_corpus()
    scores, errors = evaluate(Matcher(load_config(ROOT / "config").keywords), corpus)
    print(f"matcher quality on {len(corpus)} sentences (ar, ckb, kmr, en), shipped config/keywords.yaml")
    print(f"{'topic':<18} {'positives':>9} {'precision':>10} {'recall':>8}")
    for topic, score in scores.items():
        print(f"{topic:<18} {score['positives']:>9} {score['precision']:>10.3f} {score['recall']:>8.3f}")
    for line in errors:
        print("wrong:", line)


if __name__ == "__main__":
    main()
