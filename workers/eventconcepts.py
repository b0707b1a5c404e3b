"""A small multilingual thesaurus of what happens in the news this beat follows, for telling which reports
in different languages tell the same happening (workers/events.py).

Names and numbers (workers/eventfeatures.py) say who, where and how many; an English report of an
Arabic one often shares only its place name, so the words for what happened (a raid, a drone, a vote,
a church opened) are read too, as language-free concepts. Each concept lists word stems per language,
folded as newsmon.normalize folds text (case, accents, Arabic letter variants, Sorani spellings); a word
matches a stem it begins with (Arabic after its proclitics and article), or equals it when the stem is
marked `=`. A shared concept is weaker evidence than a shared name (events.py weighs it less): it
places two reports in one kind of happening, not in one happening.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

from newsmon.normalize import normalize_text

# concept: stems in en, ar, ckb, kmr, fa, tr (one string per concept, space-separated; `=` marks a whole word)
CONCEPTS: dict[str, str] = {
    "drone": "drone uav مسير مسيرة مسيره درون درۆن =dron dronê dronan پهپاد ریزپرنده iha siha",
    "rocket": "rocket missile katyusha صاروخ صواريخ كاتيوشا مووشەک موشەک ڕۆکێت mûşek roket موشک راکت füze",
    "attack": "attack strike struck targeted هجوم هجمات استهداف استهدف قصف اعتداء هێرش بۆردوومان "
              "êrîş bombebaran armanc حمله هجوم saldırı",
    "killed": "kill dead death martyr مقتل قتل قتلى قتيل استشهاد شهيد شهداء مصرع کوژرا کوژران شەهید kuşt "
              "şehîd =mirin کشته جان‌باخت öldü öldürüldü şehit",
    "wounded": "wound injur اصاب جرحى جريح مصاب بریندار birîndar زخمی مجروح yaralı",
    "kidnap": "kidnap abduct خطف اختطاف رفاند رفێندرا revand ربود kaçırıl",
    "arrest": "arrest detain captur اعتقال اعتقل القبض احتجاز دەستگیر =girtin hatin binçav بازداشت دستگیر "
              "gözaltı tutukla",
    "army": "army soldier troop جيش الجيش جندي جنود عسكري سوپا سەرباز artêş leşker ارتش سرباز ordu asker",
    "police": "police شرطة شرطه پۆلیس polîs پلیس polis",
    "isis": "isis daesh داعش daiş işid deaş",
    "explosion": "explosion blast explod انفجار تفجير تەقینەوە teqîn انفجار patlama",
    "fire": "fire blaze حريق نيران ئاگر agir آتش yangın",
    "protest": "protest demonstrat تظاهر متظاهر احتجاج خۆپێشاندان xwepêşandan تظاهرات اعتراض "
               "protesto gösteri",
    "election": "election vote voting ballot polling انتخاب اقتراع تصويت صوته هەڵبژاردن دەنگ hilbijartin "
                "dengdan dengê انتخابات =رای seçim oy",
    "oil": "oil oilfield نفط نفطي نەوت petrol نفت",
    "gas": "gas غاز گاز =gaz",
    "field": "field حقل حقول كێڵگە zevî میدان saha",
    "airport": "airport مطار فرۆکەخانە فڕۆکەخانە firokexane فرودگاه havalimanı havaalanı",
    "flight": "flight رحلات الرحلات طيران گەشت firîn پرواز uçuş",
    "ban": "ban embargo حظر الحظر قەدەغە ئابڵوقە qedexe ممنوعیت تحریم yasak",
    "house": "house home منزل منازل بيت بيوت ماڵ خانوو xanî =mal malên خانه منزل ev",
    "neighborhood": "neighborhood neighbourhood quarter =حي حى گەڕەک taxa =taxê محله mahalle",
    "church": "church cathedral كنيسة كنيسه كاتدرائية کەنیسە کڵێسا dêr کلیسا kilise",
    "hospital": "hospital مستشفى نەخۆشخانە nexweşxane بیمارستان hastane",
    "school": "school مدرسة مدرسه قوتابخانە dibistan okul",
    "agreement": "agreement deal accord اتفاق الاتفاق ڕێککەوتن رێککەوتن rêkeftin توافق anlaşma",
    "ceasefire": "ceasefire truce هدنة ئاگربەست agirbest آتش‌بس ateşkes",
    "congratulate": "congratulat هنا تهاني التهاني تهنئة پیرۆزبایی pîrozbahî تبریک tebrik",
    "welcome": "welcom رحب ترحيب پێشوازی pêşwazî استقبال memnuniyet",
    "meeting": "meet meeting talks اجتماع لقاء التقى استقبل کۆبوونەوە دیدار civîn hevdîtin görüş",
    "visit": "visit زيارة زار يزور سەردان serdan بازدید ziyaret",
    "delegation": "delegation وفد شاند şande هیئت heyet",
    "nomination": "nominat candida ترشيح ترشح مرشح کاندید namzet berbijar نامزد aday",
    "museum": "museum متحف مۆزەخانە muzexane موزه müze",
    "withdraw": "withdraw انسحاب انسحب كشانەوە کشایەوە vekişiya vekişîn عقب‌نشینی çekil",
    "weapons": "weapon arms سلاح اسلحة أسلحة چەک =çek çekên سلاح silah",
    "burn": "burn burned burnt احرق حرق اضرام سووتاند şewitand سوزاند",
    "electricity": "electricity كهرباء الكهرباء کارەبا kareba elektrîk برق elektrik",
    "census": "census تعداد سەرژمێری serjimêrî سرشماری sayım",
    "curfew": "curfew تجوال قەدەغەی هاتوچۆ sokağa",
    "raid": "raid storm stormed اقتحم اقتحام مداهمة داهم هەڵیکوتایە هەڵکوتانە یورش baskın",
    "evict": "evict expel forcibly أخرج اخرج إخلاء اخلاء طرد قسرا دەرکرد دەریان derxist derxistin "
             "اخراج tahliye",
    "governor": "governor محافظ پارێزگار parêzgar استاندار vali",
    "family": "family families عائلة عائلات عوائل خێزان بنەماڵە malbat خانواده aile",
    "court": "court warrant judge محكمة مذكرة قاضي دادگا dadgeh دادگاه mahkeme",
    "hotel": "hotel فندق هوتێل otêl هتل otel",
    "cave": "cave كهف ئەشکەوت şikeft غار mağara",
    "ceremony": "ceremony مراسم حفل ڕێوڕەسم رێوڕەسم merasîm مراسم tören",
    "president_post": "presidency رئاسة serokkomar cumhurbaşkanlığı",
        "anniversary": "anniversary ذكرى الذكرى ساڵیاد salveger سالگرد yıldönümü",
    "children": "child children أطفال اطفال طفل منداڵ zarok کودک çocuk",
    "village": "village قرية قريه قرى گوند =gund gundê روستا köy",
    "ambush": "ambush كمين بۆسە kemîn کمین pusu",
    "forum": "forum conference منتدى مؤتمر کۆڕبەند کۆنفرانس korbend konferans همایش forum",
}


# Towns of this beat whose names differ between languages by more than their letters (Sinjar and
# Şingal, Sulaymaniyah and Silêmanî) or are too short for a skeleton key (Zakho, Akre), so that no
# skeleton of one finds the other: each spelling is read as one name key ("@" and the town) beside the
# word's own keys. Towns only: a town narrows a happening down, while countries, capitals and parties
# are named by most reports of a week (Erbil and Baghdad are stopped in eventfeatures for that reason;
# Syria and the SDF, tried here, joined two leaders' statements on one agreement).
NAMES: dict[str, str] = {
    "sulaymaniyah": "sulaymani sulaimani slemani silemani السليمانية سليمانية سلێمانی سليماني",
    "duhok": "duhok dohuk dahuk dihok دهوك دهۆک",
    "sinjar": "sinjar shingal singal sengal شنگال سنجار",
    "zakho": "zakho zaxo زاخو زاخۆ",
    "nineveh": "nineveh ninawa neynewa نينوى نینەوا نەینەوا",
    "mosul": "mosul musil الموصل موصل مووسڵ",
    "akre": "=akre =akra =aqrah =عقرة =ئاکرێ",
    "koya": "=koya =koye koysinjaq كويسنجق =کۆیە",
    "amedi": "=amedi =amadiya amadiyah =العمادية =ئامێدی",
    "tawke": "=tawke =طاوكي =تاوکێ",
    "tuz": "khurmatu xurmatu طوزخورماتو خورماتوو",
}


class Thesaurus:
    """Words of several languages for one thing each: `entries` maps a thing to its space-separated
    stems; a folded word is the thing of the longest stem it begins with (of `shortest` letters at
    least), or of a word it equals when that word is marked `=` or shorter."""

    def __init__(self, entries: dict[str, str], shortest: int) -> None:
        self.entries = entries
        self.shortest = shortest
        self.of = lru_cache(maxsize=50_000)(self._of)  # at most about 10 MiB: bench/events_bench.py

    @cached_property
    def _tables(self) -> tuple[dict[str, str], dict[str, str]]:
        """(prefix stems, whole words) -> thing, folded; built on first use."""
        prefix: dict[str, str] = {}
        whole: dict[str, str] = {}
        for thing, words in self.entries.items():
            for word in words.split():
                folded = normalize_text(word.lstrip("="))
                exact = word.startswith("=") or len(folded) < self.shortest
                (whole if exact else prefix).setdefault(folded, thing)
        return prefix, whole

    def _of(self, folded: str) -> str | None:
        prefix, whole = self._tables
        if folded in whole:
            return whole[folded]
        for end in range(len(folded), self.shortest - 1, -1):
            found = prefix.get(folded[:end])
            if found:
                return found
        return None


concept_of = Thesaurus(CONCEPTS, 3).of  # the concept a folded word belongs to, if any
name_of = Thesaurus(NAMES, 4).of  # the town of NAMES a folded word is a spelling of, if any
