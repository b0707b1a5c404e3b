"""The stories `newsmon demo --serve` keeps publishing: new ones, for the first NEW_FOR stories (about
NEW_FOR_MINUTES minutes; after that some come close enough to an earlier one to be filed as its copy).

Each story is put together from sentences of its language (Arabic, Sorani, Kurmanji, English) with
places and figures of its own, so that no two are copies of each other unless meant to be: about two in
three mention what the demo desk watches (Peshmerga, ISIS, Kirkuk, the K-1 base, coalition troops) and
alert; the rest (weather, markets, culture) do not; every fifth is a copy on purpose, the story before it
republished by another outlet of its language, which newsmon files under the first and does not alert
again. These texts were written for the demo; they report nothing that happened.
"""

from __future__ import annotations

from dataclasses import dataclass

# A place in the four languages' spellings
PLACES = (  # each keeps three consonants or more in every script, so that newsmon reads it as a name
    {"en": "Makhmour", "ar": "مخمور", "ckb": "مەخموور", "kmr": "Mexmûr"},
    {"en": "Sinjar", "ar": "سنجار", "ckb": "شنگال", "kmr": "Şengal"},
    {"en": "Shirqat", "ar": "الشرقاط", "ckb": "شەرقات", "kmr": "Şerqat"},
    {"en": "Tuz Khurmatu", "ar": "طوزخورماتو", "ckb": "دووزخورماتوو", "kmr": "Duzxurmatû"},
    {"en": "Qaraj", "ar": "قراج", "ckb": "قەراج", "kmr": "Qerac"},
    {"en": "Zummar", "ar": "زمار", "ckb": "زومار", "kmr": "Zimar"},
    {"en": "Kifri", "ar": "كفري", "ckb": "کفری", "kmr": "Kifrî"},
    {"en": "Chamchamal", "ar": "جمجمال", "ckb": "چەمچەماڵ", "kmr": "Çemçemal"},
    {"en": "Penjwen", "ar": "بنجوين", "ckb": "پێنجوێن", "kmr": "Pêncwîn"},
    {"en": "Kalar", "ar": "كلار", "ckb": "کەلار", "kmr": "Kelar"},
    {"en": "Bardarash", "ar": "بردرش", "ckb": "بەردەڕەش", "kmr": "Berdereş"},
    {"en": "Darbandikhan", "ar": "دربندخان", "ckb": "دەربەندیخان", "kmr": "Derbendîxan"},
    {"en": "Shekhan", "ar": "الشيخان", "ckb": "شێخان", "kmr": "Şêxan"},
    {"en": "Sharazur", "ar": "شهرزور", "ckb": "شارەزوور", "kmr": "Şarezûr"},
    {"en": "Bazian", "ar": "بازيان", "ckb": "بازیان", "kmr": "Bazyan"},
    {"en": "Dibis", "ar": "الدبس", "ckb": "دبس", "kmr": "Dibis"},
    {"en": "Mandali", "ar": "مندلي", "ckb": "مەندەلی", "kmr": "Mendelî"},
    {"en": "Sulaimani", "ar": "السليمانية", "ckb": "سلێمانی", "kmr": "Silêmanî"},
    {"en": "Garmiyan", "ar": "كرميان", "ckb": "گەرمیان", "kmr": "Germiyan"},
    {"en": "Simele", "ar": "سميل", "ckb": "سێمێل", "kmr": "Sêmêl"},
)


