"""What a report says that survives a change of language and script: its names and its numbers.

Events group the reports of one happening across languages (workers/events.py decides membership);
this module reads the evidence out of one report's title and lead.

Names. Every word is folded to a consonant skeleton that Arabic, Sorani, Persian and Latin spellings
of one name share: vowels, semivowels (w, y) and the letters that transliterations drop (h, ʿ, ʾ) go,
the rest fall into classes (b p | t d ṭ ḍ | s š ṣ θ | z ð ẓ | j č ž | k q g x ġ | f v | l | r | m | n),
and doubled classes collapse. Kirkuk, كركوك, کەرکووک and Kerkûk are all `KRK`; Barzani, بارزاني,
بارزانی and Barzanî are `BRZN`; Peshmerga and پێشمەرگە are `BSMRK`. In Latin text only capitalised
words are names; in Arabic script, which has no capitals, every word is a candidate and the stop lists
below remove the frequent ones. Arabic proclitics and the article (و ب ل ف ال), Sorani and Kurmanji
suffixes and the English plural give extra keys, so كركوك and بكركوك, Kirkuk and Kerkûkê meet.
Skeletons shorter than three consonants (Iraq, Duhok, ISIS) say too little and are not used.

Numbers. Digit runs, Arabic-Indic and Persian digits folded; years, single digits and the day of
the month the report was published carry little and are left out.

Datelines ("ERBIL, Kurdistan Region –", "أربيل (كوردستان 24)-", "Navenda Nûçeyan (K24) -") are
an outlet's boilerplate, not evidence, and are cut before reading.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from newsmon.normalize import normalize_text as _normalize_text
from newsmon.workers.eventconcepts import concept_of, name_of


@lru_cache(maxsize=50_000)  # at most about 10 MiB: measured in bench/events_bench.py
def normalize_text(word: str) -> str:
    """newsmon.normalize's folding of one word, remembered: news repeats its words."""
    return _normalize_text(word)


LEAD_CHARS = 600  # title and the start of the text: what every edition of a report keeps
MIN_SKELETON = 3

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
# a number standing alone, not digits inside a Latin word (word1x43, a slug, an id); an Arabic proclitic
# may stand before it (و۴۰: and 40)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_DIGITS = re.compile(r"(?<![0-9A-Za-z\u00C0-\u024F])(?:\d{1,3}(?:,\d{3})+|\d+(?:[.,]\d+)?)"
                     r"(?![0-9A-Za-z\u00C0-\u024F])")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_SENTENCE_END = re.compile(r"[.!?؟\n]")

# a dateline: a short opening segment ended by a dash or colon (ERBIL, Kurdistan Region – ...)
_DATELINE = re.compile(r"^\s*([^\n.!?؟]{2,60}?)\s*[-–—:]\s+")

_ARABIC_SKELETON = {
    "ب": "B", "پ": "B",
    "ت": "T", "د": "T", "ط": "T", "ض": "T",
    "ث": "S", "س": "S", "ش": "S", "ص": "S",
    "ذ": "Z", "ز": "Z", "ظ": "Z",
    "ج": "J", "چ": "J", "ژ": "J",
    "خ": "K", "غ": "K", "ق": "K", "ك": "K", "گ": "K",
    "ف": "F",
    "ل": "L", "ر": "R", "م": "M", "ن": "N",
}
_LATIN_DIGRAPHS = (("sch", "S"), ("sh", "S"), ("kh", "K"), ("gh", "K"), ("th", "S"), ("dh", "Z"),
                   ("zh", "J"), ("ph", "F"), ("ck", "K"), ("ch", "J"))
_LATIN_SKELETON = {
    "b": "B", "p": "B", "t": "T", "d": "T", "s": "S", "z": "Z", "j": "J",
    "k": "K", "q": "K", "g": "K", "x": "K", "f": "F", "v": "F",
    "l": "L", "r": "R", "m": "M", "n": "N",
}
# Kurmanji and Turkish write j as c (and ch as ç, which folding turns into c); English c is mostly k
_C_IS_J = frozenset({"kmr", "tr"})

_ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ل", "ف")
_SUFFIX_KEYS = {  # skeleton endings a word may carry in a language: the key without them is kept too
    "ckb": ("KN", "K", "T", "N", "S"),   # -ەکان -ەکە -دا -ان -یش
    "kmr": ("N",),                        # -ên -an
    "en": ("S",),                         # plural
    "ar": ("N", "T"),                     # -ين -ون -ات
    "fa": ("N",),                         # -ان
    "tr": ("N", "T"),
}


def _words(text: str) -> list[str]:
    return text.split()


# Words too frequent in news to say which happening a report is about. Latin entries are lower case
# (only capitalised words are read there: sentence openers, weekdays, titles); Arabic-script entries
# are folded as newsmon.normalize folds them. Country and region names of this beat belong here too:
# nearly every report names Iraq or Kurdistan.
_STOP_LATIN = frozenset(_words("""
a an and the of in on at to for from with by as is was were are be been has have had it its he she
they his her their this that these those but not no also which who when where while than then there
here will would can could may one two three four five six seven eight nine ten first second third
new last year years day days today yesterday tonight after before during over under about into
according however meanwhile earlier later since amid following monday tuesday wednesday thursday
friday saturday sunday january february march april may june july august september october november
december mr mrs dr president prime minister ministry minister's government region regional federal
national official officials source sources statement spokesperson spokesman office council committee
party parliament province governor city army forces security military police general head chief
deputy international interior defence defense foreign affairs iraq iraqi iraqis kurdistan kurdish
kurds kurd erbil baghdad kurdistan24 rudaw shafaq news agency reuters afp ap k24 li di ji bi ku û ya
yê ên ew vê wê ev dê jî re de da ve heta piştî berî îro duh sibe serok serokê serokwezîr serokwezîrê
hikûmeta hikûmet herêma herêmê parlamentoya wezîr wezîrê iraqê kurdistanê hewlêrê bexdayê navenda
nûçeyan yekşem duşem sêşem çarşem pêncşem în şemî hêz hêzên hêza hêzeke ve bir bu da de ile için olan olarak
ancak
"""))

_STOP_ARABIC = frozenset(normalize_text(w) for w in _words("""
في من على إلى الى عن مع أن ان إن التي الذي الذين هذا هذه ذلك تلك هو هي هم كان كانت يكون قد لم لا ما
كما بعد قبل خلال حيث بين عند منذ حتى أو او ثم كل أي اي وقال قال وأضاف واضاف وأكد وأشار واشار اليوم
امس أمس غدا مساء صباح الأحد الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت العراق العراقي العراقية
العراقيين إقليم اقليم كوردستان كردستان الكوردي الكردي الكورد الأكراد أربيل اربيل بغداد رئيس رئيسة
وزير وزارة حكومة الحكومة الرئيس الوزراء مجلس المحافظة محافظة القوات قوات الأمنية الأمن الجيش مصدر
مصادر بيان تصريح وكالة نيوز شفق كوردستان24 رووداو وفق وفقا بحسب أيضا ايضا عدد عددا جميع بشكل إطار
اطار لە بۆ بە و کە ئەو ئەم لەگەڵ دوای پێش هەروەها ئەمڕۆ دوێنێ سبەی بەڵام تا وەک یان لەسەر هەرێمی
هەرێم کوردستان عێراق عێراقی سەرۆکی سەرۆک حکوومەتی حکوومەت وەزیری وەزارەتی هەولێر بەغدا ڕایگەیاند
هێز هێزی هێزەکان هێزەکانی
گوتی وتی کوردستان24 ڕووداو یەکشەممە دووشەممە سێشەممە چوارشەممە پێنجشەممە هەینی شەممە در از به با که
این آن را برای تا بر یک پس هم نیز امروز دیروز گفت کرد شد است بود عراق اقلیم کردستان کوردستان اربیل
بغداد رئیس نخست وزیر دولت
"""))

_MONTHS = frozenset(normalize_text(w) for w in _words("""
كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس
سبتمبر أكتوبر نوفمبر ديسمبر کانوونی شوبات ئازار نیسان ئایار حوزەیران تەممووز ئاب ئەیلوول تشرینی
ژانویه فوریه مارس آوریل مه ژوئن ژوئیه اوت سپتامبر اکتبر نوامبر دسامبر Çile Sibat Adar Nîsan Gulan
Hezîran Tîrmeh Tebax Îlon Cotmeh Mijdar Kanûn
"""))

