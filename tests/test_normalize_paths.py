"""normalize_text's string path for short texts gives what the vector path gives."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmon.normalize import normalize, normalize_text

ALPHABET = ("abcdeêîûşçıöüğKIİ ISIŞ'’ʿ-–_ ,.:1١۱\u00a0\t\n\u200c\u200d\u200f\u202eـ"
            "ابتةثجحخدذرزسشصضطظعغفقكلمنهويىءأإآؤئ ًٌٍَُِّْ"
            "پچژگکیەێۆڕڵڤ وو ﷲ ﻻ ß ﬁ Ⅻ 𝐀")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_both_paths_agree_on_any_short_text(text: str) -> None:
    assert normalize_text(text) == normalize(text).text.strip()


def test_both_paths_agree_on_every_word_and_alias_we_hold() -> None:
    root = Path(__file__).resolve().parent
    texts = (root.parent / "config" / "keywords.yaml").read_text(encoding="utf-8").splitlines()
    for report in yaml.safe_load((root / "corpus" / "events.yaml").read_text(encoding="utf-8")):
        texts += report["title"].split() + report["text"].split() + [report["title"]]
    assert len(texts) > 5000
    assert [t for t in texts if normalize_text(t) != normalize(t).text.strip()] == []
