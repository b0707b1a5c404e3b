"""Snippets: the text around matches, cut where a reader expects a cut.

One rule for alerts and search: a snippet is the sentence around a match, cut at a word boundary when
the sentence runs longer than the radius; snippets that overlap or touch become one; "…" marks text
that was left out, and only that; paragraph breaks inside a snippet are kept as one newline.
"""

from __future__ import annotations

import re

# the end of a sentence: its punctuation (Latin, Arabic ؟ and ۔, CJK), closing quotes or brackets,
# then whitespace; or a paragraph break
_SENTENCE_END = re.compile(r"""[.!?؟۔。…]+["'”’»)\]]*(?=\s)|\n""")
_BREAKS = re.compile(r"\s*\n\s*")
_SPACES = re.compile(r"[^\S\n]+")
ELLIPSIS = "…"


def _start(text: str, lo: int, hit: int) -> int:
    """Where a snippet for a match at `hit` begins: the sentence's start if it lies within the radius
    (from `lo`), else the first word boundary after `lo`."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text, lo, hit)]
    if ends:
        return ends[-1]
    if lo == 0:
        return 0
    position = lo
    while position < hit and not text[position - 1].isspace():
        position += 1
    return position


def _end(text: str, hit: int, hi: int) -> int:
    """Where a snippet for a match ending at `hit` ends: the sentence's end if it lies within the
    radius (up to `hi`), else the last word boundary before `hi`."""
    if hi >= len(text):
        return len(text)
    found = _SENTENCE_END.search(text, hit, hi)
    if found:
        return found.end()
    position = hi
    while position > hit and not text[position].isspace():
        position -= 1
    return position


def windows(text: str, spans: list[tuple[int, int]], radius: int, most: int) -> list[tuple[int, int]]:
    """The (start, end) of at most `most` snippets around the matches at `spans` (offsets into `text`),
    in text order, merged where they overlap or only whitespace lies between them."""
    merged: list[list[int]] = []
    for hit_start, hit_end in sorted(set(spans)):
        if merged and hit_start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hit_end)  # inside the previous snippet: it covers the match
            continue
        start = _start(text, max(0, hit_start - radius), hit_start)
        end = _end(text, hit_end, min(len(text), hit_end + radius))
        if merged and not text[merged[-1][1]:start].strip():
            merged[-1][1] = end
            continue
        if len(merged) == most:
            break
        merged.append([start, end])
    return [(start, end) for start, end in merged]


def opening(text: str, radius: int) -> tuple[int, int]:
    """The (start, end) of a story's opening when no match lies in its text: up to two radii, ending
    at a sentence's end in the second radius, else at a word boundary."""
    if len(text) <= 2 * radius:
        return 0, len(text)
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, 2 * radius)]
    return 0, ends[-1] if ends else _end(text, 0, 2 * radius)


def tidy(piece: str) -> str:
    """A piece of text as a snippet shows it: runs of spaces as one, paragraph breaks as one newline."""
    return _BREAKS.sub("\n", _SPACES.sub(" ", piece)).strip()


def dress(text: str, start: int, end: int, body: str) -> str:
    """`body` (the text from start to end, perhaps marked up) with "…" where text was left out."""
    before = ELLIPSIS + " " if text[:start].strip() else ""
    after = " " + ELLIPSIS if text[end:].strip() else ""
    return before + body + after


def excerpts(text: str, spans: list[tuple[int, int]], radius: int = 120, most: int = 3) -> list[str]:
    """The snippets of `text` around the matches at `spans`, or its opening when there are none."""
    found = windows(text, spans, radius, most) if spans else [opening(text, radius)]
    return [dress(text, start, end, tidy(text[start:end])) for start, end in found if text[start:end].strip()]