# The days of the week, 0 (Monday) to 6, in the six languages: two reports that each say on which day
# something happened, and name no day in common, tell of two happenings (rockets on Friday, more on
# Saturday). Arabic days are read with their article only (أحد alone is "one of").
_WEEKDAY_WORDS = (
    "Monday الاثنين الإثنين دووشەممە Duşem Duşemê دوشنبه Pazartesi",
    "Tuesday الثلاثاء سێشەممە Sêşem Sêşemê سهشنبه Salı",
    "Wednesday الأربعاء الاربعاء چوارشەممە Çarşem Çarşemê چهارشنبه Çarşamba",
    "Thursday الخميس پێنجشەممە Pêncşem Pêncşemê پنجشنبه Perşembe",
    "Friday الجمعة هەینی Înê جمعه Cuma",
    "Saturday السبت شەممە Şemî شنبه Cumartesi",
    "Sunday الأحد الاحد یەکشەممە Yekşem Yekşemê یکشنبه",
)
_WEEKDAYS = {normalize_text(w).replace("\u200c", ""): day
             for day, line in enumerate(_WEEKDAY_WORDS) for w in line.split()}
_WEEKDAY_PREFIXES = ("و", "ب", "وب", "ل")  # Arabic: and, on (والجمعة, بالسبت)


# Persian writes its weekdays in two words (سه‌شنبه, سه شنبه: Tuesday), and شنبه alone is Saturday
_PERSIAN_DAY = re.compile("(یک|دو|سه|چهار|پنج)[\u200c ]?شنبه")


def weekdays(text: str) -> set[int]:
    """The days of the week a text names, 0 (Monday) to 6."""
    text = _PERSIAN_DAY.sub(lambda m: m.group(1) + "شنبه", text)
    return {day for word in _TOKEN.findall(text) if (day := _weekday(word)) is not None}


def _weekday(word: str) -> int | None:
    folded = normalize_text(word).replace("\u200c", "")
    found = _WEEKDAYS.get(folded)
    if found is None and _ARABIC.search(folded):
        for prefix in _WEEKDAY_PREFIXES:
            if folded.startswith(prefix) and folded[len(prefix):] in _WEEKDAYS:
                return _WEEKDAYS[folded[len(prefix):]]
        if folded.endswith("دا") and folded[:-2] in _WEEKDAYS:  # Sorani: هەینیدا, on Friday
            return _WEEKDAYS[folded[:-2]]
    return found


