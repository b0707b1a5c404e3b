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
  - Sorani aliases (written with ە ێ ۆ ڕ or ڵ) also take the ezafe -ی/-یی (کەرکووکی: "Kirkuk's …",
    "the Kirkuk of …"). The surname Kerkûkî is told apart by `none` terms naming the person
    ("کەمال کەرکووکی" cancels that occurrence only); `{term: X, ezafe: false}` turns it off.
  - The Arabic nisba -ي -ية -يين -يون ("of", "-ist") only where asked: `nisba: true` on a topic or
    an alias (داعشي is ISIS; كركوكي is a surname, not Kirkuk).
- **Inside multi-word aliases**, each word takes the endings its language puts there: in Sorani the
  ezafe and the definite and plural forms on a word the alias writes with its ezafe (هێزی / هێزەکانی /
  سەربازانی هاوپەیمانی, هاوپەیمانیی نێودەوڵەتیی) and the last word's own endings (هاوپەیمانان); in
  Kurmanji (aliases with ê î û ş ç) the ezafe -ê -a -ên (-yê -ya -yên after a vowel) on a word written
  with one (hêza koalîsyonê, hêzên koalîsyona). A word written bare (کەی وان) is a name and stays as is.
- **Split and joined names.** A one-word alias of six letters or more also matches written as two
  words (split by a space or a hyphen, three letters at least on each side: pesh merga, Pêş-merge,
  پێش مەرگە); a two-word alias also matches joined (IslamicState). `{term: X, split: false}` turns
  both off. In Latin script apostrophes and ʿ ʾ between letters fold away and macrons with the other
  accents (Da'esh → daesh, Dā‘iš → dais).
- **Kurdish letters typed on an Arabic keyboard.** An alias with گ پ چ or ژ also matches the text that
  writes them ك ب ج ز (بێشمەرکە for پێشمەرگە); ڤ is already folded to ف.
- **Letter–digit codes** are one token whatever separates them: an alias like `K-1` or `كيه-1` also
  matches `K1`, `K 1`, `K–1`, `K - 1`, `K ـ 1`, `K-١`, `كيه 1`, `كيه١` (no separator, a space, a dash).
- **Case.** Matching ignores case, except for an alias written in capitals with at least two Latin
  letters (ISIS, ISIL, DAIŞ, KDP): it matches only text in capitals, so the goddess Isis and Isis
  Pharmaceuticals are not ISIS, while KIRKUK in a headline still matches Kirkuk.
- **Common words are never generated.** A form a rule generates (joined, split, inflected, keyboard,
  without the article) that is a common word or name of its language (`workers/data/common_words.tsv`:
  كي وان joined is كيوان, the given name Keyvan) is left out; `newsmon keywords check` lists each one
  and why, and `{term: ..., keep: [form]}` keeps it. The alias as written is always matched.
- **Overrides per alias:** a trailing `*` allows any word ending (`Kerkûk*`); the mapping form
  `{term: ..., exact: true}` allows neither prefixes nor suffixes, `case: sensitive|insensitive`
  overrides the capitals rule.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

from newsmon.normalize import normalize_text
from newsmon.settings import Alias, AliasSpec
from newsmon.workers.commonwords import common_words

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

SORANI_EZAFE = frozenset({"ي", "يي"})
NISBA = frozenset({"ي", "يه", "يين", "يون", "يا"})  # normalized: -ية is -يه; -يّاً is -يا
_SORANI_MARKS = frozenset("ەێۆڕڵ")
_KURMANJI_MARKS = frozenset("êîûşçÊÎÛŞÇ")
# a word before another word of the alias: the ezafe with the definite and plural forms (normalized),
# by how the stem ends
_SORANI_STRIP = ("هكاني", "كاني", "هكهي", "كهي", "اني", "يي", "ي")
_SORANI_AFTER_CONSONANT = ("", "ي", "هكهي", "هكاني", "اني")
_SORANI_AFTER_VOWEL = ("", "ي", "كهي", "كاني")  # stems ending in ه ا و
_SORANI_AFTER_I = ("", "ي")  # stems ending in ي take -یی
_KURMANJI_STRIP = ("yen", "yan", "ye", "ya", "en", "an", "e", "a")
_KURMANJI_AFTER_CONSONANT = ("", "e", "a", "en")  # -ê -a -ên
_KURMANJI_AFTER_VOWEL = ("", "ye", "ya", "yen")
_INFLECTED_MOST = 64  # written forms of one multi-word alias; past it only the first word is inflected
_KEYBOARD = {
    "\u06af": "\u0643",
    "\u067e": "\u0628",
    "\u0686": "\u062c",
    "\u0698": "\u0632",
}  # گ پ چ ژ → ك ب ج ز
_KEYBOARD_MOST = 3  # Kurdish letters per key whose every combination is generated (2**3 forms)
_SPLIT_FROM = 6  # letters in a one-word alias that may be written split in two
_SPLIT_SIDE = 3  # letters at least on each side of the split

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
    dropped: tuple[tuple[str, str], ...] = ()  # generated forms left out, each with why


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


def _stems(word: str, endings: tuple[str, ...], shortest: int) -> set[str]:
    """The word and what is left of it without each ending it may carry (at least `shortest` letters)."""
    return {word} | {word[:-len(e)] for e in endings if word.endswith(e) and len(word) - len(e) >= shortest}


def _inflected(key: str, sorani: bool, kurmanji: bool) -> set[str]:
    """A multi-word key with each word as its language may write it inside the phrase: every word
    but the last with the inner endings, the last as its stem (its endings are the rule's suffixes)."""
    words = key.split(" ")
    if len(words) < 2 or not (sorani or kurmanji):
        return {key}
    strip = _SORANI_STRIP if sorani else _KURMANJI_STRIP
    forms: list[set[str]] = []
    for word in words[:-1]:
        stems = _stems(word, strip, 3) if word.isalpha() else {word}
        if (
            len(stems) == 1
        ):  # written without an ezafe: a name or a compound (کەی وان), not a phrase that inflects
            forms.append({word})
            continue
        forms.append({stem + ending for stem in stems for ending in _inner_endings(stem, sorani)})
    last = words[-1]
    last_strip = ("ي",) if sorani else _KURMANJI_STRIP
    forms.append(_stems(last, last_strip, 4) if last.isalpha() else {last})
    if math.prod(len(f) for f in forms) > _INFLECTED_MOST:  # a long phrase: its head word only
        forms = [forms[0], *({w} for w in words[1:])]
    return {key} | {" ".join(parts) for parts in itertools.product(*forms)}


def _inner_endings(stem: str, sorani: bool) -> tuple[str, ...]:
    """The endings a word takes before the next word of a phrase, by its language and last letter."""
    if sorani:
        if stem.endswith("ي"):
            return _SORANI_AFTER_I
        return _SORANI_AFTER_VOWEL if stem[-1] in "هاو" else _SORANI_AFTER_CONSONANT
    return _KURMANJI_AFTER_VOWEL if stem[-1] in "aeiou" else _KURMANJI_AFTER_CONSONANT


def _split_and_joined(key: str) -> set[str]:
    """A one-word key of six letters or more split in two by a space or a hyphen; a two-word key joined."""
    words = key.split(" ")
    if len(words) == 2 and all(w.isalpha() for w in words):
        return {words[0] + words[1]}
    if len(words) == 1 and key.isalpha() and len(key) >= _SPLIT_FROM:
        return {key[:i] + separator + key[i:] for i in range(_SPLIT_SIDE, len(key) - _SPLIT_SIDE + 1)
                for separator in (" ", "-")}
    return set()


def _keyboard_forms(key: str) -> set[str]:
    """The key with any of its گ پ چ ژ written as an Arabic keyboard writes them (ك ب ج ز): a writer
    may type one of them and not another; past three such letters, only all or none."""
    where = [i for i, c in enumerate(key) if c in _KEYBOARD]
    if not where:
        return {key}
    if len(where) > _KEYBOARD_MOST:
        return {key, "".join(_KEYBOARD.get(c, c) for c in key)}
    forms = set()
    for chosen in itertools.product((False, True), repeat=len(where)):
        letters = list(key)
        for index, swap in zip(where, chosen):
            if swap:
                letters[index] = _KEYBOARD[letters[index]]
        forms.add("".join(letters))
    return forms


def compile_alias(alias: Alias, nisba: bool = False) -> AliasRule:
    """Compile one alias from keywords.yaml (`nisba`: the topic's setting, which the alias may override).

    Raises:
        AliasError: the alias normalizes to nothing or has a misplaced `*`.
    """
    spec = alias if isinstance(alias, AliasSpec) else AliasSpec(term=alias)
    term = spec.term.strip()
    wildcard = term.endswith("*")
    body = term[:-1] if wildcard else term
    if "*" in body:
        raise AliasError(f"alias {term!r}: `*` may only end an alias (Kerkûk*)")
    key = normalize_text(body)
    if not any(c.isalnum() for c in key):
        raise AliasError(f"alias {term!r} is empty after normalization (no letters or digits left)")
    if wildcard and (len(key) < 3 or not key[-1].isalpha()):
        raise AliasError(f"alias {term!r}: a wildcard needs at least three letters before `*`")
    if wildcard and spec.exact:
        raise AliasError(f"alias {term!r}: `exact` and a trailing `*` contradict each other")
    sorani = any(c in _SORANI_MARKS for c in body)
    kurmanji = not sorani and any(c in _KURMANJI_MARKS for c in body)
    keys = _code_variants(key)
    written = set(keys)  # as written (with its code forms): the base of the other forms
    if not spec.exact and not wildcard:
        keys = {form for k in written for form in _inflected(k, sorani, kurmanji)}
        if spec.split:
            keys |= {form for k in written for form in _split_and_joined(k)}
    dropped = set()
    if not spec.exact:
        for variant in list(keys):
            rest = variant[len(ARTICLE):]
            if variant.startswith(ARTICLE) and len(rest) >= 3 and _is_arabic(rest[0]):
                dropped.add(rest)
        keys |= dropped
        keys |= {form for k in written for form in _keyboard_forms(k)}
    if spec.exact or key[-1].isdigit():
        suffixes: frozenset[str] | None = frozenset()
    elif wildcard:
        suffixes = None
    elif _is_arabic(key[-1]):
        suffixes = ARABIC_SCRIPT_SUFFIXES
        if sorani and spec.ezafe:
            suffixes |= SORANI_EZAFE
        if spec.nisba if spec.nisba is not None else nisba:
            suffixes |= NISBA
    else:
        suffixes = LATIN_SUFFIXES
    # a generated form that is a common word or name of its language (كي وان joined is كيوان, the
    # given name Keyvan) is left out, unless the operator keeps it
    common = common_words()
    keep = {normalize_text(form) for form in spec.keep}
    left_out = tuple(sorted((form, common[form]) for form in keys - written
                            if form in common and form not in keep))
    keys -= {form for form, _ in left_out}
    sensitive = spec.case == "sensitive" or (spec.case == "auto" and _auto_case_sensitive(body))
    return AliasRule(term=term, keys=tuple(sorted(keys)), suffixes=suffixes, prefixes=not spec.exact,
                     case_sensitive=sensitive, dropped=left_out)
