"""Which language a story is in: Sorani from Arabic, Kurmanji from English and Turkish.

Script first (Arabic or Latin letters), then evidence inside the script: letters only Sorani uses
(ە ێ ۆ ڕ ڵ ڤ and the Persian-extended پ چ ژ گ with Kurdish ک/ی) against letters only Arabic uses
(ة ى ث ذ ض ظ); for Latin text, Kurmanji's ê î û ş ç and its function words against English and
Turkish (ı ğ ö ü) function words. A page's declared `lang` decides when the text is too short to say.
"""

from __future__ import annotations

import re

_SORANI = set("ەێۆڕڵڤ")
_SORANI_WEAK = set("پچژگکی")
_ARABIC = set("ةىثذضظ")
_KURMANJI_LETTERS = set("êîûşçÊÎÛŞÇ")
_TURKISH_LETTERS = set("ığöüİĞÖÜ")
_WORDS = re.compile(r"[^\W\d_]+")
_NOT_ARABIC_SCRIPT = re.compile(r"[^\u0600-\u06ff]+")
_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z]+")
_KURMANJI_WORDS = frozenset(
    [
        "û",
        "li",
        "ji",
        "di",
        "de",
        "ku",
        "bi",
        "ya",
        "yê",
        "yên",
        "ew",
        "vê",
        "wê",
        "hat",
        "kir",
        "dike",
        "dikin",
        "ne",
        "jî",
        "ser",
        "nav",
        "bo",
    ]
)
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "of",
        "to",
        "in",
        "is",
        "was",
        "for",
        "on",
        "that",
        "with",
        "said",
        "by",
        "from",
        "at",
        "as",
        "it",
    ]
)
_TURKISH_WORDS = frozenset(
    ["ve", "bir", "bu", "için", "ile", "da", "de", "olarak", "olan", "çok", "daha", "gibi", "ama"]
)
_CODES = {"ar", "en", "tr", "fa", "ckb", "kmr"}


def _declared(code: str | None, text: str) -> str | None:
    value = (code or "").strip().lower().replace("_", "-")
    primary = value.split("-")[0]
    if primary in _CODES:
        return primary
    if primary in ("ku", "kur"):
        if "arab" in value:
            return "ckb"
        if "latn" in value:
            return "kmr"
        return "ckb" if sum("\u0600" <= c <= "\u06ff" for c in text[:300]) > 20 else "kmr"
    return None


def _count(letters: set[str], text: str) -> int:
    """How many characters of `text` are among `letters` (str.count per letter: C speed)."""
    return sum(text.count(letter) for letter in letters)


def detect_language(text: str, declared: str | None = None, default: str = "en") -> str:
    """The story's language code (ar, ckb, kmr, en, tr, fa)."""
    sample = text[:4000]
    arabic_script = len(_NOT_ARABIC_SCRIPT.sub("", sample))
    latin = len(_NOT_ASCII_LETTER.sub("", sample)) + _count(_KURMANJI_LETTERS, sample)
    if arabic_script + latin < 40:
        return _declared(declared, text) or default
    if arabic_script >= latin:
        sorani = _count(_SORANI, sample) * 3 + _count(_SORANI_WEAK, sample) * 0.3
        arabic = _count(_ARABIC, sample) * 3
        if sorani > arabic and sorani >= 3:
            return "ckb"
        hint = _declared(declared, text)
        return "fa" if hint == "fa" else "ar"
    words = [w.lower() for w in _WORDS.findall(sample)]
    scores = {
        "kmr": sum(w in _KURMANJI_WORDS for w in words) + 2 * _count(_KURMANJI_LETTERS, sample) / 5,
        "en": sum(w in _ENGLISH_WORDS for w in words),
        "tr": sum(w in _TURKISH_WORDS for w in words) + 2 * _count(_TURKISH_LETTERS, sample) / 5,
    }
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else (_declared(declared, text) or default)
