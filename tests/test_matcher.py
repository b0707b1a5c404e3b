"""Normalization and topic matching on real spellings, the seed story and look-alikes."""

from __future__ import annotations

import pytest

from newsmon.normalize import normalize
from newsmon.settings import KeywordsFile, load_config
from newsmon.workers.matcher import Matcher
from tests.conftest import FIXTURES, SHIPPED_CONFIG

SEED = (FIXTURES / "seed" / "000_128dad676d5a1ee3.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_config(SHIPPED_CONFIG).keywords)


def topics(matcher: Matcher, text: str) -> set[str]:
    return {m.topic for m in matcher.match("", text).matches}


def test_seed_story_is_tagged_k1_and_coalition(matcher: Matcher) -> None:
    title, _, body = SEED.partition("\n")
    result = matcher.match(title, body)
    found = {m.topic: m for m in result.matches}
    assert {"k1_base", "coalition_troops"} <= set(found)
    assert "كيه-1" in found["k1_base"].matched_words()
    assert "قوات التحالف" in found["coalition_troops"].matched_words()  # found inside لقوات التحالف


def test_hits_point_at_the_original_text(matcher: Matcher) -> None:
    title, _, body = SEED.partition("\n")
    for match in matcher.match(title, body).matches:
        for hit in match.hits:
            source = title if hit.field == "title" else body
            assert source[hit.start:hit.end] == hit.text


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("قوّات التّحالف", "قوات التحالف"),
        ("کەرکووک", "كەركووك"),
        ("کەرکووک", "كهركوك"),
        ("پێشمه\u200cرگه\u200c", "پێشمەرگە"),
        ("الدولة الاسلامية", "الدولة الإسلامية"),
        ("Kerkûk", "KERKUK"),
        ("Kirkūk", "kirkuk"),
        ("K\u20111", "K-1"),
        ("١٢٣", "123"),
    ],
)
def test_normalization_folds_variants(a: str, b: str) -> None:
    assert normalize(a).text == normalize(b).text


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("وصلت قوة امريكية الى قاعدة كيه-1 غرب كركوك", "k1_base"),
        ("Rockets hit the K1 base overnight", "k1_base"),
        ("سقط صاروخان قرب قاعدة (K1) العسكرية", "k1_base"),
        ("لا توجد اي زيادة لقوات التحالف في العراق", "coalition_troops"),
        ("وقوات التحالف الدولي تنسحب", "coalition_troops"),
        ("قوّات التّحالف في القاعدة", "coalition_troops"),
        ("هێزەکانی هاوپەیمانی گەیشتنە بنکەکە", "coalition_troops"),
        ("الهجوم على بكركوك", "kirkuk"),
        ("Kirkuk’s governor said", "kirkuk"),
        ("وزارة للبيشمركة", "peshmerga"),
        ("هێزی پێشمه\u200cرگه\u200c", "peshmerga"),
    ],
)
def test_positive_spellings(matcher: Matcher, text: str, topic: str) -> None:
    assert topic in topics(matcher, text)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("She applied for a K-1 visa to marry her fiancé", "k1_base"),
        ("Doctors recommend vitamin K1 for newborns", "k1_base"),
        ("K-12 schools reopen in Baghdad", "k1_base"),
        ("The Saudi-led coalition struck targets in Yemen; coalition forces said", "coalition_troops"),
        ("The goddess Isis was worshipped in Egypt", "isis"),
    ],
)
def test_look_alikes_do_not_match(matcher: Matcher, text: str, topic: str) -> None:
    assert topic not in topics(matcher, text)


def test_none_term_suppresses_topic(matcher: Matcher) -> None:
    result = matcher.match("", "The Saudi-led coalition said coalition forces intercepted a drone")
    assert [h.text for h in result.suppressed["coalition_troops"]] == ["Saudi-led coalition"]
    assert not result.matches


def test_none_term_containing_an_alias_cancels_only_that_occurrence(matcher: Matcher) -> None:
    assert not matcher.match("", "Take vitamin K1 daily").matches
    result = matcher.match("", "Unlike vitamin K1, the K1 base is in Iraq")
    hits = [h.text for m in result.matches for h in m.hits]
    assert hits == ["K1 base"] or set(hits) == {"K1"}


def test_all_terms_are_required() -> None:
    keywords = KeywordsFile.model_validate(
        {"topics": {"k1_attack": {"name": "K-1 attack", "any": ["K-1"], "all": ["rocket"]}}}
    )
    matcher = Matcher(keywords)
    assert not matcher.match("", "K-1 base visited").matches
    assert matcher.match("Rocket lands", "near K-1 base").matches


def test_one_compile_per_config_version_shared_by_the_check_and_the_jobs(tmp_path) -> None:
    """A worker checks a newly published config (app.configs's validator) while its jobs still match
    with the current one: each version is compiled once in the process, not once per use."""
    import uuid

    from newsmon.app.configs import config_validator
    from newsmon.workers.matcher import matcher_for
    from tests.conftest import feed_source, write_config

    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    current, upcoming = (
        load_config(write_config(tmp_path / name, [feed_source(uuid.uuid4().hex[:8], "http://x/f")], alerts))
        for name in ("a", "b")
    )
    before = Matcher.compiled
    validate = config_validator()
    validate(current)
    used = matcher_for(current)
    assert Matcher.compiled - before == 1
    validate(upcoming)  # the next version, checked before it is taken
    assert matcher_for(current) is used  # jobs on the current version do not compile it again
    matcher_for(upcoming)
    validate(upcoming)
    assert Matcher.compiled - before == 2


def test_status_does_not_compile_the_version_the_system_published(tmp_path, redis_conn) -> None:
    """The running system validated what it published; `status` on the same files does not compile the
    keywords again (at 10,000 aliases that was most of its time), and does for other files."""
    import uuid

    from newsmon import jobcontext
    from newsmon.status import load_for_status
    from tests.conftest import feed_source, write_config

    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    directory = write_config(tmp_path / "a", [feed_source(uuid.uuid4().hex[:8], "http://x/f")], alerts)
    checked: list[str] = []
    jobcontext.publish(redis_conn, load_config(directory))
    _, error = load_for_status(directory, redis_conn, validate=lambda c: checked.append(c.version))
    assert error is None and checked == []
    other = write_config(tmp_path / "b", [feed_source(uuid.uuid4().hex[:8], "http://x/f")], alerts)
    load_for_status(other, redis_conn, validate=lambda c: checked.append(c.version), follow=False)
    assert checked == [load_config(other).version]
