"""Text normalization for matching and dedupe, with a map from normalized back to original offsets.

One function serves text and aliases alike, so both sides of a match are folded the same way:

- Unicode NFKC; Arabic diacritics (harakat, shadda, sukun, tanween, superscript alef), tatweel,
  zero-width joiners and non-joiners, bidi marks and the lone hamza dropped;
- Arabic letters: أ إ آ ٱ → ا, ى ی → ي, ة → ه, ؤ → و, ئ → ي (hamza carriers lose the hamza);
- Sorani across old and new orthography: ک → ك, ە ھ → ه, ێ → ي, ۆ → و, ڕ → ر, ڵ → ل, وو → و;
- Arabic-Indic and Persian digits → ASCII; dashes (and a tatweel standing as a dash, touching no
  letter: "بغداد ـ كوردستان24") → "-"; curly quotes and apostrophes → ' and ";
- Latin: case folded and diacritics removed (Kerkûk → kerkuk, Pêşmerge → pesmerge, Dā‘iš → dais),
  apostrophes between two Latin letters dropped (Da'esh → daesh, Kirkuk's → kirkuks);
- whitespace runs → one space.

Each character is folded once through a cached table (`str.translate`, C speed); the offset map and
the context rules (whitespace runs, وو) are computed with numpy over code points, not per character
in Python (the README's benchmarks measure what a story costs).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

_DROP = frozenset(
    "\u0640"  # tatweel (see _TATWEEL_DASH for the dash use)
    "\u00ad"  # soft hyphen
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space, ZWNJ, ZWJ, word joiner, BOM
    "\u200e\u200f\u061c"  # LRM, RLM, Arabic letter mark
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # bidi isolates
    "\u0621"  # lone hamza: written or dropped at will
)

_FOLD = {
    "\u0671": "\u0627",  # alef wasla -> alef
    "\u0649": "\u064a",  # alef maksura -> yeh
    "\u06cc": "\u064a",  # Farsi/Kurdish yeh -> yeh
    "\u06d2": "\u064a",  # yeh barree -> yeh
    "\u0629": "\u0647",  # teh marbuta -> heh
    "\u06d5": "\u0647",  # Kurdish ae -> heh
    "\u06be": "\u0647",  # heh doachashmee -> heh
    "\u06c1": "\u0647",  # heh goal -> heh
    "\u06a9": "\u0643",  # keheh -> kaf
    "\u06ce": "\u064a",  # Sorani yeh with small v -> yeh
    "\u06c6": "\u0648",  # Sorani oe -> waw
    "\u06c7": "\u0648",  # u -> waw
    "\u0695": "\u0631",  # Sorani reh with small v below -> reh
    "\u06b5": "\u0644",  # Sorani lam with small v -> lam
    "\u06a4": "\u0641",  # veh -> feh
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
    "\u02be": "'", "\u02bf": "'",  # ʾ ʿ (hamza and ayn in transliteration)
    "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"',
    "\u060c": ",", "\u061b": ";", "\u061f": "?", "\u066a": "%",
}
for _zero in ("\u0660", "\u06f0"):
    for _offset in range(10):
        _FOLD[chr(ord(_zero) + _offset)] = str(_offset)

_TATWEEL_DASH = re.compile(r"(?<![^\W\d_])\u0640(?![^\W\d_])")
_SPACE = ord(" ")
_WAW = 0x0648
_APOSTROPHE = ord("'")


def _latin(codes: np.ndarray) -> np.ndarray:
    """Which folded code points are Latin letters (a-z once case and accents are folded)."""
    return (codes >= ord("a")) & (codes <= ord("z"))


def _fold_char(char: str) -> str:
    """Fold one original character to zero or more normalized characters."""
    if char in _DROP:
        return ""
    if char.isspace():
        return " "
    out = []
    for part in unicodedata.normalize("NFKC", char):
        if part in _FOLD:
            out.append(_FOLD[part])
            continue
        for sub in unicodedata.normalize("NFD", part):
            if unicodedata.category(sub) == "Mn" or sub in _DROP:
                continue  # harakat, shadda, sukun, tanween, superscript alef, Latin accents, hamza marks
            out.append(_FOLD.get(sub, sub))
    folded = "".join(out).casefold()
    # casefold or NFKC may yield characters that fold further (ﷲ, ß ...): fold until stable
    return folded if all(_fold_char(c) == c for c in folded if c != char) else "".join(
        _fold_char(c) for c in folded)


class _Table(dict):  # type: ignore[type-arg]
    """str.translate table that folds each code point on first sight and remembers it."""

    def __missing__(self, code: int) -> str:
        value = _fold_char(chr(code))
        self[code] = value
        return value


_TABLE = _Table()

# Vector tables over the Basic Multilingual Plane, filled lazily as characters are first seen:
# _KIND says whether a code point is dropped (0), becomes one character (1, given by _MAP),
# or becomes several (2, rare: ligatures, ß, ﷲ, which take the slower translate path).
_BMP = 0x10000
_KNOWN = np.zeros(_BMP, dtype=bool)
_KIND = np.zeros(_BMP, dtype=np.int8)
_MAP = np.zeros(_BMP, dtype=np.uint32)
_TATWEEL = 0x0640
_DASH = ord("-")


def _learn(codes: np.ndarray) -> None:
    for code in np.unique(codes[~_KNOWN[codes]]).tolist():
        folded = _TABLE[code]
        _KIND[code] = min(len(folded), 2)
        if len(folded) == 1:
            _MAP[code] = ord(folded)
        _KNOWN[code] = True


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


@dataclass(frozen=True)
class Normalized:
    """Normalized text and, for each of its characters, the index of the original character."""

    text: str
    offsets: np.ndarray

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalized text back to the original text."""
        return int(self.offsets[start]), int(self.offsets[end - 1]) + 1


