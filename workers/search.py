"""Searching the archive with the matcher's normalization: the query and the index are folded alike
(Arabic letter forms, Kurdish orthographies, diacritics, case, digits), and Arabic proclitics are
stripped on both sides, so لقوات, وقوات and قوات find one another, and کەرکووک finds كهركوك.

Letter–digit codes follow the matcher's rule (`workers.morphology`): K1, K-1, K 1, K–1 and K-١ are
one token. The index holds each code joined (k1) beside its pieces; a query's code is searched
joined, so each of those spellings finds all the others.

SQLite uses an FTS5 table over the normalized text; PostgreSQL a `simple` tsvector with a GIN index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from newsmon.normalize import normalize, normalize_text
from newsmon.snippets import dress, opening, windows
from newsmon.transliterate import to_latin
from newsmon.workers.morphology import CODE, PROCLITICS

_WORD = re.compile(r"\w+")
_CLITIC_STARTS = frozenset(c[0] for c in PROCLITICS)
_LONGEST_CLITIC = max(len(c) for c in PROCLITICS)


def stem(token: str) -> str:
    """A normalized token without the longest Arabic proclitic glued to it that leaves a real word (three
    letters or more). A few set lookups, one per possible clitic length, longest first."""
    if len(token) < 4 or token[0] not in _CLITIC_STARTS:
        return token
    for length in range(min(_LONGEST_CLITIC, len(token) - 3), 0, -1):
        if token[:length] in PROCLITICS:
            return token[length:]
    return token


def index_text(title: str, body: str, normalized_body: str | None = None, language: str | None = None) -> str:
    """What the search index holds for a story: its normalized words and their stems (`normalized_body`:
    the body already normalized, when the caller has it); for Sorani, its words in Latin letters too, so
    that a Latin query (Kerkuk, hewler, pesmerge) finds Arabic-script text (newsmon/transliterate.py)."""
    if normalized_body is None:
        normalized_body = normalize_text(body)
    normalized_title = normalize_text(title)
    words = _WORD.findall(normalized_title) + _WORD.findall(normalized_body)
    unique = set(words)
    # stem() returns shorter words and those not starting like a proclitic unchanged: they are not asked
    stems = {stem(w) for w in unique if len(w) >= 4 and w[0] in _CLITIC_STARTS}
    latin = set(_WORD.findall(normalize_text(to_latin(f"{title}\n{body}")))) if language == "ckb" else set()
    extra = (stems | latin | _codes(normalized_title) | _codes(normalized_body)) - unique
    return " ".join(words) + (" " + " ".join(sorted(extra)) if extra else "")


_DIGIT_RUN = re.compile(r"\d+")


def _codes(normalized: str) -> set[str]:
    """The letter–digit codes of a normalized text written apart, joined (k-1, k 1 → k1): what `CODE`
    finds with a separator, read from the digit runs (a third of the time of trying every letter)."""
    found = set()
    for run in _DIGIT_RUN.finditer(normalized):
        separator = run.start() - 1
        if run.end() - run.start() > 4 or separator < 1 or normalized[separator] not in " -":
            continue  # joined codes (k1) are words of the index already
        start = separator
        while start > 0 and separator - start < 5 and normalized[start - 1].isalpha():
            start -= 1
        if 1 <= separator - start <= 4 and (start == 0 or not normalized[start - 1].isalpha()):
            found.add(normalized[start:separator] + run.group(0))
    return found


# a code written with a space in a query: capitals or Arabic-script letters, then digits (K 1, F 16, كيه 1),
# so that "in 2020" stays two words
_SPACED_CODE = re.compile(r"(?<![^\W\d_])([A-Z]{1,4}|[\u0600-\u06ff]{1,4}) (\d{1,4})(?!\d)")


# The search index's statements, all here (its tables are made by migrations 0002 and 0003): on SQLite an
# FTS5 table beside `stories`, kept by these statements in the archive's transaction; on PostgreSQL a
# generated tsvector column of `stories`, which needs nothing written.
_FTS_DELETE = text("DELETE FROM stories_fts WHERE story_id = :id")
_FTS_INSERT = text("INSERT INTO stories_fts (story_id, body) VALUES (:id, :body)")
_FTS_DELETE_MANY = text("DELETE FROM stories_fts WHERE story_id IN (SELECT value FROM json_each(:ids))")


def index_story(conn: Connection, story_id: str, search_text: str, replace: bool) -> None:
    """Index a story's search text (`replace`: it was indexed before) in the caller's transaction."""
    if conn.dialect.name == "sqlite":
        if replace:
            conn.execute(_FTS_DELETE, {"id": story_id})
        conn.execute(_FTS_INSERT, {"id": story_id, "body": search_text})


def unindex_stories(conn: Connection, story_ids: list[str]) -> None:
    """Take deleted stories out of the index, in the caller's transaction."""
    if conn.dialect.name == "sqlite" and story_ids:
        conn.execute(_FTS_DELETE_MANY, {"ids": json.dumps(story_ids)})


