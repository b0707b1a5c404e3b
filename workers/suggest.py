"""Spellings a keywords config misses, mined from the archive (`newsmon keywords suggest`).

An operator cannot guess every spelling in four languages; the archive holds them. For each topic,
words and word pairs of the archived stories that its aliases do not match are compared with its
aliases, and kept when one of these says they probably mean the same thing:

- `near`: the letter skeleton is one or two edits from an alias's (one edit for words of up to five
  letters). The skeleton folds what transliteration and keyboards vary: sh/ş/s, ch/ç/c, vowel pairs
  (ae ai ea ei ie → a), doubled letters, and the Kurdish letters an Arabic keyboard writes as ك ب ج ز
  (DEAŞ beside DAIŞ, Daash beside Daesh, شنكال beside شنگال);
- `split`: two words that joined are an alias, or one edit from it (Da esh);
- `short`: the initials of a multi-word alias written in capitals (IS for Islamic State), or the
  first four letters or more of a one-word alias standing as a word (pesh for Peshmerga);
- `company`: a name the stories give in parentheses right after one of the topic's matches, or that
  a match glosses in parentheses ("ISIS (al-Dawla)", "al-Dawla (ISIS)"): the company a name keeps with
  the topic, in the one place where writers say outright that two names are one.

Each suggestion carries its evidence: the stories that hold it, a few of their sentences, how many of
them the topic does not match yet (what accepting it would add: a backtest in one number), and how
much the words around it resemble the words around the topic's matches. Suggestions are ranked by
that evidence, at most `limit` per topic.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text as sql
from sqlalchemy.engine import Engine

from newsmon.normalize import normalize, normalize_text
from newsmon.settings import KeywordsFile, alias_term
from newsmon.snippets import excerpts
from newsmon.workers.matcher import Matcher

_WORD = re.compile(r"[^\W_]+")
_KEYBOARD = str.maketrans({"\u06af": "\u0643", "\u067e": "\u0628", "\u0686": "\u062c", "\u0698": "\u0632"})
_VOWEL_PAIRS = re.compile(r"ae|ai|ea|ei|ie|ay")
_DOUBLED = re.compile(r"(.)\1+")
_CONTEXT = 3  # words either side that make a word's context
MIN_CONTEXT = 0.05  # a near spelling or a prefix must share this much context with the topic's matches
# A spelling of a name is rare: a candidate found in more than this share of the stories read (and in at
# least FREQUENT_STORIES of them) is a word of the language (`day` and `has` beside Daesh), unless a
# quarter of the stories it is in also match the topic (it stands beside the topic's other aliases).
MAX_SHARE = {"near": 0.05, "short": 0.05, "split": 0.05, "company": 0.10}
FREQUENT_STORIES = 5
MIN_BESIDE = 0.25
MOST_STORIES = 20_000  # newest stories read from the archive


def skeleton(word: str) -> str:
    """A normalized word with what spellings vary folded away."""
    word = word.translate(_KEYBOARD).replace("sh", "s").replace("ch", "c")
    return _DOUBLED.sub(r"\1", _VOWEL_PAIRS.sub("a", word))


def _distance(a: str, b: str, most: int) -> int:
    """Levenshtein distance, or most + 1 as soon as it must exceed `most`."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        if min(current) > most:
            return most + 1
        previous = current
    return previous[-1]


def _allowed(word: str) -> int:
    return 1 if len(word) <= 5 else 2


def _deletes(word: str, most: int) -> set[str]:
    """Every string left after deleting up to `most` letters (the index of a symmetric-delete search)."""
    found, frontier = {word}, {word}
    for _ in range(most):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


@dataclass
class _Story:
    id: str
    title: str
    text: str
    words: list[str]  # normalized words of title and text
    topics: set[str]  # what the current config tags


@dataclass
class Suggestion:
    """A spelling the config probably means, with its evidence."""

    topic: str
    candidate: str  # as most often written
    normalized: str
    kind: str  # near, split, short
    like: str  # the alias it resembles
    stories: int
    new: int  # stories the topic does not match yet that hold it
    context: float  # cosine of the words around it and around the topic's matches, 0..1
    examples: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return math.log1p(self.stories) * (0.25 + self.context) * (1.0 if self.new else 0.5)

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "candidate": self.candidate, "kind": self.kind, "like": self.like,
                "stories": self.stories, "new": self.new, "context": round(self.context, 3),
                "score": round(self.score, 3), "examples": self.examples}


def _load(engine: Engine, matcher: Matcher, since: datetime | None) -> list[_Story]:
    query = "SELECT id, title, text FROM stories"
    params: dict[str, Any] = {"most": MOST_STORIES}
    if since is not None:
        query += " WHERE processed >= :since"  # archive time: imported or backfilled history counts
        params["since"] = since
    query += " ORDER BY processed DESC LIMIT :most"
    with engine.connect() as conn:
        rows = conn.execute(sql(query), params).all()
    stories = []
    for story_id, title, body in rows:
        words = _WORD.findall(normalize_text(f"{title}\n{body}"))
        topics = {m.topic for m in matcher.match(title, body).matches}
        stories.append(_Story(story_id, title, body, words, topics))
    return stories