_EMPTY = Normalized("", np.empty(0, dtype=np.int64))


def normalize(text: str) -> Normalized:
    """Normalize text for matching, keeping the offset of every character in the original."""
    if not text:
        return _EMPTY
    original = _code_points(text)
    if int(original.max()) >= _BMP:
        codes, offsets = _fold_slow(text)
    else:
        original = _tatweel_dashes(original)
        _learn(original)
        kind = _KIND[original]
        if (kind == 2).any():
            codes, offsets = _fold_slow(original.tobytes().decode("utf-32-le"))
        else:
            keep = kind == 1
            codes = _MAP[original[keep]]
            offsets = np.flatnonzero(keep)
    if len(codes) == 0:
        return _EMPTY
    previous = np.empty_like(codes)
    previous[0] = _SPACE  # a leading space is dropped too
    previous[1:] = codes[:-1]
    drop = ((codes == _SPACE) & (previous == _SPACE)) | ((codes == _WAW) & (previous == _WAW))
    apostrophes = np.flatnonzero(codes == _APOSTROPHE)
    if len(apostrophes):  # one between two Latin letters goes: Da'esh is daesh
        inner = apostrophes[(apostrophes > 0) & (apostrophes < len(codes) - 1)]
        drop[inner[_latin(codes[inner - 1]) & _latin(codes[inner + 1])]] = True
    if drop.any():
        keep = ~drop
        codes, offsets = codes[keep], offsets[keep]
    return Normalized(codes.tobytes().decode("utf-32-le"), offsets)


def _tatweel_dashes(codes: np.ndarray) -> np.ndarray:
    """A tatweel touching no letter stands for a dash (K ـ 1); one joined to a letter is dropped."""
    where = np.flatnonzero(codes == _TATWEEL)
    if len(where) == 0:
        return codes
    codes = codes.copy()
    for index in where.tolist():
        neighbours = [c for i, c in enumerate(codes[max(0, index - 1):index + 2].tolist())
                      if c != _TATWEEL]
        if not any(chr(c).isalpha() for c in neighbours):
            codes[index] = _DASH
    return codes


def _fold_slow(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold through the translate table, for texts with multi-character folds or astral characters."""
    text = _TATWEEL_DASH.sub("-", text) if "\u0640" in text else text
    original = _code_points(text)
    lengths = np.fromiter((len(_TABLE[c]) for c in original.tolist()), dtype=np.int64, count=len(original))
    offsets = np.repeat(np.arange(len(original), dtype=np.int64), lengths)
    return _code_points(text.translate(_TABLE)), offsets


_SHORT = 256  # below this length the string path beats the vector one (an alias: ~10 µs against ~160)
_SPACE_RUNS = re.compile(" {2,}")
_WAW_RUNS = re.compile("\u0648{2,}")
_INNER_APOSTROPHE = re.compile("(?<=[a-z])'(?=[a-z])")


def normalize_text(text: str) -> str:
    """The normalized string only, for hashing and indexing (what `normalize(text).text.strip()` gives).

    Short texts without tatweel (aliases, words) take a string path: the same fold table, then the
    same drops (repeated spaces and waws, an apostrophe between Latin letters); tests/test_normalize.py
    checks that both paths agree."""
    if len(text) > _SHORT or "\u0640" in text:
        return normalize(text).text.strip()
    folded = text.translate(_TABLE)
    folded = _INNER_APOSTROPHE.sub("", folded)
    folded = _WAW_RUNS.sub("\u0648", _SPACE_RUNS.sub(" ", folded))
    return folded.strip()
