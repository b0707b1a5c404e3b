"""Text normalization for matching and dedupe, with a map from normalized back to original offsets.

One function serves text and aliases alike, so both sides of a match are folded the same way:
Arabic diacritics, tatweel, zero-width and bidi marks dropped; hamza carriers, alef, yeh, teh marbuta
and the Sorani letter forms (ک ی ە ھ ێ ۆ ڕ ڵ) folded; Arabic-Indic digits to ASCII; dashes and
quotes unified; Latin case and diacritics folded (Kerkûk = Kerkuk).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_DROP = {
    "\u0640",  # tatweel
    "\u00ad",  # soft hyphen
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width space, ZWNJ, ZWJ, word joiner, BOM
    "\u200e", "\u200f", "\u061c",  # LRM, RLM, Arabic letter mark
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # bidi embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # bidi isolates
    "\u0621",  # lone hamza: written or dropped at will
}

_FOLD = {
    # Arabic letter variants (the hamza carriers lose their hamza through NFD below)
    "\u0671": "\u0627",  # alef wasla -> alef
    "\u0649": "\u064a",  # alef maksura -> yeh
    "\u06cc": "\u064a",  # Farsi/Kurdish yeh -> yeh
    "\u06d2": "\u064a",  # yeh barree -> yeh
    "\u0629": "\u0647",  # teh marbuta -> heh
    "\u06d5": "\u0647",  # Kurdish ae -> heh
    "\u06be": "\u0647",  # heh doachashmee -> heh
    "\u06c1": "\u0647",  # heh goal -> heh
    "\u06a9": "\u0643",  # keheh -> kaf
    # Sorani letters written with or without their marks
    "\u06ce": "\u064a",  # yeh with small v
    "\u06c6": "\u0648",  # oe
    "\u06c7": "\u0648",  # u
    "\u0695": "\u0631",  # reh with small v below
    "\u06b5": "\u0644",  # lam with small v
    "\u06a4": "\u0641",  # veh -> feh
    # dashes and quotes
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"',
    # Arabic punctuation that NFKC keeps
    "\u060c": ",", "\u061b": ";", "\u061f": "?", "\u066a": "%",
}

for _zero, _base in (("\u0660", 0), ("\u06f0", 0)):
    for _offset in range(10):
        _FOLD[chr(ord(_zero) + _offset)] = str(_offset)


@lru_cache(maxsize=4096)
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
    return "".join(out).casefold()


@dataclass(frozen=True)
class Normalized:
    """Normalized text and, for each of its characters, the index of the original character."""

    text: str
    offsets: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalized text back to the original text."""
        return self.offsets[start], self.offsets[end - 1] + 1


def normalize(text: str) -> Normalized:
    """Normalize text for matching; whitespace runs collapse to one space and doubled waw to one."""
    chars: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        for out in _fold_char(char):
            if out == " " and (not chars or chars[-1] == " "):
                continue
            if out == "\u0648" and chars and chars[-1] == "\u0648":
                continue  # Sorani وو vs و: older spelling drops the doubled vowel
            chars.append(out)
            offsets.append(index)
    return Normalized("".join(chars), tuple(offsets))


def normalize_text(text: str) -> str:
    """The normalized string only, for hashing and indexing."""
    return normalize(text).text.strip()
