"""How an alias may appear in text: prefixes, suffixes, letter–digit codes and case, per language.

The rules, stated once here and applied to every alias unless the alias overrides them:

- **Prefixes (Arabic script, all aliases).** Arabic writes its proclitics onto the next word:
  و ف (and, so), ب ل ك (in, for, like), the article ال and their combinations (وال بال لل كال فال وبال
  ولل ...). An alias may carry any of them: لقوات التحالف, وقوات, بكركوك, الـK1. Because ل + ال is
  written لل, an Arabic alias that starts with the article also matches without it (للبيشمركة).
- **Suffixes, by the script of the alias's last letter** (compared after normalization):
  - Latin (English and Kurmanji): English 's and plural s/es; Kurmanji case and number endings
    -ê -a -ên -an, after a vowel -yê -ya -yên -yan, indefinite -ek -ekê -eke -ekî (Kerkûkê,
    Pêşmergeyan, DAIŞê, Kirkuk's). Not -î/-i: Kirkuki is a surname, not the city.
  - Arabic script (Arabic and Sorani): Sorani definite and plural -ەکە -ەکان -ەکانی -ەکەی -ان -یان
    (after a final vowel -کە -کان -کانی -کەی -یەک: پێشمەرگەکان), locative -دا -ەدا -ەکەدا -ەکاندا,
    -یش -ش -ەوە; Arabic dual/plural -ان -ين -ون -ات and possessives
    -ه -ها -هم. Not the nisba -ي/-ية (كركوكي, کەرکووکی: "from Kirkuk", a surname) — write `داعش*` for
    an alias that should take every ending, nisba included (داعشي, داعشياً).
  - An alias ending in a digit (a code such as K-1) takes no suffix: K-12 is another thing.
- **Letter–digit codes** are one token whatever separates them: an alias like `K-1` or `كيه-1` also
  matches `K1`, `K 1`, `K–1`, `K - 1`, `K ـ 1`, `K-١`, `كيه 1`, `كيه١` (no separator, a space, a dash).
- **Case.** Matching ignores case, except for an alias written in capitals with at least two Latin
  letters (ISIS, ISIL, DAIŞ, KDP): it matches only text in capitals, so the goddess Isis and Isis
  Pharmaceuticals are not ISIS, while KIRKUK in a headline still matches Kirkuk.
- **Overrides per alias:** a trailing `*` allows any word ending (`Kerkûk*`); the mapping form
  `{term: ..., exact: true}` allows neither prefixes nor suffixes, `case: sensitive|insensitive`
  overrides the capitals rule.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from newsmon.normalize import normalize
from newsmon.settings import Alias, AliasSpec

_PROCLITIC_BASES = ("ب", "ل", "ك", "ال", "بال", "لل", "كال")
PROCLITICS = frozenset(
    {c + b for c in ("", "و", "ف") for b in _PROCLITIC_BASES} | {"و", "ف"}
)
MAX_PROCLITIC = max(len(p) for p in PROCLITICS)
ARTICLE = "ال"

LATIN_SUFFIXES = frozenset({
    "'s", "s", "es",  # English
    "e", "a", "en", "an", "ye", "ya", "yen", "yan", "ek", "eke", "eki",  # Kurmanji (ê ên î folded)
})
# Sorani and Arabic endings, written in their normalized form (ە→ه, ک→ك, ی→ي)
ARABIC_SCRIPT_SUFFIXES = frozenset({
    "هكه", "هكان", "هكاني", "هكهي", "ان", "يان", "دا", "هدا", "هكهدا", "هكاندا", "يش", "هوه",  # Sorani
    "كه", "كان", "كاني", "كهي", "كهدا", "كاندا", "يهك", "ش",  # Sorani, after a final vowel (پێشمەرگەکان)
    "ين", "ون", "ات", "ه", "ها", "هم", "هما",  # Arabic
})

CODE = re.compile(r"(?<![^\W\d_])([^\W\d_]{1,4})[ -]?(\d{1,4})(?!\d)")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


class AliasError(ValueError):
    """An alias that cannot be matched (empty after normalization, misplaced wildcard)."""


@dataclass(frozen=True)
class AliasRule:
    """A compiled alias: the normalized keys to look for and what may surround them."""

    term: str
    keys: tuple[str, ...]
    suffixes: frozenset[str] | None  # None: any word ending (wildcard)
    prefixes: bool
    case_sensitive: bool
    article_dropped: frozenset[str]  # keys that are the alias without its Arabic article


def _is_arabic(char: str) -> bool:
    return "\u0600" <= char <= "\u06ff"


def _code_variants(key: str) -> set[str]:
    """Every separator form (none, space, dash, spaced dash) of each letter–digit code in an alias."""
    codes = list(CODE.finditer(key))
    if not codes:
        return {key}
    variants = set()
    for separators in itertools.product(("", " ", "-", " - "), repeat=len(codes)):
        out, position = [], 0
        for match, separator in zip(codes, separators):
            out.append(key[position:match.start()])
            out.append(match.group(1) + separator + match.group(2))
            position = match.end()
        out.append(key[position:])
        variants.add("".join(out))
    return variants


def _auto_case_sensitive(term: str) -> bool:
    letters = [c for c in term if c.isalpha()]
    latin = [c for c in letters if _LATIN_LETTER.match(c)]
    return len(latin) >= 2 and len(latin) == len(letters) and all(c.isupper() for c in letters)


def compile_alias(alias: Alias) -> AliasRule:
    """Compile one alias from keywords.yaml.

    Raises:
        AliasError: the alias normalizes to nothing or has a misplaced `*`.
    """
    spec = alias if isinstance(alias, AliasSpec) else AliasSpec(term=alias)
    term = spec.term.strip()
    wildcard = term.endswith("*")
    body = term[:-1] if wildcard else term
    if "*" in body:
        raise AliasError(f"alias {term!r}: `*` may only end an alias (Kerkûk*)")
    key = normalize(body).text.strip()
    if not any(c.isalnum() for c in key):
        raise AliasError(f"alias {term!r} is empty after normalization (no letters or digits left)")
    if wildcard and (len(key) < 3 or not key[-1].isalpha()):
        raise AliasError(f"alias {term!r}: a wildcard needs at least three letters before `*`")
    if wildcard and spec.exact:
        raise AliasError(f"alias {term!r}: `exact` and a trailing `*` contradict each other")
    keys = _code_variants(key)
    dropped = set()
    if not spec.exact:
        for variant in list(keys):
            rest = variant[len(ARTICLE):]
            if variant.startswith(ARTICLE) and len(rest) >= 3 and _is_arabic(rest[0]):
                dropped.add(rest)
        keys |= dropped
    if spec.exact or key[-1].isdigit():
        suffixes: frozenset[str] | None = frozenset()
    elif wildcard:
        suffixes = None
    else:
        suffixes = ARABIC_SCRIPT_SUFFIXES if _is_arabic(key[-1]) else LATIN_SUFFIXES
    sensitive = spec.case == "sensitive" or (spec.case == "auto" and _auto_case_sensitive(body))
    return AliasRule(term=term, keys=tuple(sorted(keys)), suffixes=suffixes, prefixes=not spec.exact,
                     case_sensitive=sensitive, article_dropped=frozenset(dropped))