def query_terms(query: str) -> list[str]:
    """The stems a query asks for (every one must occur); a letter–digit code counts as one word."""
    normalized = normalize_text(_SPACED_CODE.sub(r"\1\2", query))
    joined = CODE.sub(
        lambda m: m.group(0) if normalized[m.end(1) : m.start(2)] == " " else m.group(1) + m.group(2),
        normalized,
    )
    return [w if any(c.isdigit() for c in w) else stem(w) for w in _WORD.findall(joined)]


@dataclass
class Hit:
    """One story found."""

    story: dict[str, Any]
    snippet: str  # the text around the first match, the matched words in [[ ]]


PREFIX_FROM = 4  # query words this long also match longer words: Kerkuk finds Kerkûkê, کەرکووکدا


def _pg_term(term: str) -> str:
    quoted = "'" + term.replace("'", "").replace("\\", "") + "'"
    return quoted + (":*" if len(term) >= PREFIX_FROM else "")


def _matches(word: str, terms: list[str]) -> bool:
    token = stem(word)
    return any(token == t or (len(t) >= PREFIX_FROM and token.startswith(t)) for t in terms)


def snippet(original: str, terms: list[str], radius: int = 90) -> str:
    """The sentence around the first word matching a query term (the snippet rule of alerts), with
    every such word in it marked [[ ]], on one line."""
    norm = normalize(original)
    spans = []
    for match in _WORD.finditer(norm.text):
        if _matches(match.group(0), terms):
            spans.append(norm.original_span(match.start(), match.end()))
    for match in CODE.finditer(norm.text):  # K-1, K 1 for the term k1
        if match.group(1) + match.group(2) in terms:
            spans.append(norm.original_span(match.start(), match.end()))
    spans.sort()
    start, end = windows(original, spans, radius, 1)[0] if spans else opening(original, radius)
    out, position = [], start
    for span_start, span_end in spans:
        if span_start < position or span_end > end:
            continue
        out.append(original[position:span_start])
        out.append(f"[[{original[span_start:span_end]}]]")
        position = span_end
    out.append(original[position:end])
    return dress(original, start, end, " ".join("".join(out).split()))


def search(engine: Engine, query: str, topic: str | None = None, outlet: str | None = None,
           language: str | None = None, since: datetime | None = None, limit: int = 20) -> list[Hit]:
    """Stories matching every query term, newest first, with the filters applied."""
    terms = query_terms(query)
    if not terms:
        return []
    filters, params = [], {"limit": limit * 5 if topic else limit}
    if outlet:
        filters.append("s.outlet = :outlet")
        params["outlet"] = outlet
    if language:
        filters.append("s.language = :language")
        params["language"] = language
    if since:
        filters.append("COALESCE(s.published, s.processed) >= :since")
        params["since"] = since
    where = "".join(f" AND {f}" for f in filters)
    order = " ORDER BY COALESCE(s.published, s.processed) DESC LIMIT :limit"
    if engine.dialect.name == "sqlite":
        params["match"] = " AND ".join('"' + t.replace('"', "") + '"' + ("*" if len(t) >= PREFIX_FROM else "")
                                       for t in terms)
        sql = ("SELECT s.* FROM stories_fts f JOIN stories s ON s.id = f.story_id "
               "WHERE stories_fts MATCH :match" + where + order)
    else:
        params["match"] = " & ".join(_pg_term(t) for t in terms)
        sql = (
            "SELECT s.* FROM stories s WHERE s.search_vector @@ to_tsquery('simple', :match)" + where + order
        )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    hits = []
    for row in rows:
        topics = row["topics"] if isinstance(row["topics"], list) else __import__("json").loads(row["topics"])
        row["topics"] = topics
        if topic and topic not in {t["topic"] for t in topics}:
            continue
        hits.append(Hit(story=row, snippet=snippet(f"{row['title']}\n{row['text']}", terms)))
        if len(hits) == limit:
            break
    return hits