def _contexts(stories: list[_Story], wanted: set[str]) -> dict[str, Counter[str]]:
    """For each wanted word (or joined pair "a b"), the words around its occurrences."""
    around: dict[str, Counter[str]] = defaultdict(Counter)
    for story in stories:
        words = story.words
        for i, word in enumerate(words):
            for key, length in ((word, 1), (f"{word} {words[i + 1]}" if i + 1 < len(words) else "", 2)):
                if key in wanted:
                    around[key].update(
                        words[max(0, i - _CONTEXT) : i] + words[i + length : i + length + _CONTEXT]
                    )
    return around


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[word] for word, count in a.items() if word in b)
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


def _surface(stories: list[_Story], normalized: str, case_sensitive: bool = False) -> tuple[str, list[str]]:
    """How a normalized word (or pair) is most often written, and up to three sentences holding it."""
    written: Counter[str] = Counter()
    examples: list[str] = []
    pattern = re.compile(r"(?<![^\W_])" + re.escape(normalized).replace(r"\ ", "[ -]") + r"(?![^\W_])")
    for story in stories:
        source = f"{story.title}\n{story.text}"
        norm = normalize(source)
        for match in pattern.finditer(source if case_sensitive else norm.text):
            if case_sensitive:
                written[match.group(0)] += 1
                if len(examples) < 3:
                    examples.extend(excerpts(source, [match.span()], radius=70, most=1))
                continue
            start, end = norm.original_span(match.start(), match.end())
            written[source[start:end]] += 1
            if len(examples) < 3 and not any(story.title in e for e in examples):
                examples.extend(excerpts(source, [(start, end)], radius=70, most=1))
        if len(written) and sum(written.values()) >= 50 and len(examples) >= 3:
            break
    return (written.most_common(1)[0][0] if written else normalized), examples[:3]


def suggest(engine: Engine, keywords: KeywordsFile, since: datetime | None = None, topic: str | None = None,
            limit: int = 20, min_stories: int = 2) -> dict[str, list[Suggestion]]:
    """Per topic (or only `topic`), the spellings its aliases miss, best evidence first."""
    matcher = Matcher(keywords)
    stories = _load(engine, matcher, since)
    doc_words: dict[str, set[int]] = defaultdict(set)
    pairs: dict[str, set[int]] = defaultdict(set)
    for index, story in enumerate(stories):
        for i, word in enumerate(story.words):
            doc_words[word].add(index)
            if i + 1 < len(story.words):
                pairs[f"{word} {story.words[i + 1]}"].add(index)
    common = {w for w, docs in doc_words.items() if len(docs) >= min_stories}
    common_pairs = {p for p, docs in pairs.items() if len(docs) >= min_stories}
    out: dict[str, list[Suggestion]] = {}
    for topic_id in keywords.topics:
        if topic is not None and topic_id != topic:
            continue
        found = _candidates(matcher, keywords, topic_id, common, common_pairs, stories, doc_words, pairs,
                            min_stories)
        out[topic_id] = sorted(found, key=lambda s: -s.score)[:limit]
    return out