@dataclass(frozen=True)
class Features:
    """The evidence one report offers: name keys (with the word each came from) and numbers."""

    names: dict[str, str] = field(default_factory=dict)   # skeleton key -> the word it was read from
    tokens: int = 0                                       # name words read (each may give several keys)
    numbers: frozenset[str] = frozenset()
    concepts: frozenset[str] = frozenset()
    first: frozenset[str] = frozenset()  # the keys of the headline's first name: whom or where it is about
    days: frozenset[int] = frozenset()   # the days of the week the lead names, 0 (Monday) to 6

    def as_dict(self) -> dict[str, object]:
        return {"names": self.names, "tokens": self.tokens, "numbers": sorted(self.numbers),
                "concepts": sorted(self.concepts), "first": sorted(self.first), "days": sorted(self.days)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Features:
        return cls(dict(data.get("names") or {}), int(data.get("tokens") or 0),  # type: ignore[call-overload]
                   frozenset(data.get("numbers") or ()), frozenset(data.get("concepts") or ()),  # type: ignore[arg-type]
                   frozenset(data.get("first") or ()),  # type: ignore[arg-type]
                   frozenset(int(d) for d in data.get("days") or ()))  # type: ignore[attr-defined]


def _collapse(classes: list[str]) -> str:
    out: list[str] = []
    for c in classes:
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def arabic_skeleton(folded: str) -> str:
    """The skeleton of one Arabic-script word, folded by newsmon.normalize."""
    return _collapse([_ARABIC_SKELETON[c] for c in folded if c in _ARABIC_SKELETON])


def latin_skeleton(folded: str, language: str, final_g: bool = False) -> str:
    """The skeleton of one Latin word, folded by newsmon.normalize (lower case, no accents); a final -ng
    counts as n unless `final_g`."""
    word = folded
    if word.endswith("ng") and not final_g:
        word = word[:-1]
    for digraph, cls in _LATIN_DIGRAPHS:
        if digraph == "ch" and language in _C_IS_J:
            continue
        word = word.replace(digraph, cls)
    classes = []
    for c in word:
        if c.isupper():  # a digraph's class
            classes.append(c)
        elif c == "c":
            classes.append("J" if language in _C_IS_J else "K")
        elif c in _LATIN_SKELETON:
            classes.append(_LATIN_SKELETON[c])
    return _collapse(classes)


def _keys(skeleton: str, language: str) -> list[str]:
    keys = [skeleton] if len(skeleton) >= MIN_SKELETON else []
    for suffix in _SUFFIX_KEYS.get(language, ()):
        if skeleton.endswith(suffix) and len(skeleton) - len(suffix) >= MIN_SKELETON:
            keys.append(skeleton[: -len(suffix)])
    return keys


# the stop words' skeletons: their inflected forms (Kurdistana, الكردستاني) are stopped too
_STOP_KEYS = frozenset(
    {latin_skeleton(normalize_text(w), "en") for w in ("kurdistan", "kurdish", "kurds", "kurd", "erbil",
                                                        "baghdad", "iraqi", "government", "region")}
    | {arabic_skeleton(w) for w in map(normalize_text, ("كوردستان", "كردستاني", "عراقي", "اربيل", "بغداد",
                                                         "هەولێر", "حكومة", "اقليم"))}
)


def _strip_dateline(text: str) -> str:
    match = _DATELINE.match(text)
    if not match:
        return text
    head = match.group(1)
    words = _TOKEN.findall(head)
    if len(words) > 6 or not words:
        return text
    if "(" in head or head.isupper() or any(w.isupper() and len(w) > 2 for w in words) or "," in head:
        return text[match.end():]
    if any(normalize_text(w) in _STOP_ARABIC or w.lower() in _STOP_LATIN for w in words):
        return text[match.end():]
    return text


def _sentence_starts(text: str) -> set[int]:
    starts = {0}
    for m in _SENTENCE_END.finditer(text):
        starts.add(m.end())
    return starts


def _title_case(title: str) -> bool:
    """Whether a Latin-script headline capitalises (nearly) every word of four letters or more."""
    words = [w for w in _TOKEN.findall(title) if len(w) >= 4 and not _ARABIC.search(w)]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) >= 0.8 * len(words)


