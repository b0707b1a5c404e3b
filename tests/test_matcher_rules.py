"""Alias rules: codes, suffixes, wildcards, exact aliases, case, near, languages, config errors; and
property-based tests of normalization and offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmon.errors import ConfigError
from newsmon.normalize import normalize
from newsmon.settings import KeywordsFile
from newsmon.workers.matcher import Matcher


def compile_topics(topics: dict) -> Matcher:
    return Matcher(KeywordsFile.model_validate({"topics": topics}), source="test.yaml")


def topics_of(matcher: Matcher, text: str, language: str | None = None) -> set[str]:
    return {m.topic for m in matcher.match("", text, language).matches}


def test_code_aliases_match_every_separator() -> None:
    matcher = compile_topics({"k1": {"name": "K-1", "any": ["K-1", "كيه-1"]}})
    for text in ("K-1", "K1", "K 1", "k-1", "K-١", "K–1", "(K1)", "الـK1", "K ـ 1", "K - 1",
                 "كيه-1", "كيه 1", "كيه١", "كيهـ1"):
        assert topics_of(matcher, f"قرب {text} اليوم") == {"k1"}, text
    for text in ("K-12", "K12", "K-1A", "AK-1", "كيه-12", "K-15"):
        assert topics_of(matcher, f"near {text} today") == set(), text


def test_suffix_rules_per_script() -> None:
    matcher = compile_topics({"kirkuk": {"name": "Kirkuk", "any": ["Kerkûk", "کەرکووک", "Kirkuk"]}})
    for text in ("Kerkûkê", "Kerkûka", "Kirkuk's", "کەرکووکدا", "کەرکووکەوە", "Kerkûkê"):
        assert topics_of(matcher, text) == {"kirkuk"}, text
    for text in ("Kirkuki", "Kerkûkîstan", "Kirkukabcdefghijk", "كركوكي"):
        assert topics_of(matcher, text) == set(), text
    assert topics_of(matcher, "کەرکووکی ئارام") == {"kirkuk"}  # Sorani ezafe: "peaceful Kirkuk"
    strict = compile_topics({"kirkuk": {"name": "Kirkuk", "any": [{"term": "کەرکووک", "ezafe": False}]}})
    assert topics_of(strict, "کەرکووکی ئارام") == set() and topics_of(strict, "کەرکووکدا") == {"kirkuk"}


def test_a_none_term_naming_a_surname_cancels_only_that_occurrence() -> None:
    matcher = compile_topics({"kirkuk": {"name": "Kirkuk", "any": ["کەرکووک"], "none": ["کەمال کەرکووکی"]}})
    assert topics_of(matcher, "نووسەر کەمال کەرکووکی کتێبێکی نووسی") == set()
    assert topics_of(matcher, "کەمال کەرکووکی لە کەرکووک کتێبێکی نووسی") == {"kirkuk"}


def test_words_inside_multi_word_aliases_take_their_endings() -> None:
    matcher = compile_topics(
        {
            "coalition": {
                "name": "Coalition",
                "any": ["هێزەکانی هاوپەیمانی", "hêzên koalîsyonê", "قوات التحالف"],
            }
        }
    )
    for text in ("هێزی هاوپەیمانی", "هێزەکانی هاوپەیمانان", "هێزانی هاوپەیمانی", "هێزەکەی هاوپەیمانیی",
                 "Hêza koalîsyonê", "hêzên koalîsyona", "Hêzê koalîsyonê", "لقوات التحالف"):
        assert topics_of(matcher, f"ئەمڕۆ {text} گەیشتن") == {"coalition"}, text
    for text in ("هێز و هاوپەیمانی", "هاوپەیمانی کوردستانی", "Hêzên din", "قواتي التحالف", "قوات تحالف"):
        assert topics_of(matcher, f"ئەمڕۆ {text} گەیشتن") == set(), text
    hit = matcher.match("", "ئەمڕۆ هێزی هاوپەیمانی گەیشتن").matches[0].hits[0]
    assert (hit.text, hit.start, hit.end) == ("هێزی هاوپەیمانی", 6, 21)  # offsets of the written form


def test_split_and_joined_names_and_folded_apostrophes() -> None:
    matcher = compile_topics({
        "pesh": {"name": "Peshmerga", "any": ["Peshmerga", "پێشمەرگە"]},
        "isis": {"name": "ISIS", "any": ["Daesh", "Islamic State", "Daiş"]},
        "kirkuk": {"name": "Kirkuk", "any": [{"term": "Kirkuk", "split": False}]},
    })
    for text in ("pesh merga", "Pesh-merga", "پێش مەرگە", "peshmergas"):
        assert topics_of(matcher, f"the {text} came") == {"pesh"}, text
    for text in ("Da'esh", "Da’esh", "IslamicState", "Dā‘iš", "Daʿesh"):
        assert topics_of(matcher, f"the {text} came") == {"isis"}, text
    for text in ("pe shmerga", "peshmer ga", "Kir kuk"):  # three letters on each side; the opt-out
        assert topics_of(matcher, f"the {text} came") == set(), text
    assert topics_of(matcher, "Kirkuk's mayor") == {"kirkuk"}  # the folded apostrophe keeps the possessive


def test_kurdish_letters_typed_on_an_arabic_keyboard() -> None:
    matcher = compile_topics({"pesh": {"name": "Peshmerga", "any": ["پێشمەرگە"]},
                              "sinjar": {"name": "Sinjar", "any": ["شنگال"]}})
    for text in ("بێشمەرگە", "پێشمەرکە", "بێشمەرکە"):
        assert topics_of(matcher, f"هێزی {text} گەیشتن") == {"pesh"}, text
    assert topics_of(matcher, "في شنكال اليوم") == {"sinjar"}
    assert topics_of(matcher, "بيشة مركز تجاري") == set()


def test_nisba_on_request_for_a_topic_or_an_alias() -> None:
    matcher = compile_topics({
        "isis": {"name": "ISIS", "any": ["داعش"], "nisba": True},
        "kirkuk": {"name": "Kirkuk", "any": ["كركوك", {"term": "موصل", "nisba": True}]},
    })
    for text in ("الداعشي", "داعشية", "داعشيين", "الداعشيون"):
        assert topics_of(matcher, f"قال {text} اليوم") == {"isis"}, text
    assert topics_of(matcher, "قال الكركوكي اليوم") == set()
    assert topics_of(matcher, "قال الموصلي اليوم") == {"kirkuk"}


def test_wildcard_and_exact_aliases() -> None:
    matcher = compile_topics({
        "isis": {"name": "ISIS", "any": ["داعش*"]},
        "kdp": {"name": "KDP", "any": [{"term": "PDK", "exact": True}]},
    })
    assert topics_of(matcher, "عناصر داعشية") == {"isis"}
    assert topics_of(matcher, "وداعشيين") == {"isis"}
    assert topics_of(matcher, "PDK said") == {"kdp"}
    assert topics_of(matcher, "PDKê said") == set()  # exact: no Kurmanji suffix


def test_capitals_rule_and_its_override() -> None:
    matcher = compile_topics({
        "isis": {"name": "ISIS", "any": ["ISIS"]},
        "un": {"name": "UN", "any": [{"term": "UNAMI", "case": "insensitive"}]},
    })
    assert topics_of(matcher, "ISIS attacked") == {"isis"}
    assert topics_of(matcher, "the goddess Isis") == set()
    assert topics_of(matcher, "Unami officials") == {"un"}


def test_all_terms_are_required() -> None:
    matcher = compile_topics({"k1_attack": {"name": "K-1 attack", "any": ["K-1"], "all": ["rocket"]}})
    assert topics_of(matcher, "K-1 base visited") == set()
    assert {m.topic for m in matcher.match("Rocket lands", "near K-1 base").matches} == {"k1_attack"}


def test_near_requires_groups_within_distance() -> None:
    matcher = compile_topics({"attack": {"name": "Attack on K-1", "near": [
        {"a": ["rocket", "صاروخ"], "b": ["K-1", "كيه-1"], "within": 5}]}})
    assert topics_of(matcher, "A rocket struck the K-1 base") == {"attack"}
    assert topics_of(matcher, "سقط صاروخ قرب قاعدة كيه-1") == {"attack"}
    assert (
        topics_of(matcher, "A rocket fell in Basra. " + "Nothing else happened. " * 3 + "K-1 was quiet")
        == set()
    )
    result = matcher.match("", "A rocket struck the K-1 base")
    assert {h.text for h in result.matches[0].hits} == {"rocket", "K-1"}


def test_language_filter() -> None:
    matcher = compile_topics({"k1": {"name": "K-1", "any": ["K-1"], "languages": ["ar"]}})
    assert topics_of(matcher, "K-1", "ar") == {"k1"}
    assert topics_of(matcher, "K-1", "en") == set()


@pytest.mark.parametrize(
    ("alias", "problem"),
    [
        ("ـــ", "empty after normalization"),
        ("\u200c\u200d", "empty after normalization"),
        ("Ker*kuk", "may only end"),
        ("K*", "at least three letters"),
        ({"term": "Kerk*", "exact": True}, "contradict"),
    ],
)
def test_bad_aliases_are_config_errors_with_path(alias: object, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_topics({"t": {"name": "T", "any": ["ok", alias]}})
    assert caught.value.file == "test.yaml"
    assert caught.value.field == "topics.t.any[1]"
    assert problem in caught.value.problem


def test_blank_alias_and_missing_aliases_are_rejected() -> None:
    with pytest.raises(ValueError, match="blank"):
        KeywordsFile.model_validate({"topics": {"t": {"name": "T", "any": ["  "]}}})
    with pytest.raises(ValueError, match="needs `any` aliases"):
        KeywordsFile.model_validate({"topics": {"t": {"name": "T", "none": ["x"]}}})


# --- properties -----------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(list(
    "abcKkISsêûîşçأإآٱاىيةهئؤءکكیەھێۆڕڵوقاتلحفدعش٠١٢٣۴0123456789 -–—‐ـ\u064e\u0651\u0652\u064b\u0670"
    "\u200c\u200d\u200f\u202b’'\"«»ﻻßİ𝐀\n\t"
))
TEXT = st.text(_ALPHABET, max_size=80)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_offsets_are_monotonic_and_in_range(text: str) -> None:
    norm = normalize(text)
    assert len(norm.offsets) == len(norm.text)
    offsets = norm.offsets.tolist()
    assert offsets == sorted(offsets)
    assert all(0 <= o < len(text) for o in offsets)


_NOISE = st.sampled_from(["", "\u064e", "\u0651", "\u200c", "ـ", "\u200f"])


@settings(max_examples=200, deadline=None)
@given(before=TEXT, after=TEXT, noise=st.lists(_NOISE, min_size=5, max_size=5),
       alias=st.sampled_from(["قوات التحالف", "کەرکووک", "Kerkûk", "البيشمركة", "كيه-1"]))
def test_hits_point_at_the_matched_text(before: str, after: str, noise: list[str], alias: str) -> None:
    """An alias sprinkled with diacritics, ZWNJ or tatweel inside any text is found, and the hit's
    offsets cover exactly text that normalizes to the alias."""
    noisy = "".join(
        c + (noise[i % 5] if c.isalpha() and i < len(alias) - 1 else "") for i, c in enumerate(alias)
    )
    text = f"{before} {noisy} {after}"
    matcher = compile_topics({"t": {"name": "T", "any": [alias]}})
    hits = [h for m in matcher.match("", text).matches for h in m.hits]
    assert hits, text
    target = normalize(alias).text
    for hit in hits:
        assert text[hit.start:hit.end] == hit.text
        found = normalize(hit.text).text
        assert target in found or target.removeprefix("ال") in found


# --- generated forms that are common words or names ---------------------------------------------------


def test_a_generated_form_that_is_a_common_name_is_left_out_with_its_reason() -> None:
    from newsmon.settings import AliasSpec
    from newsmon.workers.commonwords import common_words
    from newsmon.workers.morphology import compile_alias

    assert "كيوان" in common_words()
    rule = compile_alias("كي وان")
    assert "كي وان" in rule.keys and "كيوان" not in rule.keys
    assert rule.dropped == (("كيوان", common_words()["كيوان"]),) and "given name" in rule.dropped[0][1]
    kept = compile_alias(AliasSpec(term="كي وان", keep=["كيوان"]))  # the operator keeps it
    assert "كيوان" in kept.keys and kept.dropped == ()
    assert "كيوان" in compile_alias("كيوان").keys  # an alias as written is never left out
    assert compile_alias("Peshmerga").dropped == ()  # its split and inflected forms are no common words


def test_the_joined_name_no_longer_matches_and_the_written_alias_still_does() -> None:
    matcher = Matcher(KeywordsFile.model_validate({"topics": {"k1": {"name": "K-1", "any": ["كي وان"]}}}))
    assert matcher.match("", "استقبل المحافظ السيد كيوان احمد في مكتبه.", "ar").matches == []
    found = matcher.match("", "سقطت صواريخ قرب قاعدة كي وان الجوية.", "ar")
    assert [m.topic for m in found.matches] == ["k1"]