# Per language: matching stories (headline, first paragraph, second paragraph) and stories that match
# nothing. {place}, {n} (a count) and {m} (another figure) are filled in. The second paragraphs name no
# kind of happening (newsmon's events read those as evidence), so that stories about two places stay two.
MATCHING = {
    "en": [
        ("Peshmerga repel ISIS attack near {place}",
         ("Peshmerga forces repelled an attack by {n} ISIS militants near {place} overnight, a commander "
         "said."),
         "The commander said {m} reinforcements reached the front line before dawn."),
        ("Coalition troops deliver {n} armoured vehicles to Peshmerga in {place}",
         "Coalition troops handed {n} armoured vehicles to Peshmerga units stationed in {place}.",
         "The handover ceremony lasted {m} minutes, according to the brigade."),
        ("Rockets land near the K-1 base as {place} patrols are stepped up",
         ("{n} rockets landed in farmland near the K-1 base west of Kirkuk; patrols around {place} were "
         "stepped up."),
         "Farmers said {m} dunams of wheat were scorched."),
        ("Kirkuk police arrest {n} suspects after a raid in {place}",
         "Kirkuk police said they arrested {n} suspects in a dawn raid on a house in {place}.",
         "Investigators seized {m} mobile phones, the statement added."),
    ],
    "ar": [
        ("البيشمركة تصد هجوما لداعش قرب {place}",
         "صدت قوات البيشمركة هجوما شنه {n} من عناصر داعش قرب {place} الليلة الماضية بحسب قائد ميداني.",
         "واوضح القائد ان {m} مقاتلا وصلوا الى خط الجبهة قبل الفجر."),
        ("قوات التحالف تسلم {n} عربة مدرعة للبيشمركة في {place}",
         "سلمت قوات التحالف {n} عربة مدرعة لوحدات البيشمركة المنتشرة في {place}.",
         "واستغرقت مراسم التسليم {m} دقيقة بحسب اللواء."),
        ("سقوط صواريخ قرب قاعدة كيه-1 وتشديد الدوريات في {place}",
         "سقط {n} صواريخ في اراض زراعية قرب قاعدة كيه-1 غرب كركوك وشددت الدوريات حول {place}.",
         "وقال مزارعون ان {m} دونما من الحنطة احترقت."),
        ("شرطة كركوك تعتقل {n} مشتبها بهم في {place}",
         "اعلنت شرطة كركوك اعتقال {n} مشتبها بهم في مداهمة فجرية لمنزل في {place}.",
         "وضبط المحققون {m} هاتفا نقالا بحسب البيان."),
    ],
    "ckb": [
        ("پێشمەرگە هێرشێکی داعشی لە نزیک {place} تێکشکاند",
         "هێزەکانی پێشمەرگە شەوی ڕابردوو هێرشی {n} چەکداری داعشیان لە نزیک {place} تێکشکاند.",
         "فەرماندەکە گوتی {m} شەڕڤانی تر پێش بەرەبەیان گەیشتنە هێڵی پێشەوە."),
        ("هێزەکانی هاوپەیمانی {n} ئۆتۆمبێلی زرێپۆش ڕادەستی پێشمەرگە لە {place} دەکەن",
         "هێزەکانی هاوپەیمانی {n} ئۆتۆمبێلی زرێپۆشیان ڕادەستی یەکەکانی پێشمەرگە لە {place} کرد.",
         "ڕادەستکردنەکە {m} خولەکی خایاند."),
        ("پۆلیسی کەرکووک {n} گومانلێکراو لە {place} دەستگیر دەکات",
         "پۆلیسی کەرکووک ڕایگەیاند لە هەڵمەتێکی بەرەبەیاندا {n} گومانلێکراوی لە {place} دەستگیر کردووە.",
         "لێکۆڵەران {m} مۆبایلیان دەستبەسەر داگرت."),
    ],
    "kmr": [
        ("Pêşmerge êrîşeke DAIŞê li nêzî {place} şkand",
         "Hêzên Pêşmerge şeva borî êrîşa {n} çekdarên DAIŞê li nêzî {place} şkandin.",
         "Fermandar got ku {m} şervanên din berî sibehê gihîştin xeta pêşî."),
        ("Hêzên hevpeymaniyê {n} wesayîtên zirxî radestî Pêşmerge li {place} kirin",
         "Hêzên hevpeymaniyê {n} wesayîtên zirxî radestî yekîneyên Pêşmerge yên li {place} kirin.",
         "Merasîma radestkirinê {m} deqîqe dom kir."),
        ("Polîsên Kerkûkê li {place} {n} gumanbar girtin",
         "Polîsên Kerkûkê ragihand ku di operasyoneke serê sibehê de li {place} {n} gumanbar hatin girtin.",
         "Lêkolîneran {m} telefonên mobîl desteser kirin."),
    ],
}
QUIET = {
    "en": [("{place} market prices steady after {n} days of rain",
            "Traders in {place} said vegetable prices held steady after {n} days of rain.",
            "Tomatoes sold for {m} dinars a kilo."),
           ("New library opens in {place} with {n} thousand books",
            "A public library with {n} thousand books opened in {place} on Tuesday.",
            "It will stay open until {m} in the evening.")],
    "ar": [("استقرار اسعار سوق {place} بعد {n} ايام من الامطار",
            "قال تجار في {place} إن اسعار الخضار استقرت بعد {n} ايام من الامطار.",
            "وبيع كيلو الطماطم بـ{m} دينار."),
           ("افتتاح مكتبة عامة في {place} تضم {n} الف كتاب",
            "افتتحت مكتبة عامة تضم {n} الف كتاب في {place} يوم الثلاثاء.",
            "وتستقبل المكتبة {m} قارئا يوميا.")],
    "ckb": [("نرخی بازاڕی {place} دوای {n} ڕۆژ باران جێگیر بوو",
             "بازرگانانی {place} گوتیان نرخی سەوزە دوای {n} ڕۆژ باران جێگیر ماوەتەوە.",
             "کیلۆیەک تەماتە بە {m} دینار فرۆشرا."),
            ("کتێبخانەیەکی گشتی بە {n} هەزار کتێبەوە لە {place} کرایەوە",
             "کتێبخانەیەکی گشتی کە {n} هەزار کتێبی تێدایە لە {place} کرایەوە.",
             "ڕۆژانە {m} خوێنەر سەردانی دەکەن.")],
    "kmr": [("Bihayên bazara {place} piştî {n} rojên baranê sabît man",
             "Bazirganên {place} got ku bihayên sebzeyan piştî {n} rojên baranê sabît man.",
             "Kîloyek bacanên sor bi {m} dînaran hat firotin."),
            ("Pirtûkxaneyeke giştî bi {n} hezar pirtûkan li {place} vebû",
             "Pirtûkxaneyeke giştî ya bi {n} hezar pirtûkan li {place} hat vekirin.",
             "Rojane {m} xwendevan serdana wê dikin.")],
}
# The sentence that ends a story's second paragraph: two other places and two figures, so that every
# three words of it (what newsmon compares to find copies) change from one story to the next, while the
# templates above repeat
FACTS = {
    "en": "Officials in {p2} and {p3} reported {a} and {b} incidents this week.",
    "ar": "وسجل مسؤولون في {p2} و{p3} {a} و{b} حادثا هذا الاسبوع.",
    "ckb": "بەرپرسانی {p2} و {p3} {a} و {b} ڕووداویان لەم هەفتەیەدا تۆمار کرد.",
    "kmr": "Berpirsên {p2} û {p3} vê hefteyê {a} û {b} bûyer tomar kirin.",
}
ROADS = {
    "en": "Roads between {p4} and {p5} reopened after {c} hours.",
    "ar": "واعيد فتح الطرق بين {p4} و{p5} بعد {c} ساعة.",
    "ckb": "ڕێگاکانی نێوان {p4} و {p5} دوای {c} کاتژمێر کرانەوە.",
    "kmr": "Rêyên navbera {p4} û {p5} piştî {c} saetan hatin vekirin.",
}
LANGUAGES = ("ar", "en", "ckb", "kmr")
NEW_FOR = 1500  # stories before one comes close enough to an earlier one to be filed as its copy (tested)
NEW_FOR_MINUTES = 100  # NEW_FOR at demo --serve's 4 s a story
COPY_EVERY = 5  # every fifth story republishes the one before it on another outlet of its language
QUIET_EVERY = 3  # every third story mentions nothing the desk watches (3 and the 4 languages: all
# languages have both)


