"""Sorani Kurdish between its Arabic script and the Kurdish Latin alphabet (Hawar), with no engine.

The letters correspond one to one except for three things, handled here as Kurdish readers do:
- و and ی are consonants (w, y) next to a vowel or at a word's start, vowels (u, î) between consonants;
  وو is û;
- ئ only carries a vowel that starts a syllable and is not written in Latin;
- the short vowel i (bizroke) is not written in Sorani script, so it cannot be restored: کوردستان comes
  out "kurdstan" where the usual spelling is "Kurdistan", سلێمانی "slêmanî" for "Silêmanî". Going back,
  i is dropped, as Sorani writes it.

Digits, punctuation and Latin text pass through; Arabic letters that Sorani does not use (ث ذ ص ض ط ظ ة)
take their nearest Kurdish sound; ح and غ are written h and x, as Hawar merges them, and ع is not
written (عێراق, Êraq).
"""

from __future__ import annotations

import re

_CONSONANTS = {
    "ب": "b", "پ": "p", "ت": "t", "ج": "c", "چ": "ç", "ح": "h", "خ": "x", "د": "d", "ر": "r", "ڕ": "rr",
    "ز": "z", "ژ": "j", "س": "s", "ش": "ş", "ع": "", "غ": "x", "ف": "f", "ڤ": "v", "ق": "q", "ک": "k",
    "ك": "k", "گ": "g", "ل": "l", "ڵ": "ll", "م": "m", "ن": "n", "ه": "h", "ھ": "h",
    "ث": "s", "ذ": "z", "ص": "s", "ض": "z", "ط": "t", "ظ": "z", "ء": "",
}
_VOWELS = {"ا": "a", "ە": "e", "ة": "e", "ێ": "ê", "ۆ": "o", "آ": "a", "أ": "e", "إ": "î"}
_SEMI = {"و": ("w", "u"), "ی": ("y", "î"), "ي": ("y", "î"), "ى": ("y", "î")}
# the hamza seat, tatweel, ZWNJ/ZWJ and harakat are not written in Latin
_SILENT = "ئ\u0640\u200c\u200d\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652"
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹،؛؟", "01234567890123456789,;?")
_WORD = re.compile(r"[\u0600-\u06ff\u200c\u200d]+")


def _latin_word(word: str) -> str:
    letters = [c for c in word.replace("وو", "\ue000") if c not in _SILENT]
    out: list[str] = []
    for index, letter in enumerate(letters):
        if letter == "\ue000":
            out.append("û")
        elif letter in _VOWELS:
            out.append(_VOWELS[letter])
        elif letter in _SEMI:
            consonant, vowel = _SEMI[letter]
            before = letters[index - 1] if index else None
            after = letters[index + 1] if index + 1 < len(letters) else None
            next_to_vowel = (before is not None and (before in _VOWELS or before == "\ue000")) or (
                after is not None and (after in _VOWELS or after == "\ue000"))
            starts = before is None and word[0] not in "ئ"  # ئی, ئو at a word's start are vowels
            out.append(consonant if (starts and after is not None) or next_to_vowel else vowel)
        else:
            # initial r is always trilled: Sorani writes it ڕ, Latin r (ڕووداو, Rûdaw)
            out.append("r" if letter == "ڕ" and not index else _CONSONANTS.get(letter, letter))
    return "".join(out)


def to_latin(text: str) -> str:
    """Sorani in Arabic script as Kurdish Latin letters (lower case; other text as it was)."""
    return _WORD.sub(lambda m: _latin_word(m.group(0)), text).translate(_DIGITS)


_BACK = [("rr", "ڕ"), ("ll", "ڵ"), ("û", "وو"), ("ê", "ێ"), ("î", "ی"), ("ç", "چ"), ("ş", "ش"),
         ("a", "ا"), ("b", "ب"), ("c", "ج"), ("d", "د"), ("e", "ە"), ("f", "ف"),
         ("g", "گ"), ("h", "ه"), ("i", ""), ("j", "ژ"), ("k", "ک"), ("l", "ل"), ("m", "م"), ("n", "ن"),
         ("o", "ۆ"), ("p", "پ"), ("q", "ق"), ("r", "ر"), ("s", "س"), ("t", "ت"), ("u", "و"), ("v", "ڤ"),
         ("w", "و"), ("x", "خ"), ("y", "ی"), ("z", "ز")]
_BACK_PATTERN = re.compile("|".join(re.escape(latin) for latin, _ in _BACK))
_BACK_MAP = dict(_BACK)
_LATIN_WORD = re.compile(r"[a-zçşêîû']+")
_VOWEL_START = frozenset("aeêîoûu")


def to_arabic(text: str) -> str:
    """Kurdish Latin letters (Kurmanji or Sorani) in Sorani's Arabic script; i, unwritten there, dropped."""

    def word(match: re.Match[str]) -> str:
        latin = match.group(0).replace("'", "")
        arabic = _BACK_PATTERN.sub(lambda m: _BACK_MAP[m.group(0)], latin)
        if latin[:1] == "r":  # Sorani writes an initial r trilled
            arabic = "ڕ" + arabic[1:]
        return ("ئ" + arabic) if latin[:1] in _VOWEL_START or latin[:1] == "i" else arabic

    return _LATIN_WORD.sub(word, text.lower())