def features(title: str, text: str, language: str, published: datetime | None = None) -> Features:
    """Read a report's names and numbers from its title and the start of its text."""
    body = _strip_dateline(text or "")
    lead = f"{title or ''}\n{body}"[: LEAD_CHARS + len(title or "")]
    names: dict[str, str] = {}
    concepts: set[str] = set()
    days = weekdays(lead)
    first: list[str] = []
    title_end = len(title or "")
    tokens = 0
    starts = _sentence_starts(lead)
    # A headline in Title Case capitalises every word: there a word is a name only when the text
    # capitalises it too ("Kurdistan Will Always Stand for Religious Freedom, Barzani Says")
    title_case = _title_case(title or "")
    body_capitals = {w for w in _TOKEN.findall(lead[title_end:]) if w[0].isupper()} if title_case else set()
    previous: tuple[int, str, int] | None = None  # the last capitalised Latin word: end, skeleton, start
    for match in _TOKEN.finditer(lead):
        word = match.group()
        if any(ch.isdigit() for ch in word):
            continue
        if _weekday(word) is not None:
            previous = None
            continue
        thesaurus_form = _fold(word)
        concept = _lookup(thesaurus_form, concept_of, 2)
        if concept:
            concepts.add(concept)
            continue
        if title_case and match.start() < title_end and word not in body_capitals \
                and not _ARABIC.search(word):
            previous = None
            continue
        if not _ARABIC.search(word) and word[0].isupper() and word.lower() not in _STOP_LATIN:
            # a name written in two words (Khor Mor, Sheikh Jangi) is one word in Arabic script (كورمور)
            skeleton = latin_skeleton(normalize_text(re.split(r"['’]", word)[0]), language)
            if previous and lead[previous[0]:match.start()].strip() in ("", "-") and previous[1] + skeleton:
                joined = _collapse(list(previous[1] + skeleton))
                if len(joined) >= MIN_SKELETON + 1:
                    names.setdefault(joined, lead[previous[2]:match.end()])
            previous = (match.end(), skeleton, match.start())
        else:
            previous = None
        if _ARABIC.search(word):
            folded = normalize_text(word)
            if folded in _STOP_ARABIC or folded in _MONTHS or len(folded) < 3:
                continue
            variants = [folded] + [folded[len(p):] for p in _ARABIC_PREFIXES
                                   if folded.startswith(p) and len(folded) - len(p) >= 3]
            word_keys = [k for v in variants
                         if normalize_text(v) not in _STOP_ARABIC
                         for k in _keys(arabic_skeleton(v), language)]
        else:
            if not word[0].isupper():
                continue
            lower = word.lower()
            if lower in _STOP_LATIN or normalize_text(word) in _MONTHS:
                continue
            if match.start() in starts and len(word) < 4:
                continue
            word = re.split(r"['’]", word)[0]  # Iraq’s, Öcalan’ın: the name without its suffix
            folded = unicodedata.normalize("NFKC", normalize_text(word)).replace("'", "")
            word_keys = _keys(latin_skeleton(folded, language), language)
            if folded.endswith("ng"):
                # Sarsang, Sersing: the g may be a consonant of the name (سرسنك), as it is not in -ing
                word_keys += [k for k in _keys(latin_skeleton(folded, language, final_g=True), language)
                              if k not in word_keys]
        word_keys = [k for k in word_keys if k not in _STOP_KEYS]
        named = _lookup(thesaurus_form, name_of, 3)
        if named:
            word_keys.append("@" + named)
        if not word_keys:
            continue
        if not first and match.start() < title_end:
            first = word_keys
        tokens += 1
        for key in word_keys:
            names.setdefault(key, word)
    return Features(names, tokens, frozenset(numbers(lead, published)), frozenset(concepts), frozenset(first),
                    frozenset(days))


def _fold(word: str) -> str:
    """A word folded for the thesauri, without an apostrophe's suffix (Iraq’s, Öcalan’ın)."""
    return normalize_text(re.split(r"['’]", word)[0])


def _lookup(folded: str, of: Callable[[str], str | None], rest: int) -> str | None:
    """`of(folded)`, or in Arabic script of the word after a proclitic when `rest` letters remain."""
    if not _ARABIC.search(folded):
        return of(folded)
    for prefix in ("",) + _ARABIC_PREFIXES:
        if folded.startswith(prefix) and len(folded) - len(prefix) >= rest:
            found = of(folded[len(prefix):])
            if found:
                return found
    return None


# dates and times written in digits (2026-12-03, 03/12/2026, ۲۸/ ۰۷/ ۲۰۲۵, 08:22): a page's timestamp,
# which two reports of one minute share whatever they tell
_DATE_OR_TIME = re.compile(r"\d{4}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,2}"
                           r"|\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{2,4}"
                           r"|\d{1,2}:\d{2}(?::\d{2})?")


def numbers(text: str, published: datetime | None = None) -> set[str]:
    """The telling numbers of a text: digit runs (any digits folded) but dates and times, years, single
    digits and the day of the month of publication."""
    found = set()
    day = published.day if published else None
    for match in _DIGITS.finditer(_DATE_OR_TIME.sub(" ", normalize_text(text))):
        value = match.group()
        # 1,200 and 1,200,000 group thousands; 1,5 and 3.5 have a fraction
        value = value.replace(",", "") if _THOUSANDS.fullmatch(value) else value.replace(",", ".")
        try:
            number = float(value)
        except ValueError:
            continue
        if number < 10 or (1900 <= number <= 2100 and "." not in value):
            continue
        if day is not None and number in (day, day - 1):
            continue
        found.add(value.rstrip("0").rstrip(".") if "." in value else value)
    return found