def _candidates(
    matcher: Matcher,
    keywords: KeywordsFile,
    topic_id: str,
    common: set[str],
    common_pairs: set[str],
    stories: list[_Story],
    doc_words: dict[str, set[int]],
    pairs: dict[str, set[int]],
    min_stories: int,
) -> list[Suggestion]:
    topic = keywords.topics[topic_id]
    aliases = [alias_term(a).rstrip("*") for a in topic.any]
    keys = {a: normalize_text(a) for a in aliases}
    one_word = {a: k for a, k in keys.items() if k.isalpha()}
    found: dict[str, tuple[str, str]] = {}  # normalized candidate -> (kind, alias it resembles)
    index: dict[str, set[str]] = defaultdict(set)
    for alias, key in one_word.items():
        for deleted in _deletes(skeleton(key), _allowed(key)):
            index[deleted].add(alias)
    for word in common:
        if not word.isalpha() or len(word) < 3:
            continue
        shape = skeleton(word)
        hits = {a for d in _deletes(shape, _allowed(word)) for a in index.get(d, ())}
        near = []
        for alias in hits:
            limit = min(_allowed(word), _allowed(one_word[alias]))  # one edit when either word is short
            distance = _distance(shape, skeleton(one_word[alias]), limit)
            if distance <= limit:
                near.append((distance, aliases.index(alias), alias))
        if near:
            found.setdefault(
                word, ("near", min(near)[2])
            )  # the closest alias, the first in the file on a tie
    for pair in common_pairs:
        joined = pair.replace(" ", "")
        if not joined.isalpha():
            continue
        for alias, key in one_word.items():
            if _distance(skeleton(joined), skeleton(key), 1) <= 1:
                found.setdefault(pair, ("split", alias))
    for candidate, alias in _glossed(matcher, topic_id, stories, min_stories).items():
        if candidate in common or candidate in common_pairs:
            found.setdefault(candidate, ("company", alias))
    for alias, key in keys.items():
        words = key.split(" ")
        if len(words) >= 2 and all(w[:1].isalpha() for w in words):
            initials = "".join(w[0] for w in words)
            if initials in common:
                found.setdefault(initials, ("short", alias))
        elif key.isalpha() and len(key) >= 6:
            for length in range(4, len(key) - 1):
                if key[:length] in common:
                    found.setdefault(key[:length], ("short", alias))
    suggestions = []
    candidates = {c: v for c, v in found.items() if not _already(matcher, c)}
    around = _contexts(stories, set(candidates) | {k for k in keys.values()})
    topic_context: Counter[str] = Counter()
    for key in keys.values():
        topic_context.update(around.get(key, Counter()))
    for candidate, (kind, alias) in candidates.items():
        docs = pairs[candidate] if " " in candidate else doc_words[candidate]
        initials = kind == "short" and " " in normalize_text(alias)
        if initials:  # initials count where they are written in capitals (IS), not as the word "is"
            capitals = re.compile(r"(?<![^\W_])" + re.escape(candidate.upper()) + r"(?![^\W_])")
            docs = {i for i in docs if capitals.search(f"{stories[i].title}\n{stories[i].text}")}
            if len(docs) < min_stories:
                continue
        beside = sum(topic_id in stories[i].topics for i in docs)
        frequent = len(docs) >= FREQUENT_STORIES and len(docs) > MAX_SHARE.get(kind, 0.05) * len(stories)
        if frequent and beside < MIN_BESIDE * len(docs):
            continue  # a frequent word of the language, mostly in stories about other things
        similarity = _cosine(around.get(candidate, Counter()), topic_context)
        if kind in ("near", "short") and not initials and similarity < MIN_CONTEXT:
            continue  # one or two letters from an alias, but never in its company: another word
        written, examples = _surface(
            [stories[i] for i in sorted(docs)],
            candidate.upper() if initials else candidate,
            case_sensitive=initials,
        )
        if _already(matcher, written):  # as written: an alias in capitals (DEAŞ) matches only capitals
            continue
        suggestions.append(
            Suggestion(
                topic=topic_id,
                candidate=written,
                normalized=candidate,
                kind=kind,
                like=alias,
                stories=len(docs),
                new=sum(topic_id not in stories[i].topics for i in docs),
                context=similarity,
                examples=examples,
            )
        )
    return suggestions


_GLOSS_AFTER = re.compile(r"\s*\(\s*([^\W\d_][^()\n]{0,40}?)\s*\)")
_WORDS_BEFORE = re.compile(r"([^\W\d_][\w'-]*)\s*\(\s*$")  # one word; a hyphen joins


def _glossed(matcher: Matcher, topic_id: str, stories: list[_Story], min_stories: int) -> dict[str, str]:
    """Names (one or two words) written in parentheses after a match of the topic, or before a match
    in parentheses, in at least `min_stories` stories: normalized name -> the alias matched."""
    seen: dict[str, set[int]] = defaultdict(set)
    alias_of: dict[str, str] = {}
    for index, story in enumerate(stories):
        if topic_id not in story.topics:
            continue
        for field_name, value in (("title", story.title), ("text", story.text)):
            result = matcher.match(
                story.title if field_name == "title" else "", value if field_name == "text" else ""
            )
            for match in result.matches:
                if match.topic != topic_id:
                    continue
                for hit in match.hits:
                    if hit.field != field_name:
                        continue
                    names = []
                    after = _GLOSS_AFTER.match(value, hit.end)
                    if after:
                        names.append(after.group(1))
                    if value[hit.end:].lstrip().startswith(")"):
                        before = _WORDS_BEFORE.search(value[:hit.start])
                        if before:
                            names.append(before.group(1))
                    for name in names:
                        normalized = " ".join(_WORD.findall(normalize_text(name)))
                        if normalized and len(normalized.split(" ")) <= 2:
                            seen[normalized].add(index)
                            alias_of.setdefault(normalized, hit.term)
    return {name: alias_of[name] for name, docs in seen.items() if len(docs) >= min_stories}


def _already(matcher: Matcher, candidate: str) -> bool:
    """Whether an alias of the topic, or of any topic, already matches the candidate."""
    return any(f.entry.role in ("any", "all") for f in matcher.find(candidate))
