"""Keyword topics matched against stories: one Aho-Corasick automaton over normalized aliases.

A term matches where it stands as a whole word of the normalized text. Arabic-script words may carry
the proclitics that Arabic glues to the front of a word (و ف ب ل ك and the article ال in their usual
combinations: لقوات, وقوات, بكركوك, للبيشمركة, الـK1). Latin terms accept the English possessive.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import ahocorasick

from newsmon.models import Hit, TopicMatch
from newsmon.settings import KeywordsFile
from workers.normalize import normalize

_PROCLITICS = frozenset(
    p
    for base in ("", "و", "ف")
    for p in (
        base,
        base + "ب", base + "ل", base + "ك", base + "ال", base + "بال", base + "لل", base + "كال",
    )
    if p
)
_MAX_PROCLITIC = max(len(p) for p in _PROCLITICS)
_LATIN_SUFFIXES = ("'s",)
_ARTICLE = "ال"
_ROLES = ("any", "all", "none")


def _is_word_char(char: str) -> bool:
    return char.isalnum()


def _is_arabic_letter(char: str) -> bool:
    return "\u0600" <= char <= "\u06ff"


def _keys(term: str) -> set[str]:
    """Normalized forms of a term: as written and, for Arabic words with the article, without it
    (ل + ال is written لل, so للبيشمركة holds بيشمركة but not البيشمركة)."""
    key = normalize(term).text.strip()
    if not key:
        return set()
    keys = {key}
    if key.startswith(_ARTICLE) and len(key) - len(_ARTICLE) >= 3 and _is_arabic_letter(key[2]):
        keys.add(key[len(_ARTICLE):])
    return keys


def _outermost(spans: list[tuple[int, int, tuple[_Term, ...]]]) -> list[tuple[int, int, tuple[_Term, ...]]]:
    """Drop spans lying inside a longer span (البيشمركة also holds بيشمركة; K-1 base holds K-1),
    keeping the terms of both on the outer span."""
    spans.sort(key=lambda s: (s[0], -s[1]))
    kept: list[tuple[int, int, tuple[_Term, ...]]] = []
    for start, end, terms in spans:
        # sorted by start, a span inside any kept span is inside the last one kept
        if kept and kept[-1][0] <= start and end <= kept[-1][1]:
            k = kept[-1]
            kept[-1] = (k[0], k[1], k[2] + tuple(t for t in terms if t not in k[2]))
        else:
            kept.append((start, end, terms))
    return kept


@dataclass(frozen=True)
class _Term:
    topic: str
    role: str
    term: str


@dataclass
class TopicResult:
    """How each topic fared on a story: matched, or suppressed by a `none` term."""

    matches: list[TopicMatch]
    suppressed: dict[str, list[Hit]]


class Matcher:
    """Compiled keyword topics; build once per process and reuse for every story."""

    def __init__(self, keywords: KeywordsFile) -> None:
        self._topics = keywords.topics
        self._automaton = ahocorasick.Automaton()
        pending: dict[str, list[_Term]] = defaultdict(list)
        for topic_id, topic in keywords.topics.items():
            for role in _ROLES:
                for term in getattr(topic, role):
                    for key in _keys(term):
                        pending[key].append(_Term(topic_id, role, term))
        for key, terms in pending.items():
            self._automaton.add_word(key, (key, tuple(terms)))
        self._empty = not pending
        if not self._empty:
            self._automaton.make_automaton()

    def find_hits(self, text: str, field: str = "text") -> list[tuple[_Term, Hit]]:
        """Every term occurrence in `text`, as (term, hit with original offsets)."""
        if self._empty or not text:
            return []
        norm = normalize(text)
        spans: list[tuple[int, int, tuple[_Term, ...]]] = []
        for end_index, (key, terms) in self._automaton.iter(norm.text):
            start = end_index - len(key) + 1
            end = self._word_end(norm.text, start, end_index + 1, key)
            if end is not None and self._starts_word(norm.text, start, key):
                spans.append((start, end, terms))
        found: list[tuple[_Term, Hit]] = []
        for start, end, terms in _outermost(spans):
            orig_start, orig_end = norm.original_span(start, end)
            for term in terms:
                hit = Hit(term=term.term, text=text[orig_start:orig_end], start=orig_start, end=orig_end,
                          field=field)
                found.append((term, hit))
        return found

    @staticmethod
    def _starts_word(text: str, start: int, key: str) -> bool:
        if start == 0 or not _is_word_char(text[start - 1]):
            return True
        # an Arabic proclitic may be glued in front: walk back to the word start and check it
        word_start = start
        while word_start > 0 and _is_word_char(text[word_start - 1]) and start - word_start <= _MAX_PROCLITIC:
            word_start -= 1
        if word_start > 0 and _is_word_char(text[word_start - 1]):
            return False
        prefix = text[word_start:start]
        return all(_is_arabic_letter(c) for c in prefix) and prefix in _PROCLITICS

    @staticmethod
    def _word_end(text: str, start: int, end: int, key: str) -> int | None:
        if end == len(text) or not _is_word_char(text[end]):
            return end
        if key[-1].isascii():
            for suffix in _LATIN_SUFFIXES:
                after = end + len(suffix)
                if text.startswith(suffix, end) and (after == len(text) or not _is_word_char(text[after])):
                    return end
        return None

    def match(self, title: str, text: str) -> TopicResult:
        """Evaluate every topic on a story's title and text."""
        by_topic: dict[str, dict[str, list[tuple[_Term, Hit]]]] = defaultdict(lambda: defaultdict(list))
        for field, value in (("title", title), ("text", text)):
            for term, hit in self.find_hits(value, field):
                by_topic[term.topic][term.role].append((term, hit))
        matches: list[TopicMatch] = []
        suppressed: dict[str, list[Hit]] = {}
        for topic_id, topic in self._topics.items():
            roles = by_topic.get(topic_id)
            if not roles or not roles["any"]:
                continue
            found_all = {t.term for t, _ in roles["all"]}
            if any(term not in found_all for term in topic.all):
                continue
            if roles["none"]:
                suppressed[topic_id] = [hit for _, hit in roles["none"]]
                continue
            hits = [hit for _, hit in roles["any"] + roles["all"]]
            hits.sort(key=lambda h: (h.field != "title", h.start))
            matches.append(TopicMatch(topic=topic_id, name=topic.name, hits=hits))
        return TopicResult(matches=matches, suppressed=suppressed)
