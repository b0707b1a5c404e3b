"""Keyword topics matched against stories: one Aho-Corasick automaton over every normalized alias.

The automaton finds every alias key in the normalized text in one pass; each candidate is then kept
only where it stands as a word by the rules of `workers.morphology` (prefixes, suffixes, codes, case).
Topics are evaluated from the kept hits: `any`, `all`, `near`, `none` and the language filter.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from newsmon.errors import ConfigError
from newsmon.models import Hit, TopicMatch
from newsmon.normalize import Normalized, normalize
from newsmon.settings import KEYWORDS_FILE, Alias, Config, KeywordsFile
from newsmon.workers.morphology import MAX_PROCLITIC, PROCLITICS, AliasError, AliasRule, compile_alias

_MAX_SUFFIX = 8
_PROCLITIC_ENDS = frozenset(p[-1] for p in PROCLITICS)


@dataclass(frozen=True)
class _Entry:
    """One alias of one topic under one role (any, all, none, near:<i>:a, near:<i>:b)."""

    topic: str
    role: str
    rule: AliasRule


@dataclass
class _Found:
    entry: _Entry
    hit: Hit
    word: int  # index of the word where the hit starts, for `near`


@dataclass
class TopicResult:
    """How the topics fared on a story: matched, or suppressed by a `none` term (with its hits)."""

    matches: list[TopicMatch]
    suppressed: dict[str, list[Hit]] = field(default_factory=dict)


def _is_word(char: str) -> bool:
    return char.isalnum()


class Matcher:
    """Compiled keyword topics; build once per process (or config version) and reuse for every story.

    Raises:
        ConfigError: an alias cannot be compiled (names the file and the alias's path).
    """

    compiled = 0  # matchers built in this process (what the sharing below saves is counted by tests)

    def __init__(self, keywords: KeywordsFile, source: str = "keywords.yaml") -> None:
        Matcher.compiled += 1
        self.keywords = keywords
        self._automaton = ahocorasick.Automaton()
        table: dict[str, list[_Entry]] = defaultdict(list)
        self.rules: dict[str, list[tuple[str, AliasRule]]] = defaultdict(list)
        for topic_id, topic in keywords.topics.items():
            groups: list[tuple[str, list[Alias]]] = [
                ("any", topic.any),
                ("all", topic.all),
                ("none", topic.none),
            ]
            for index, near in enumerate(topic.near):
                groups += [(f"near:{index}:a", near.a), (f"near:{index}:b", near.b)]
            for role, aliases in groups:
                for position, alias in enumerate(aliases):
                    try:
                        rule = compile_alias(alias, nisba=topic.nisba)
                    except AliasError as exc:
                        path = f"topics.{topic_id}.{_role_path(role)}[{position}]"
                        raise ConfigError(source, path, str(exc)) from exc
                    self.rules[topic_id].append((role, rule))
                    entry = _Entry(topic_id, role, rule)
                    for key in rule.keys:
                        table[key].append(entry)
        self._order = {topic_id: index for index, topic_id in enumerate(keywords.topics)}
        self.local_negatives = {
            topic_id: self._local_negatives(topic_id) for topic_id in keywords.topics
        }
        for key, entries in table.items():
            self._automaton.add_word(key, (len(key), tuple(entries)))
        self.alias_count = len(table)
        if table:
            self._automaton.make_automaton()

    def _local_negatives(self, topic_id: str) -> frozenset[str]:
        """`none` terms that contain one of the topic's own aliases, perhaps with an ending ("K-1 visa"
        holds "K-1", "کەمال کەرکووکی" holds "کەرکووک"): they cancel the alias where they stand and never
        suppress the whole topic."""
        alias_keys = [k for role, rule in self.rules[topic_id] if role in ("any", "all") for k in rule.keys]
        local = set()
        for role, rule in self.rules[topic_id]:
            if role == "none" and any(
                f" {key}".find(f" {alias}") != -1 for key in rule.keys for alias in alias_keys
            ):
                local.add(rule.term)
        return frozenset(local)

    # --- finding hits -------------------------------------------------------------------------

    def find(self, text: str, field: str = "text", norm: Normalized | None = None) -> list[_Found]:
        """Every alias occurrence in `text` that stands as a word, with original offsets (`norm`: the
        text already normalized, when the caller has it)."""
        if not text or not self.alias_count:
            return []
        if norm is None:
            norm = normalize(text)
        ntext = norm.text
        found: list[_Found] = []
        spans: dict[tuple[int, int], list[_Entry]] = {}
        for last, (length, entries) in self._automaton.iter(ntext):
            start, end = last - length + 1, last + 1
            if start and ntext[start - 1] not in _PROCLITIC_ENDS and ntext[start - 1].isalnum():
                continue  # inside a word, and not after a proclitic: the common case, rejected first
            prefixed = self._prefix_state(ntext, start)
            if prefixed is None:
                continue
            tail = self._tail(ntext, end)
            for entry in entries:
                rule = entry.rule
                if prefixed and not rule.prefixes:
                    continue
                word_end = end + len(tail)
                if tail and (rule.suffixes is not None and tail not in rule.suffixes):
                    continue
                if rule.case_sensitive and not _capitals(text, norm, start, end):
                    continue
                spans.setdefault((start, word_end), []).append(entry)
        for (start, end), entries in _outermost(spans):
            orig_start, orig_end = norm.original_span(start, end)
            surface = text[orig_start:orig_end]
            word = ntext.count(" ", 0, start)
            for entry in entries:
                hit = Hit.model_construct(
                    term=entry.rule.term, text=surface, start=orig_start, end=orig_end, field=field
                )
                found.append(_Found(entry, hit, word))
        return found

    @staticmethod
    def _prefix_state(text: str, start: int) -> bool | None:
        """False when the key starts a word, True when only Arabic proclitics precede it, else None."""
        if start == 0 or not _is_word(text[start - 1]):
            return False
        word_start = start
        while word_start > 0 and _is_word(text[word_start - 1]):
            word_start -= 1
            if start - word_start > MAX_PROCLITIC:
                return None
        return True if text[word_start:start] in PROCLITICS else None

    @staticmethod
    def _tail(text: str, end: int) -> str:
        """The rest of the word after a key ("" at a word end); an apostrophe-s counts as part of it."""
        position = end
        limit = min(len(text), end + _MAX_SUFFIX + 1)
        while position < limit and (_is_word(text[position]) or (position == end and text[position] == "'")):
            position += 1
        if position == limit and position < len(text) and _is_word(text[position]):
            return text[end:position] + "\x00"  # longer than any suffix: no suffix rule accepts it
        return text[end:position]

    # --- topics -------------------------------------------------------------------------------

    def match(self, title: str, text: str, language: str | None = None,
              normalized_text: Normalized | None = None) -> TopicResult:
        """Evaluate every topic on a story's title and text (`normalized_text`: `normalize(text)`, when
        the caller has it: the worker normalizes a story's text once for matching, dedupe and search)."""
        by_topic: dict[str, list[_Found]] = defaultdict(list)
        for field_name, value, norm in (("title", title, None), ("text", text, normalized_text)):
            for found in self.find(value, field_name, norm):
                by_topic[found.entry.topic].append(found)
        result = TopicResult(matches=[])
        for topic_id, founds in by_topic.items():
            topic = self.keywords.topics[topic_id]
            if topic.languages is not None and language is not None and language not in topic.languages:
                continue
            roles: dict[str, list[_Found]] = defaultdict(list)
            local = self.local_negatives[topic_id]
            for found in _cancel_local_negatives(founds):
                if not (found.entry.role == "none" and found.entry.rule.term in local):
                    roles[found.entry.role].append(found)
            if topic.any and not roles["any"]:
                continue
            found_all = {f.entry.rule.term for f in roles["all"]}
            if any(rule.term not in found_all for role, rule in self.rules[topic_id] if role == "all"):
                continue
            near_hits = _near_hits(topic.near, roles)
            if near_hits is None:
                continue
            if roles["none"]:
                result.suppressed[topic_id] = [f.hit for f in roles["none"]]
                continue
            hits = [f.hit for f in roles["any"] + roles["all"]] + near_hits
            hits.sort(key=lambda h: (h.field != "title", h.start))
            result.matches.append(TopicMatch.model_construct(topic=topic_id, name=topic.name, hits=hits))
        result.matches.sort(key=lambda m: self._order[m.topic])
        return result


