"""Precision and recall of the shipped keywords on the hand-written four-language corpus."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsmon.settings import load_config
from newsmon.workers.matcher import Matcher

CORPUS = Path(__file__).resolve().parent / "corpus" / "matcher.yaml"
SHIPPED = Path(__file__).resolve().parent.parent / "config"
TOPICS = ("k1_base", "coalition_troops", "kirkuk", "peshmerga", "isis")


def load_corpus() -> list[dict[str, Any]]:
    return yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


def evaluate(matcher: Matcher, corpus: list[dict[str, Any]]) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Per-topic precision and recall, and a line per wrongly tagged sentence."""
    counts: dict[str, Counter[str]] = {t: Counter() for t in TOPICS}
    errors = []
    for item in corpus:
        expected = set(item["topics"])
        got = {m.topic for m in matcher.match("", item["text"], item["lang"]).matches} & set(TOPICS)
        for topic in TOPICS:
            if topic in got and topic in expected:
                counts[topic]["tp"] += 1
            elif topic in got:
                counts[topic]["fp"] += 1
            elif topic in expected:
                counts[topic]["fn"] += 1
        if got != expected:
            errors.append(
                f"{item['why']}: {item['text'][:60]!r} expected {sorted(expected)} got {sorted(got)}"
            )
    report = {}
    for topic, c in counts.items():
        report[topic] = {
            "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0,
            "recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0,
            "positives": c["tp"] + c["fn"],
        }
    return report, errors


@pytest.fixture(scope="module")
def report() -> tuple[dict[str, dict[str, float]], list[str]]:
    return evaluate(Matcher(load_config(SHIPPED).keywords), load_corpus())


def test_corpus_covers_every_language_and_the_named_hard_negatives() -> None:
    corpus = load_corpus()
    assert {item["lang"] for item in corpus} == {"ar", "ckb", "kmr", "en"}
    negatives = " ".join(item["text"] for item in corpus if not item["topics"])
    for needle in ("K-1 visa", "K-1 kickboxer", "K-12", "K1 tank", "vitamin K1", "Saudi-led coalition",
                   "تحالف الفتح", "هاوپەیمانی", "goddess Isis", "Isis Pharmaceuticals", "كركوكي", "کەرکووکی"):
        assert needle in negatives, needle
    for topic in TOPICS:
        assert sum(topic in item["topics"] for item in corpus) >= 8, topic


@pytest.mark.parametrize("topic", TOPICS)
def test_precision_and_recall_per_topic(
    report: tuple[dict[str, dict[str, float]], list[str]], topic: str
) -> None:
    scores, errors = report
    assert scores[topic]["precision"] >= 0.95, errors
    assert scores[topic]["recall"] >= 0.95, errors
