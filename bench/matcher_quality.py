"""Prints precision and recall of the shipped keywords per topic on tests/corpus/matcher.yaml, and micro
precision, recall and F1 per language; with --keyboard, also what the Arabic-keyboard forms of Kurdish
letters cost and bring (the corpus matched without them); with --common-words, what leaving out the
generated forms that are common words or names (workers/data/common_words.tsv) brings, per language.

    python bench/matcher_quality.py [--keyboard] [--common-words]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsmon.settings import load_config
from newsmon.workers.matcher import Matcher
from tests.test_matcher_corpus import TOPICS, evaluate, load_corpus


def main() -> None:
    corpus = load_corpus()
    scores, errors = evaluate(Matcher(load_config(ROOT / "config").keywords), corpus)
    print(f"matcher quality on {len(corpus)} sentences (ar, ckb, kmr, en), shipped config/keywords.yaml")
    print(f"{'topic':<18} {'positives':>9} {'precision':>10} {'recall':>8}")
    for topic, score in scores.items():
        print(f"{topic:<18} {score['positives']:>9} {score['precision']:>10.3f} {score['recall']:>8.3f}")
    print(
        f"\n{'language':<10} {'sentences':>9} {'precision':>10} {'recall':>8} {'F1':>7}   (micro over topics)"
    )
    for language, score in by_language(Matcher(load_config(ROOT / "config").keywords), corpus).items():
        print(f"{language:<10} {score['sentences']:>9} {score['precision']:>10.3f} {score['recall']:>8.3f} "
              f"{score['f1']:>7.3f}")
    for line in errors:
        print("wrong:", line)
    if "--keyboard" in sys.argv[1:]:
        from newsmon.workers import morphology

        keywords = load_config(ROOT / "config").keywords
        with_forms = by_language(Matcher(keywords), corpus)["all"]
        morphology._keyboard_forms = lambda key: {key}  # the rule switched off for the comparison
        without = by_language(Matcher(keywords), corpus)["all"]
        for label, score in (("with keyboard forms", with_forms), ("without them", without)):
            print(
                f"{label:<20} precision {score['precision']:.3f}  recall {score['recall']:.3f}  F1 "
                f"{score['f1']:.3f}"
            )
    if "--common-words" in sys.argv[1:]:
        from newsmon.workers import morphology

        keywords = load_config(ROOT / "config").keywords
        with_list = by_language(Matcher(keywords), corpus)
        morphology.common_words = dict  # the guard switched off: no form is a common word
        without = by_language(Matcher(keywords), corpus)
        print("\nleaving out generated forms that are common words (with the list / without it)")
        for language in with_list:
            a, b = with_list[language], without[language]
            print(f"{language:<10} precision {a['precision']:.3f} / {b['precision']:.3f}  recall "
                  f"{a['recall']:.3f} / {b['recall']:.3f}  F1 {a['f1']:.3f} / {b['f1']:.3f}")


def by_language(matcher: Matcher, corpus: list[dict]) -> dict[str, dict[str, float]]:
    """Micro precision, recall and F1 over the topics, per language and overall."""
    counts: dict[str, dict[str, int]] = {}
    for item in corpus:
        got = {m.topic for m in matcher.match("", item["text"], item["lang"]).matches} & set(TOPICS)
        expected = set(item["topics"])
        for language in (item["lang"], "all"):
            c = counts.setdefault(language, {"tp": 0, "fp": 0, "fn": 0, "sentences": 0})
            c["tp"] += len(got & expected)
            c["fp"] += len(got - expected)
            c["fn"] += len(expected - got)
            c["sentences"] += 1
    out = {}
    for language in sorted(counts, key=lambda k: (k == "all", k)):
        c = counts[language]
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[language] = {"sentences": c["sentences"], "precision": precision, "recall": recall, "f1": f1}
    return out


if __name__ == "__main__":
    main()