def _cancel_local_negatives(founds: list[_Found]) -> list[_Found]:
    """A `none` term that contains an alias cancels that occurrence only ("K-1 visa" is not the K-1
    base, but the base may be named elsewhere in the story); a `none` term standing alone stays and
    suppresses the topic."""
    by_span: dict[tuple[str, int, int], list[_Found]] = defaultdict(list)
    for found in founds:
        by_span[(found.hit.field, found.hit.start, found.hit.end)].append(found)
    kept: list[_Found] = []
    for group in by_span.values():
        if any(f.entry.role == "none" for f in group) and any(f.entry.role != "none" for f in group):
            continue
        kept.extend(group)
    return kept


def _near_hits(clauses: list, roles: dict[str, list[_Found]]) -> list[Hit] | None:
    """Hits that satisfy every `near` clause, or None when one is not satisfied."""
    hits: list[Hit] = []
    for index, clause in enumerate(clauses):
        pairs = [
            (a, b)
            for a in roles[f"near:{index}:a"]
            for b in roles[f"near:{index}:b"]
            if a.hit.field == b.hit.field and abs(a.word - b.word) <= clause.within
        ]
        if not pairs:
            return None
        hits += [p.hit for pair in pairs for p in pair]
    return hits


def _capitals(text: str, norm: Normalized, start: int, end: int) -> bool:
    """Whether the original text of a normalized span is written in capitals."""
    orig_start, orig_end = norm.original_span(start, end)
    letters = [c for c in text[orig_start:orig_end] if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _outermost(spans: dict[tuple[int, int], list[_Entry]]) -> list[tuple[tuple[int, int], list[_Entry]]]:
    """Merge spans lying inside a longer span into it (البيشمركة holds بيشمركة, K-1 base holds K-1)."""
    kept: list[tuple[tuple[int, int], list[_Entry]]] = []
    for (start, end), entries in sorted(spans.items(), key=lambda item: (item[0][0], -item[0][1])):
        # sorted by start, a span inside any kept span is inside the last one kept
        if kept and kept[-1][0][0] <= start and end <= kept[-1][0][1]:
            kept[-1][1].extend(e for e in entries if e not in kept[-1][1])
        else:
            kept.append(((start, end), list(entries)))
    return kept


def _role_path(role: str) -> str:
    if role.startswith("near:"):
        _, index, group = role.split(":")
        return f"near[{index}].{group}"
    return role


_matchers: dict[str, Matcher] = {}
_KEEP_VERSIONS = 2  # the version running and the one being validated before it is taken


def matcher_for(config: Config) -> Matcher:
    """The compiled matcher of a config version, built once per process and shared by whatever in the
    process needs it: a worker's jobs and its check of a newly published config (app.configs's
    validator), `explain`, `alerts preview`. Two versions are kept, so checking the next version
    while jobs still run on the current one compiles each once.

    Raises:
        ConfigError: an alias cannot be compiled.
    """
    found = _matchers.pop(config.version, None)
    if found is None:
        found = Matcher(config.keywords, source=str(config.directory / KEYWORDS_FILE))
    _matchers[config.version] = found  # newest last
    while len(_matchers) > _KEEP_VERSIONS:
        _matchers.pop(next(iter(_matchers)))
    return found