@dataclass(frozen=True)
class LiveStory:
    """One story to publish: on which of its language's feeds (an index), and whether it is a copy."""

    language: str
    feed_index: int
    title: str
    paragraphs: list[str]
    matching: bool
    copy_of: int | None = None  # the number of the story it republishes


def live_story(number: int, feeds_per_language: dict[str, int], previous: LiveStory | None = None
               ) -> LiveStory:
    """Story `number` (1, 2, ...) of a --serve run: the same number gives the same story."""
    if previous is not None and number % COPY_EVERY == 0 and feeds_per_language.get(previous.language, 0) > 1:
        feeds = feeds_per_language[previous.language]
        return LiveStory(previous.language, (previous.feed_index + 1) % feeds, previous.title,
                         list(previous.paragraphs), previous.matching, copy_of=number - 1)
    language = LANGUAGES[number % len(LANGUAGES)]
    matching = number % QUIET_EVERY != 0
    pool = MATCHING[language] if matching else QUIET[language]
    # within a language: every template at every place before one repeats; the other places and the
    # figures of FACTS and ROADS move at other paces, so that no two stories read alike (NEW_FOR)
    k = number // len(LANGUAGES)
    title, first, closing = pool[k % len(pool)]
    place = PLACES[(k // len(pool)) % len(PLACES)][language]
    others = [p[language] for p in PLACES if p[language] != place]
    fill = {"place": place, "n": 11 + (number * 37) % 89, "m": 100 + (number * 53) % 900,
            "p2": others[(k * 5 + 1) % len(others)], "p3": others[(k // 2 + 7) % len(others)],
            "a": 2 + (number * 11) % 97, "b": 3 + (number * 29) % 193,
            "p4": others[(k * 3 + 2) % len(others)], "p5": others[(k // 5 + 11) % len(others)],
            "c": 2 + (number * 13) % 71}
    second = f"{closing} {FACTS[language]} {ROADS[language]}"
    # the place leads the headline, as datelined news does
    headline = f"{place}: {title.format(**fill)}"
    return LiveStory(language, number % max(1, feeds_per_language.get(language, 1)), headline,
                     [first.format(**fill), second.format(**fill)], matching)
