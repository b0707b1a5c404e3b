"""Events: the reports of one happening across languages. Real reports from tests/corpus/events.yaml (the
Kirkuk governor's statement of 22 February 2026 in Arabic, English, Sorani and Kurmanji), a real SMTP
server and real Redis; the evidence folding (names, numbers, concepts) unit by unit; the batch contract
and the backtest."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from newsmon import jobcontext, keys
from newsmon.models import Story, StoryAlert, story_id_for
from newsmon.settings import EventSettings, load_config
from newsmon.urls import canonical_url
from newsmon.workers.eventconcepts import concept_of
from newsmon.workers.eventfeatures import arabic_skeleton, features, latin_skeleton, numbers, weekdays
from newsmon.workers.events import agrees, pair_score
from tests.conftest import SHIPPED_CONFIG, SmtpServer, write_config
from tests.conftest import process_and_decide as process_story

CORPUS = Path(__file__).parent / "corpus" / "events.yaml"
SOURCE = {"id": "s1", "name": "S", "outlet": "O", "language": "ar", "kind": "feed", "url": "http://x/f"}
GOVERNOR = [  # one happening, four languages, three outlets (Kurdistan24's Sorani and Kurmanji editions)
    "https://www.shafaq.com/ar/مجتـمع/محافظ-كركوك-يعلن-انتها-مشكلة-حي-نوروز-واحالة-العسكريين-المسي-ين-للتحقيق",
    "https://www.rudaw.net/english/middleeast/iraq/220220263",
    "https://www.kurdistan24.net/ckb/story/895582",
    "https://www.kurdistan24.net/kmr/story/895590",
]
CENSUS = "https://www.kurdistan24.net/en/story/878237"  # Kirkuk too: a statement on the census


def report(url: str) -> dict[str, Any]:
    found = [r for r in yaml.safe_load(CORPUS.read_text(encoding="utf-8")) if r["url"] == url]
    assert found, url
    return found[0]


def story(found: dict[str, Any], published: datetime | None = None) -> dict[str, Any]:
    """A report of the corpus as the crawler hands it on."""
    canonical = canonical_url(found["url"])
    when = published or datetime.fromisoformat(found["published"])
    return Story(id=story_id_for(canonical), source_id=f"s-{found['lang']}", outlet=found["outlet"],
                 language=found["lang"], url=found["url"], canonical_url=canonical, title=found["title"],
                 text=found["text"], published=when).model_dump(mode="json")


@pytest.fixture
def desks(tmp_path: Path, redis_conn: redis.Redis, smtp_server: SmtpServer):
    def install(desk: dict[str, Any]) -> Any:
        alerts = {
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
            "channels": {"mail": {"type": "email", "to": ["desk@test"]}},
            "desks": {"kirkuk": {"topics": ["kirkuk"], "channels": ["mail"], **desk}},
            "retry": {"max": 5, "intervals": [0]},
        }
        config = load_config(write_config(tmp_path / "config", [SOURCE], alerts))
        jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn,
                                                 archive_url=f"sqlite:///{tmp_path / 'archive.sqlite'}"))
        return config
    return install


def work(conn: redis.Redis) -> None:
    queue = Queue(keys.ALERTS_QUEUE, connection=conn, serializer=JSONSerializer)
    SimpleWorker([queue], connection=conn, serializer=JSONSerializer).work(burst=True,
                                                                           logging_level="WARNING")


def archived(story_id: str) -> dict[str, Any]:
    from newsmon.workers.archive import shared_archive

    row = shared_archive(jobcontext.current().archive_url).get(story_id)
    assert row is not None
    return row


# --- the pipeline --------------------------------------------------------------------------------------


def test_four_reports_in_four_languages_make_one_event_and_one_alert(desks, redis_conn: redis.Redis,
                                                                      smtp_server: SmtpServer) -> None:
    desks({})
    results = [process_story(story(report(url))) for url in GOVERNOR]
    assert [r["alerts"] for r in results] == [1, 0, 0, 0]
    events = {r["event"] for r in results}
    assert len(events) == 1 and len({r["cluster"] for r in results}) == 4  # four clusters, one event
    work(redis_conn)
    assert len(smtp_server.messages) == 1 and "Shafaq News" in smtp_server.messages[0]["Subject"]
    # every report is archived with its event and, but the first, the evidence that joined it
    rows = [archived(r["story"]) for r in results]
    assert {row["event_id"] for row in rows} == events and rows[0]["event_evidence"] is None
    for row in rows[1:]:
        evidence = row["event_evidence"]
        assert evidence["score"] >= EventSettings().min_score and evidence["names"], evidence
    languages = {row["language"] for row in rows}
    assert languages == {"ar", "en", "ckb", "kmr"}


def test_a_desk_with_events_false_hears_of_every_language(desks, redis_conn: redis.Redis,
                                                          smtp_server: SmtpServer) -> None:
    desks({"events": False})
    results = [process_story(story(report(url))) for url in GOVERNOR]
    assert [r["alerts"] for r in results] == [1, 1, 1, 1]
    work(redis_conn)
    assert len(smtp_server.messages) == 4


def test_a_digest_lists_the_event_in_other_languages(desks, redis_conn: redis.Redis,
                                                     smtp_server: SmtpServer) -> None:
    from newsmon.alerts.jobs import digest_tick

    config = desks({"mode": "digest", "digest_schedule": "0 8 * * *"})
    for url in GOVERNOR:
        process_story(story(report(url)))
    work(redis_conn)
    assert smtp_server.messages == [] and redis_conn.zcard(keys.desk_held("kirkuk")) == 1
    assert digest_tick(config, redis_conn, now=datetime.now(UTC) + timedelta(days=1))
    work(redis_conn)
    [message] = smtp_server.messages
    text = message.get_body(("plain",)).get_content()
    assert "digest for kirkuk: 1 story" in message["Subject"]
    assert ("Also in English: Rudaw 15:00; in Sorani Kurdish: Kurdistan24 15:30; in Kurmanji Kurdish: "
            "Kurdistan24 15:40") in text
    html = message.get_body(("html",)).get_content()
    assert "in Sorani Kurdish: Kurdistan24 15:30" in html


def test_another_kirkuk_story_the_next_day_stays_apart(desks, redis_conn: redis.Redis) -> None:
    desks({})
    first = process_story(story(report(GOVERNOR[0])))
    later = datetime(2026, 2, 23, 6, 0, tzinfo=UTC)  # 20 hours on: within the window, another happening
    other = process_story(story(report(CENSUS), published=later))
    assert first["event"] != other["event"] and other["alerts"] == 1


def test_two_happenings_of_one_day_in_one_place_with_their_own_numbers_stay_apart(
        desks, redis_conn: redis.Redis) -> None:
    desks({})
    day = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    rockets = {"url": "https://a.example/en/1", "outlet": "Rudaw", "lang": "en",
               "title": "Rockets hit Kirkuk base",
               "text": "Rockets struck a military base west of Kirkuk on Monday morning, wounding 12 "
                       "soldiers, a security source said."}
    market = {"url": "https://b.example/ar/2", "outlet": "Shafaq News", "lang": "ar",
              "title": "انفجار سيارة مفخخة في سوق بكركوك",
              "text": "قتل 27 مدنيا وأصيب 40 آخرون بانفجار سيارة مفخخة في سوق شعبي وسط كركوك مساء الاثنين."}
    first = process_story(story(rockets, published=day))
    second = process_story(story(market, published=day + timedelta(hours=11)))
    assert first["event"] != second["event"] and first["alerts"] == second["alerts"] == 1


def test_breaking_counts_the_outlets_of_an_event_whatever_their_language(desks,
                                                                         redis_conn: redis.Redis) -> None:
    desks({"breaking": {"outlets": 3, "minutes": 180}})
    for url in GOVERNOR[:3]:  # Shafaq News (Arabic) 10:17, Rudaw (English) 12:00, Kurdistan24 (Sorani) 12:30
        process_story(story(report(url)))
    alerts = [StoryAlert.model_validate(a) for job in Queue(keys.ALERTS_QUEUE, connection=redis_conn,
                                                            serializer=JSONSerializer).jobs
              for a in job.args[0].get("alerts", {}).values()]
    breaking = [a for a in alerts if a.breaking is not None]
    assert len(breaking) == 1
    event = breaking[0].breaking
    assert [s.outlet for s in event.outlets] == ["Shafaq News", "Rudaw", "Kurdistan24"]
    assert {s.language for s in event.outlets} == {"ar", "en", "ckb"}
    from newsmon.alerts.render import breaking_line

    assert breaking_line(breaking[0], UTC).startswith(
        "reported by 3 outlets in 3 languages (Arabic, English, Sorani Kurdish) in 133 minutes")


def test_explain_prints_the_evidence_and_the_other_reports(desks, redis_conn: redis.Redis) -> None:
    from newsmon.app.cli_archive import print_explanation
    from newsmon.workers.archive import open_engine
    from newsmon.workers.explain import explain

    config = desks({})
    results = [process_story(story(report(url))) for url in GOVERNOR]
    out = io.StringIO()
    print_explanation(explain(config, open_engine(jobcontext.current().archive_url), redis_conn,
                              results[1]["story"]), out)
    text = out.getvalue()
    first = results[0]["story"]
    assert f"event {first}: joined through story {first} (Shafaq News, ar)" in text
    assert "names Kirkuk=كركوك" in text and "concepts" in text and "agreed with 1 of the event's 1" in text
    assert "also in the event: in Arabic: Shafaq News 2026-02-22 13:17 +03" in text
    assert "in Sorani Kurdish: Kurdistan24 2026-02-22 15:30 +03" in text
    assert "kirkuk: already alerted for this event by story " + results[0]["story"] in text
    assert "edition" not in text  # Rudaw joined Shafaq: two outlets
    out = io.StringIO()  # Kurdistan24's Kurmanji edition came 10 minutes after its Sorani one
    print_explanation(explain(config, open_engine(jobcontext.current().archive_url), redis_conn,
                              results[3]["story"]), out)
    assert "the outlet's own edition in another language" in out.getvalue(), out.getvalue()


# --- the evidence ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling,language", [
    ("Kirkuk", "en"), ("Kerkûk", "kmr"), ("Kerkûkê", "kmr"), ("كركوك", "ar"), ("کەرکووک", "ckb"),
    ("كەركووك", "ckb"), ("بكركوك", "ar"),
])
def test_a_place_folds_to_one_key_in_every_script(spelling: str, language: str) -> None:
    assert "KRK" in features(spelling, "", language).names


def test_skeletons_of_names_across_scripts() -> None:
    assert latin_skeleton("barzani", "en") == arabic_skeleton("بارزاني") == "BRZN"
    assert latin_skeleton("peshmerga", "en") == arabic_skeleton("پيشمهرگه") == "BSMRK"
    nechirvan = arabic_skeleton("نيجيرفان")
    assert latin_skeleton("nechirvan", "en") == latin_skeleton("necirvan", "kmr") == nechirvan
    assert latin_skeleton("sudani", "en") == arabic_skeleton("سوداني")


@pytest.mark.parametrize("spellings,language_of", [
    (("Zakho", "زاخو", "Zaxo", "زاخۆ"), ("en", "ar", "kmr", "ckb")),
    (("Sinjar", "Şingal", "شنگال", "سنجار"), ("en", "kmr", "ckb", "ar")),
    (("Sulaymaniyah", "Silêmaniyê", "سلێمانی", "السليمانية"), ("en", "kmr", "ckb", "ar")),
    (("Duhok", "Dihokê", "دهۆک", "بدهوك"), ("en", "kmr", "ckb", "ar")),
    (("Akre", "Akrê", "عقرة"), ("en", "kmr", "ar")),
])
def test_a_town_named_apart_by_each_language_is_one_name(spellings: tuple[str, ...],
                                                       language_of: tuple[str, ...]) -> None:
    """Names no skeleton joins (Sinjar and Şingal) or too short for a skeleton key (Zakho) are one name
    key in every language; in prose, after an Arabic proclitic, with a Kurmanji case ending."""
    keys = [{k for k in features(f"Drone strike near {word}" if lang == "en" else word, "", lang).names
             if k.startswith("@")} for word, lang in zip(spellings, language_of, strict=True)]
    assert len(keys[0]) == 1 and all(k == keys[0] for k in keys), keys


def test_countries_and_generic_words_get_no_town_key() -> None:
    for title, language in (("Syria welcomes the agreement", "en"), ("سوريا ترحب بالاتفاق", "ar"),
                            ("في إطار الاتفاق", "ar"), ("Sam Smith arrives", "en"), ("Koyanagi", "en")):
        assert not [k for k in features(title, "", language).names if k.startswith("@")], title


def test_a_final_ng_keeps_its_g_for_names_written_with_it_in_arabic_script() -> None:
    """Sarsang is سرسنك (the g written as ك): the English word gives the key with the g as well as without
    it (-ing words keep their old key)."""
    assert set(features("Sarsang", "", "en").names) & set(features("سرسنك", "", "ar").names)
    assert set(features("Sersing", "", "kmr").names) & set(features("سرسنك", "", "ar").names)
    assert latin_skeleton("sarsang", "en") == "SRSN"
    assert latin_skeleton("sarsang", "en", final_g=True) == "SRSNK"


def test_numbers_fold_digits_and_leave_out_years_and_the_day() -> None:
    published = datetime(2026, 2, 22, tzinfo=UTC)
    assert numbers("قتل ١٣ شخصا و۴۰ جريحا يوم 22 شباط 2026", published) == {"13", "40"}
    assert numbers("5 rockets, 2 wounded", published) == set()
    assert numbers("word1x43 id4567 F-16 COVID-19", published) == {"16", "19"}  # not digits inside a word
    assert numbers("1,200 people, 2,500,000 dinars, 12,5 km, 3.5 km, 17.25 %", published) == {
        "1200", "2500000", "12.5", "17.25"}
    # a page's timestamp is no evidence: two reports of one minute share it whatever they tell
    assert numbers("2026-12-03 08:22 Three rockets, 03/12/2026 ۲۸/ ۰۷/ ۲۰۲۵ at 14:05:09", published) == set()


def test_days_of_the_week_in_six_languages_keep_two_days_apart() -> None:
    assert weekdays("on Friday, الجمعة، هەینیدا، جمعه، Cuma, Înê") == {4}
    assert weekdays("روز سه‌شنبه") == {1} and weekdays("سه شنبه و شنبه") == {1, 5}  # Persian two-word days
    assert weekdays("أحد عناصر الأمن") == set()  # أحد without its article is "one of"
    settings = EventSettings()
    friday = features("Rockets near K-1 base",
                      "Two rockets landed near the K-1 base west of Kirkuk on Friday.", "en")
    saturday = features("More rockets near K-1 base",
                        "Three more rockets hit the K-1 base near Kirkuk on Saturday, police said.", "en")
    assert not agrees(pair_score(saturday, friday, settings, 0.1), settings)
    again = features("Rockets hit K-1 base",
                     "Rockets fell near the K-1 base in Kirkuk on Friday evening.", "en")
    assert agrees(pair_score(again, friday, settings, 0.1), settings)


def test_datelines_are_not_evidence() -> None:
    with_dateline = features("", "ERBIL, Kurdistan Region – The Kirkuk governor spoke.", "en")
    assert "RBL" not in with_dateline.names and "KRK" in with_dateline.names
    arabic = features("", "أربيل (كوردستان24)- قال محافظ كركوك", "ar")
    assert "KRK" in arabic.names


@pytest.mark.parametrize("word,concept", [
    ("drone", "drone"), ("مسيرة", "drone"), ("درۆن", "drone"), ("dronê", "drone"), ("killed", "killed"),
    ("استشهاد", "killed"), ("church", "church"), ("کەنیسە", "church"), ("dêr", "church"),
])
def test_the_thesaurus_reads_one_concept_in_every_language(word: str, concept: str) -> None:
    from newsmon.normalize import normalize_text

    assert concept_of(normalize_text(word)) == concept


def test_concepts_alone_never_join_two_reports() -> None:
    settings = EventSettings()
    a = features("Drone attack on an oil field", "A drone struck an oil field, causing a fire.", "en")
    b = features("هجوم بطائرة مسيرة على حقل نفطي", "استهدفت طائرة مسيرة حقلا نفطيا ما تسبب بحريق.", "ar")
    pair = pair_score(a, b, settings, hours=1)
    assert pair.concepts and pair.evidence == 0 and pair.score >= settings.min_score
    from newsmon.workers.events import agrees

    assert not agrees(pair, settings)


def test_an_outlets_editions_in_two_languages_count_as_one_report_translated() -> None:
    """Kurdistan24's Arabic and English reports of President Barzani welcoming the Damascus-SDF agreement,
    20 minutes apart: two names alone are not enough between two outlets, but one outlet does not tell one
    happening twice, so its editions in two languages agree."""
    settings = EventSettings()
    arabic, english = (report(f"https://www.kurdistan24.net/{path}") for path in ("ar/story/890900",
                                                                                   "en/story/890902"))
    a = features(arabic["title"], arabic["text"], "ar")
    b = features(english["title"], english["text"], "en")
    assert not agrees(pair_score(b, a, settings, hours=0.33), settings)
    edition = pair_score(b, a, settings, hours=0.33, editions=True)
    assert agrees(edition, settings) and edition.edition
    assert not pair_score(b, a, settings, hours=settings.edition_hours + 0.5, editions=True).edition
    off = settings.model_copy(update={"edition_bonus": 0})
    assert not agrees(pair_score(b, a, off, hours=0.33, editions=True), off)


def test_an_outlets_editions_join_through_the_index_and_say_so(redis_conn: redis.Redis) -> None:
    from newsmon.workers.events import EventIndex

    arabic, english = (report(f"https://www.kurdistan24.net/{path}") for path in ("ar/story/890900",
                                                                                   "en/story/890902"))
    at = datetime(2026, 1, 30, 9, 40, tzinfo=UTC)
    for outlet, expected in (("Another outlet", "en1"), ("Kurdistan24", "ar1")):
        redis_conn.flushdb()
        index = EventIndex(redis_conn, EventSettings())
        first = index.assign("ar1", "ar1", features(arabic["title"], arabic["text"], "ar"), at, "ar",
                             "Kurdistan24")
        assert first.event == "ar1"
        later = index.assign("en1", "en1", features(english["title"], english["text"], "en"),
                             at + timedelta(minutes=20), "en", outlet)
        assert later.event == expected, outlet  # two names between two outlets: not enough
    assert later.evidence and later.evidence["edition"] is True


def test_an_event_takes_a_report_that_agrees_with_agreement_reports_of_its_reports(
        redis_conn: redis.Redis) -> None:
    """Five reports of one event, of which three agree with a new one (3/5 under `agreement`): enough
    with agreement_reports 3, not with 4."""
    from newsmon.workers.eventfeatures import Features
    from newsmon.workers.events import EventIndex

    at = datetime(2026, 3, 1, 8, tzinfo=UTC)
    first_three = Features({"KRK": "Kirkuk", "HWJ": "Hawija"}, 2, frozenset({"17", "23"}))
    last_two = Features({"KRK": "Kirkuk", "HWJ": "Hawija"}, 2, frozenset({"23", "40"}))
    new = Features({"KRK": "Kirkuk", "MKMR": "Makhmour"}, 2, frozenset({"17"}))
    for needed, expected in ((3, "e0"), (4, "new")):
        redis_conn.flushdb()
        index = EventIndex(redis_conn, EventSettings(agreement=0.9, agreement_reports=needed))
        for n, found in enumerate([first_three] * 3 + [last_two] * 2):
            opened = index.assign(f"e{n}", f"e{n}", found, at + timedelta(minutes=n), "en", f"O{n}")
            assert opened.event == "e0"
        decided = index.assign("new", "new", new, at + timedelta(minutes=10), "en", "O9")
        assert decided.event == expected, needed
        if decided.evidence:
            assert (decided.evidence["agreeing"], decided.evidence["compared"]) == (3, 5)


# --- the batch contract and the backtest -----------------------------------------------------------------


def events_jsonl(lines: list[dict[str, Any]], *options: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", "--config-dir", str(SHIPPED_CONFIG), "events", "--jsonl", *options],
        input="".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), capture_output=True,
        text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_events_jsonl_prints_event_and_cluster_per_story() -> None:
    lines = []
    for n, url in enumerate(GOVERNOR):
        found = report(url)
        lines.append({"id": f"g{n}", "url": url, "title": found["title"], "text": found["text"],
                      "language": found["lang"], "outlet": found["outlet"], "published": found["published"]})
    copy = {**lines[1], "id": "copy", "url": "https://rudaw.example/copy"}  # the English report, republished
    census = report(CENSUS)
    other = {"id": "census", "url": CENSUS, "title": census["title"], "text": census["text"],
             "language": "en", "outlet": census["outlet"], "published": "2026-02-22T14:00:00Z"}
    printed = events_jsonl([*lines, copy, other], "--evidence")
    assert [p["id"] for p in printed] == ["g0", "g1", "g2", "g3", "copy", "census"]
    assert {p["event"] for p in printed[:5]} == {"g0"} and printed[5]["event"] == "census"
    assert printed[4]["cluster"] == "g1" and [p["cluster"] for p in printed[:4]] == ["g0", "g1", "g2", "g3"]
    assert "evidence" not in printed[0] and printed[1]["evidence"]["matched"] == "g0"
    narrow = events_jsonl(lines, "--window-hours", "1")  # Rudaw came 1.7 h after Shafaq
    assert narrow[1]["event"] == "g1"


@pytest.mark.e2e  # feeds the whole corpus through the CLI in a subprocess
def test_the_evaluation_set_holds_its_precision() -> None:
    """A floor under bench/events_quality.py's figures (README): a change that merges what it should not
    shows here."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
    import events_quality

    reports = events_quality.load()
    counts, _ = events_quality.score(reports, events_quality.group(reports))
    precision, recall, _ = events_quality.prf(counts["all"])
    assert precision >= 0.9 and recall >= 0.7, (precision, recall)


