"""Archive migrations, search, backtest, explain and hot reload — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import yaml
from sqlalchemy import create_engine, inspect, text

from newsmon import jobcontext
from newsmon.models import Story, story_id_for
from newsmon.settings import load_config, load_keywords
from newsmon.urls import canonical_url
from newsmon.workers.archive import Archive, open_engine
from newsmon.workers.backtest import backtest
from newsmon.workers.search import search
from tests.conftest import SHIPPED_CONFIG, Roles, archive_story, wait_for, write_config

NOW = datetime.now(UTC)
STORIES = [
    (
        "ar",
        "Shafaq News",
        "تعزيزات لقوات التحالف في القاعدة",
        "قالت مصادر ان تعزيزات وصلت لقوات التحالف في قاعدة كيه-1 غرب كركوك.",
        1,
    ),
    (
        "ar",
        "INA",
        "وقوات التحالف تغادر",
        "غادرت وقوات التحالف الدولي المعسكر بعد انتهاء المهمة الاستشارية في البلاد.",
        2,
    ),
    (
        "ckb",
        "Kurdistan24",
        "کۆبوونەوە لە کەرکووک",
        "ئەمڕۆ لە کەرکووک کۆبوونەوەیەک لەسەر ئاسایشی شارەکە ئەنجام درا.",
        3,
    ),
    ("ckb", "Esta", "بارانی زۆر لە كهركوك", "بارانێکی زۆر لە كهركوك بووە هۆی داخستنی چەند ڕێگایەک.", 40),
    (
        "en",
        "Iraqi News",
        "Oil exports rise",
        "Iraq's oil exports rose by four percent in November, the ministry said.",
        5,
    ),
    ("kmr", "Rudaw", "Civîn li Kerkûkê", "Îro li Kerkûkê civînek li ser ewlehiya bajêr hat lidarxistin.", 6),
]


def archived_story(url: str, language: str, outlet: str, title: str, body: str, days: float) -> Story:
    """A story of source `s` at `url`, published `days` before NOW."""
    return Story(id=story_id_for(canonical_url(url)), source_id="s", outlet=outlet, language=language,
                 url=url, canonical_url=canonical_url(url), title=title, text=body,
                 published=NOW - timedelta(days=days))


def fill(archive: Archive) -> list[str]:
    from newsmon.workers.matcher import matcher_for

    config = load_config(SHIPPED_CONFIG)
    ids = []
    for n, (language, outlet, title, body, days) in enumerate(STORIES):
        story = archived_story(f"https://news.example/{n}", language, outlet, title, body, days)
        topics = matcher_for(config).match(title, body, language).matches
        archive_story(archive, story, topics, f"h{n}", config.version)
        ids.append(story.id)
    return ids


def test_migrations_reach_head_and_upgrade_an_old_archive(db_url: str) -> None:
    engine = open_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    assert {"stories", "clusters", "deliveries", "alembic_version"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    assert open_engine(db_url)  # migrating again is a no-op


def test_archive_made_before_migrations_is_stamped_and_upgraded(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from newsmon.workers.archive import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = create_engine(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as conn:  # the schema the first version made with create_all, without Alembic's table
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text("DROP TABLE alembic_version"))
    engine = open_engine(url)
    assert "search_text" in {c["name"] for c in inspect(engine).get_columns("stories")}


def test_search_with_arabic_clitics_kurdish_variants_and_filters(db_url: str) -> None:
    archive = Archive(open_engine(db_url))
    fill(archive)
    found = [h.story["outlet"] for h in search(archive.engine, "قوات التحالف")]
    assert found == ["Shafaq News", "INA"]  # لقوات and وقوات found, newest first
    hit = search(archive.engine, "قوات التحالف")[0]
    assert "[[لقوات]] [[التحالف]]" in hit.snippet
    kirkuk = [h.story["outlet"] for h in search(archive.engine, "کەرکووک")]
    assert kirkuk == ["Kurdistan24", "Esta"]  # کەرکووک finds كهركوك (old orthography) too
    assert [h.story["outlet"] for h in search(archive.engine, "کەرکووک", since=NOW - timedelta(days=7))] == [
        "Kurdistan24"
    ]
    assert [h.story["outlet"] for h in search(archive.engine, "Kerkuk", language="kmr")] == ["Rudaw"]
    # a Latin query finds Sorani in Arabic script (its words are indexed in Latin letters too) ...
    assert [h.story["outlet"] for h in search(archive.engine, "Kerkuk")] == ["Kurdistan24", "Rudaw"]
    assert [h.story["outlet"] for h in search(archive.engine, "kobunewe kerkuk")] == ["Kurdistan24"]
    # ... but not the old orthography's كهركوك, whose Latin letters are "khrkuk"
    assert "Esta" not in [h.story["outlet"] for h in search(archive.engine, "Kerkuk")]
    assert [h.story["outlet"] for h in search(archive.engine, "التحالف", topic="k1_base")] == ["Shafaq News"]
    assert [h.story["outlet"] for h in search(archive.engine, "التحالف", outlet="INA")] == ["INA"]
    assert search(archive.engine, "zzzz") == []


CODES = [
    (
        "en",
        "Iraqi News",
        "Drone downed near K1 base",
        "A drone was shot down near the K1 air base on Saturday.",
        1,
    ),
    ("ar", "Shafaq News", "إسقاط طائرة مسيرة", "أسقطت طائرة مسيرة قرب قاعدة كيه 1 غرب كركوك.", 2),
    ("en", "INA", "Budget vote", "Parliament voted on the budget in 2020 and again in K 2 sessions.", 3),
]


def archive_of(db_url: str, stories: list[tuple[str, str, str, str, int]]) -> Archive:
    archive = Archive(open_engine(db_url))
    for n, (language, outlet, title, body, days) in enumerate(stories):
        story = archived_story(f"https://codes.example/{n}", language, outlet, title, body, days)
        archive_story(archive, story, [], f"c{n}", "v")
    return archive


def test_search_finds_a_code_in_every_spelling(db_url: str) -> None:
    """The matcher's letter–digit rule: K-1, K 1, K–1 and K-١ find the story that wrote K1, كيه-1 the one
    that wrote كيه 1; a year after a word stays two words."""
    archive = archive_of(db_url, CODES)
    for query in ("K1", "K-1", "K 1", "K–1", "K-١", "k1"):
        assert [h.story["outlet"] for h in search(archive.engine, query)] == ["Iraqi News"], query
    assert "[[K1]]" in search(archive.engine, "K-1")[0].snippet
    for query in ("كيه-1", "كيه1", "كيه ١"):
        found = search(archive.engine, query)
        assert [h.story["outlet"] for h in found] == ["Shafaq News"], query
        assert "[[كيه 1]]" in found[0].snippet
    assert [h.story["outlet"] for h in search(archive.engine, "in 2020")] == ["INA"]
    assert search(archive.engine, "K-12") == []


def test_an_archive_indexed_before_codes_is_reindexed(tmp_path: Path) -> None:
    """Migration 0003 rebuilds the index of stories stored by the older code (no joined codes)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from newsmon.workers.archive import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    old = create_engine(url)
    with old.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(
            text(
                "INSERT INTO stories (id, source_id, outlet, language, url, canonical_url, title, text, "
                "published, fetched, processed, topics, content_hash, cluster_id, dedupe_kind, "
                "config_version, search_text) VALUES ('s1', 's', 'Iraqi News', 'en', 'https://o/1', "
                "'https://o/1', 'Base', 'The K-1 base was hit.', NULL, :now, :now, '[]', 'h', 's1', 'new', "
                "'v', 'base the k 1 base was hit')"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
        conn.execute(
            text("INSERT INTO stories_fts (story_id, body) VALUES ('s1', 'base the k 1 base was hit')")
        )
    assert search(old, "K1") == []  # the old index: k and 1 only
    engine = open_engine(url)
    assert [h.story["id"] for h in search(engine, "K1")] == ["s1"]


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_search_cli_validates_filters_and_prints_zoned_times(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    archive_of(f"sqlite:///{data_dir / 'archive.sqlite'}", CODES)
    env = {"NEWSMON_DATA_DIR": str(data_dir)}
    bad = newsmon(SHIPPED_CONFIG, env, "search", "K-1", "--lang", "arabic")
    assert (
        bad.returncode == 2 and "--lang 'arabic'" in bad.stderr and "ar, ckb, en, fa, kmr, tr" in bad.stderr
    )
    bad = newsmon(SHIPPED_CONFIG, env, "search", "K-1", "--topic", "k1")
    assert bad.returncode == 2 and "k1_base" in bad.stderr
    bad = newsmon(SHIPPED_CONFIG, env, "search", "K-1", "--outlet", "Iraqi Newz")
    assert bad.returncode == 2 and "Iraqi News" in bad.stderr
    bad = newsmon(SHIPPED_CONFIG, env, "search", "K-1", "--tz", "Mars/Olympus")
    assert bad.returncode == 2 and "--tz" in bad.stderr
    published = (NOW - timedelta(days=1)).astimezone(ZoneInfo("Asia/Baghdad"))
    result = newsmon(SHIPPED_CONFIG, env, "search", "K 1", "--lang", "en", "--outlet", "Iraqi News")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        published.strftime("%Y-%m-%d %H:%M +03  [en] Iraqi News: Drone downed near K1 base")
    )
    utc = newsmon(SHIPPED_CONFIG, env, "search", "K-1", "--tz", "UTC", "--json")
    assert json.loads(utc.stdout)["published"] == (NOW - timedelta(days=1)).isoformat()


def test_backtest_reports_new_gone_and_kept_without_changing_anything(db_url: str, tmp_path: Path) -> None:
    archive = Archive(open_engine(db_url))
    fill(archive)
    current = load_config(SHIPPED_CONFIG).keywords
    data = yaml.safe_load((SHIPPED_CONFIG / "keywords.yaml").read_text())
    data["topics"]["oil"] = {"name": "Oil", "any": ["oil exports"]}
    del data["topics"]["kirkuk"]
    candidate_file = tmp_path / "candidate.yaml"
    candidate_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    before = {s["id"]: s["topics"] for s in archive.recent(50)}
    report = backtest(archive.engine, current, load_keywords(candidate_file), NOW - timedelta(days=30))
    assert report["stories"] == 6  # --since counts archive time: the story published 40 days ago is in
    assert (
        report["topics"]["oil"]["new"] == 1
        and report["topics"]["oil"]["samples"]["new"][0]["outlet"] == "Iraqi News"
    )
    assert report["topics"]["kirkuk"]["gone"] == 4 and report["topics"]["kirkuk"]["kept"] == 0
    assert report["topics"]["kirkuk"]["by"]["language:ckb"]["gone"] == 2
    assert report["topics"]["coalition_troops"] == {
        **report["topics"]["coalition_troops"],
        "new": 0,
        "gone": 0,
        "kept": 2,
    }
    assert {s["id"]: s["topics"] for s in archive.recent(50)} == before  # nothing changed


def test_retention_prunes_old_stories(tmp_path: Path) -> None:
    archive = Archive(open_engine(f"sqlite:///{tmp_path / 'a.sqlite'}"))
    fill(archive)
    assert archive.prune(datetime.now(UTC) + timedelta(seconds=1)) == 6
    assert archive.count() == 0 and search(archive.engine, "کەرکووک") == []
    with archive.engine.connect() as conn:  # the index kept nothing of them
        assert conn.execute(text("SELECT count(*) FROM stories_fts")).scalar() == 0


def newsmon(config_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_search_and_backtest_cli(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    archive = Archive(open_engine(f"sqlite:///{data_dir / 'archive.sqlite'}"))
    fill(archive)
    env = {"NEWSMON_DATA_DIR": str(data_dir)}
    result = newsmon(SHIPPED_CONFIG, env, "search", "قوات التحالف", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["outlet"] for line in lines] == ["Shafaq News", "INA"] and "[[" in lines[0]["snippet"]
    bad = newsmon(SHIPPED_CONFIG, env, "search", "x", "--since", "soon")
    assert bad.returncode == 1 and "--since" in bad.stderr
    report = newsmon(SHIPPED_CONFIG, env, "backtest", "--keywords", str(SHIPPED_CONFIG / "keywords.yaml"))
    assert report.returncode == 0 and "nothing was changed or sent" in report.stdout


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_explain_suppressed_and_deduplicated_stories(
    tmp_path: Path, redis_conn: redis.Redis, redis_url: str
) -> None:
    from tests.conftest import process_and_decide as process_story

    alerts = {"channels": {"c": {"type": "console"}},
              "desks": {"arabic": {"topics": ["coalition_troops"], "languages": ["ar"], "channels": ["c"]}}}
    config_dir = write_config(tmp_path / "config", [{"id": "s1", "name": "S", "outlet": "O", "language": "ar",
                                                     "kind": "feed", "url": "http://x/f"}], alerts)
    data_dir = tmp_path / "data"
    config = load_config(config_dir)
    jobcontext.install(jobcontext.JobContext(config=config, redis=redis_conn,
                                             archive_url=f"sqlite:///{data_dir / 'archive.sqlite'}"))
    body = ("قال التحالف بقيادة السعودية إن قوات التحالف اعترضت صاروخا اطلق من اليمن باتجاه الحدود. " * 3)
    text_a = "وصلت تعزيزات لقوات التحالف الى القاعدة الجوية بحسب مصادر امنية اليوم. " * 3

    def story(n: int, content: str, outlet: str) -> dict:
        url = f"https://news.example/{n}"
        return Story(
            id=story_id_for(canonical_url(url)),
            source_id="s1",
            outlet=outlet,
            language="ar",
            url=url,
            canonical_url=canonical_url(url),
            title=f"خبر {n}",
            text=content,
        ).model_dump(mode="json")

    suppressed = process_story(story(1, body, "A"))
    original = process_story(story(2, text_a, "A"))
    copy = process_story(story(3, text_a + " تابعونا على تلغرام", "B"))
    assert copy["kind"] == "near"
    env = {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(data_dir)}
    out = newsmon(config_dir, env, "explain", suppressed["story"]).stdout
    assert "suppressed: coalition_troops by the none term(s) التحالف بقيادة السعودية" in out
    out = newsmon(config_dir, env, "explain", "https://news.example/3").stdout
    assert "a near copy" in out and f"copy of {original['story']}" in out
    assert f"coalition_troops: already alerted for this cluster by story {original['story']}" in out
    out = newsmon(config_dir, env, "explain", original["story"]).stdout
    assert "coalition_troops: alerted by this story" in out


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_reload_takes_a_good_config_and_refuses_a_bad_one(
    tmp_path: Path, roles: Roles, redis_conn: redis.Redis, redis_url: str
) -> None:
    from rq import Queue
    from rq.serializers import JSONSerializer

    from newsmon import keys

    alerts = {"channels": {"c": {"type": "console"}}, "routes": []}
    config_dir = write_config(tmp_path / "config", [{"id": "s1", "name": "S", "outlet": "O", "language": "en",
                                                     "kind": "feed", "url": "http://x/f"}], alerts)
    env = {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    roles.start("worker", config_dir, "worker")
    archive = Archive(open_engine(f"sqlite:///{tmp_path / 'data' / 'archive.sqlite'}"))
    queue = Queue(keys.PROCESS_QUEUE, connection=redis_conn, serializer=JSONSerializer)

    def process(n: int, content: str) -> dict:
        url = f"https://news.example/{n}"
        payload = Story(
            id=story_id_for(canonical_url(url)),
            source_id="s1",
            outlet="O",
            language="en",
            url=url,
            canonical_url=canonical_url(url),
            title=f"Story {n}",
            text=content + f" (unique {n * 104729})",
        ).model_dump(mode="json")
        queue.enqueue(keys.PROCESS_STORY_JOB, payload)
        return wait_for(lambda: archive.get(payload["id"]), timeout=30, what=f"story {n} archived")

    first = process(1, "Iraq's oil exports rose by four percent in November, the ministry said on Sunday.")
    assert first["topics"] == []
    keywords = yaml.safe_load((config_dir / "keywords.yaml").read_text())
    keywords["topics"]["oil"] = {"name": "Oil", "any": ["oil exports"]}
    (config_dir / "keywords.yaml").write_text(yaml.safe_dump(keywords, allow_unicode=True))
    reloaded = newsmon(config_dir, env, "keywords", "reload")
    assert reloaded.returncode == 0, reloaded.stderr
    assert "1 live worker(s)" in reloaded.stdout
    second = process(2, "Oil exports through the southern ports reached a new record this month.")
    assert [t["topic"] for t in second["topics"]] == ["oil"] and second["config_version"] != first[
        "config_version"
    ]
    # a file edited after the publish is not loaded: the worker runs what was published, and does not
    # read the files again at every job
    keywords["topics"]["oil"] = {"name": "Oil", "any": ["crude"]}
    (config_dir / "keywords.yaml").write_text(yaml.safe_dump(keywords, allow_unicode=True))
    for n in (10, 11, 12):
        later = process(n, "Oil exports through the northern pipeline resumed on Monday.")
        assert [t["topic"] for t in later["topics"]] == ["oil"] and later["config_version"] == second[
            "config_version"
        ]
    assert roles.log("worker").count("config reloaded") == 1
    (config_dir / "keywords.yaml").write_text("topics:\n  oil: {name: Oil, any: ['Ker*kuk']}\n")
    refused = newsmon(config_dir, env, "keywords", "reload")
    assert refused.returncode == 2 and "may only end" in refused.stderr
    # even if a version is published behind its back, the worker keeps the config it has ...
    redis_conn.set(keys.CONFIG_VERSION, json.dumps({"version": "broken", "at": 0}))
    third = process(3, "Oil exports fell slightly in December according to the ministry.")
    assert [t["topic"] for t in third["topics"]] == ["oil"] and third["config_version"] == second[
        "config_version"
    ]
    assert roles.processes["worker"].poll() is None  # the worker kept running
    assert roles.log("worker").count("cannot be loaded here") == 1
    process(4, "Oil prices were steady on Tuesday in Basra.")
    assert roles.log("worker").count("cannot be loaded here") == 1  # said once, not at every job
    # ... and `status` shows the refusal as a problem
    status = newsmon(config_dir, env, "status", "--json")
    problems = {p["kind"] for p in json.loads(status.stdout)["problems"]}
    assert "config-refused" in problems
    assert "config-invalid" in problems  # the broken keywords.yaml on disk, reported though status loads none


def test_models_and_migrations_agree(db_url: str) -> None:
    """Alembic's comparison of the tables declared in workers/archive.py with a migrated database finds
    no difference. Search structures that exist only in the migrations (SQLite's FTS5 tables, PostgreSQL's
    generated tsvector and its GIN index) are dialect-specific and named here, nothing else."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from newsmon.workers.archive import metadata

    engine = open_engine(db_url)
    search_only = {"stories_fts", "stories_fts_data", "stories_fts_idx", "stories_fts_docsize",
                   "stories_fts_config", "stories_fts_content", "alembic_version"}

    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        if type_ == "table" and name in search_only:
            return False
        if type_ == "column" and name == "search_vector":
            return False
        return not (type_ == "index" and name == "ix_stories_search")

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include, "compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == [], diff


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_backtest_starts_its_children_fresh_with_or_without_threads(tmp_path: Path) -> None:
    """A fork copies its parent's locks, those of threads Python does not see included, and one held at
    the fork hangs the child for ever: the backtest's pool always starts its children fresh, and gives the
    same report with another thread running."""
    import threading

    from newsmon.workers import backtest as module

    archive = Archive(open_engine(f"sqlite:///{tmp_path / 'archive.sqlite'}"))
    fill(archive)
    current = load_config(SHIPPED_CONFIG).keywords
    methods: list[str] = []
    real_pool = module.multiprocessing.get_context

    def recording(method: str | None = None):
        methods.append(str(method))
        return real_pool(method)

    module.multiprocessing.get_context = recording
    stop = threading.Event()
    try:
        alone = backtest(archive.engine, current, current, NOW - timedelta(days=30))
        other = threading.Thread(target=stop.wait, daemon=True)
        other.start()
        threaded = backtest(archive.engine, current, current, NOW - timedelta(days=30))
    finally:
        module.multiprocessing.get_context = real_pool
        stop.set()
    assert threaded["topics"] == alone["topics"] and threaded["stories"] == alone["stories"]
    if (os.cpu_count() or 1) > 1:
        assert methods == ["forkserver", "forkserver"]


def test_the_index_finds_codes_as_the_matchers_rule_does() -> None:
    """The index reads codes from digit runs (fast); it must find exactly the separated codes the
    matcher's CODE pattern finds, on random text of letters, digits, spaces and dashes in two scripts."""
    import random

    from newsmon.normalize import normalize_text
    from newsmon.workers.morphology import CODE
    from newsmon.workers.search import _codes

    rng = random.Random(17)
    pieces = [
        "a",
        "b",
        "k",
        "K",
        "كيه",
        "x",
        " ",
        " ",
        "-",
        "1",
        "2",
        "45",
        "678",
        "12345",
        "٣",
        "é",
        "K-1",
        "k 1",
    ]
    for _ in range(5000):
        text = normalize_text("".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))))
        expected = {m.group(1) + m.group(2) for m in CODE.finditer(text) if m.end(1) != m.start(2)}
        assert _codes(text) == expected, text


def test_search_shows_a_story_once_with_its_copies_and_its_id(tmp_path: Path) -> None:
    """Four outlets carried one Kurdistan24 report: one row, its id to pass to `explain`, and the copies."""
    data_dir = tmp_path / "data"
    archive = Archive(open_engine(f"sqlite:///{data_dir / 'archive.sqlite'}"))
    title, body = "Drone downed near K1 base", "A drone was shot down near the K1 base west of Kirkuk."
    first = archived_story("https://k24.example/1", "en", "Kurdistan24", title, body, 1)
    archive_story(archive, first, [], "h0", "v1")
    for n, outlet in enumerate(("Rudaw", "Shafaq News", "964")):
        copy = archived_story(f"https://copy.example/{n}", "en", outlet, title, body, 0.5)
        archive_story(archive, copy, [], f"c{n}", "v1", cluster_id=first.id)
    other = archived_story("https://other.example/1", "en", "INA", "Another K1 story", "The K1 base again.",
                           0.2)
    archive_story(archive, other, [], "o", "v1")
    env = {"NEWSMON_DATA_DIR": str(data_dir)}
    result = newsmon(SHIPPED_CONFIG, env, "search", "K1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(title) == 1 and f"story {first.id}" in result.stdout
    assert "and 3 copies: 964, Rudaw, Shafaq News" in result.stdout and f"story {other.id}" in result.stdout
    printed = newsmon(SHIPPED_CONFIG, env, "search", "K1", "--json").stdout
    rows = [json.loads(line) for line in printed.splitlines()]
    assert [r["id"] for r in rows] == [other.id, first.id]
    assert sorted(c["outlet"] for c in rows[1]["copies"]) == ["964", "Rudaw", "Shafaq News"]
    limited = newsmon(SHIPPED_CONFIG, env, "search", "K1", "--limit", "1")
    assert limited.stdout.count("  story ") == 1 and other.id in limited.stdout