def test_backtest_events_counts_the_alerts_saved_and_lists_the_merges(desks, redis_conn: redis.Redis) -> None:
    from newsmon.app.cli_archive import _backtest_events
    from newsmon.workers.archive import open_engine

    config = desks({})
    for url in GOVERNOR:
        process_story(story(report(url)))
    import argparse

    out = io.StringIO()
    _backtest_events(argparse.Namespace(since="100000d", json=False), config,
                     open_engine(jobcontext.current().archive_url), out)
    text = out.getvalue()
    assert "4 clusters, 1 events" in text
    assert "desk kirkuk: 4 alerts per cluster, 1 per event, 3 saved" in text
    assert text.count("    joined: ") == 3 and "evidence: score" in text


def test_a_title_case_headline_names_only_what_the_text_capitalises_too() -> None:
    title = "‘Kurdistan Will Always Stand for Religious Freedom,’ Barzani Says at Cathedral Opening"
    text = "Prime Minister Masrour Barzani on Sunday inaugurated the cathedral in Sulaimani."
    found = features(title, text, "en")
    words = set(found.names.values())
    assert "Barzani" in words and "Sulaimani" in words
    assert not words & {"Always", "Stand", "Religious", "Freedom", "Says", "Opening"}
    # a headline in sentence case keeps its capitalised words: they are names
    plain = features("Barzani opens a cathedral in Sulaimani", "The prime minister spoke on Sunday.", "en")
    assert {"Barzani", "Sulaimani"} <= set(plain.names.values())


def test_the_status_page_lists_the_event_in_other_languages_in_its_time_zone() -> None:
    from zoneinfo import ZoneInfo

    from newsmon.app.web import event_languages

    story = {"id": "a", "language": "ar", "outlet": "Shafaq News"}
    members = [story,
               {"id": "b", "language": "ckb", "outlet": "Rudaw", "published": datetime(2026, 2, 22, 7, 12)},
               {"id": "c", "language": "en", "outlet": "Kurdistan24",
                "published": datetime(2026, 2, 22, 7, 20, tzinfo=UTC)},
               {"id": "d", "language": "ar", "outlet": "964"}]  # the story's own language: not listed
    assert event_languages(story, members, ZoneInfo("Asia/Baghdad")) == (
        "in Sorani Kurdish: Rudaw 10:12 +03; in English: Kurdistan24 10:20 +03")
