"""`newsmon demo`: the real pipeline against the bundled replay site, with no internet.

The demo keeps what it found in a data directory of its own, `demo/` under `$NEWSMON_DATA_DIR` (default
`./var/demo`: the archive with its delivery log, the embedded Redis's saved data, its config and
outbox), so the commands it prints (`NEWSMON_DATA_DIR=./var/demo newsmon explain ...`) work on it
afterwards, and it never mixes with what `newsmon run` keeps in `./var`. Each demo starts afresh in
that directory (a marker file says only demos used it).

`newsmon demo --serve` keeps the replay site and every role running and publishes a new story every
few seconds, until Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import yaml
from rq import Queue
from rq.registry import StartedJobRegistry

from newsmon import jobcontext, keys
from newsmon.app import demo_live as live
from newsmon.app.replay import Article, ReplaySite
from newsmon.app.supervisor import Supervisor, child_env
from newsmon.errors import NewsmonError
from newsmon.paths import display_path, invocation, remember_config_dir
from newsmon.redis_conn import EmbeddedRedis
from newsmon.settings import KEYWORDS_FILE, Runtime, load_config
from newsmon.urls import readable_url

log = logging.getLogger(__name__)

DEADLINE = 55.0
SETTLE = 1.5
MARKER = "DEMO"  # in the data directory: only demos have used it, so a new demo may clear it
DEMO_DIR = "demo"  # the demo's data directory, under the data directory
SERVE_EVERY = 4.0  # seconds between stories published by --serve
SERVE_INTERVAL = 5  # poll interval of the demo sources under --serve
DEMO_STALE_HOURS = 96  # the demo sources' stale_after_hours (replay.redate spreads the site over ~3 days)


def write_demo_config(directory: Path, base_url: str, site: ReplaySite, keywords_from: Path,
                      outbox: Path, console: bool, interval: int = 60, events: bool = True,
                      stale_after_hours: float | None = None) -> None:
    """Config files whose sources point at the replay site, with the shipped keywords (`events`: the demo
    desk's events setting; `stale_after_hours`: the sources', when given)."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = []
    for feed in site.feeds.values():
        source_id = "demo-" + feed.path.strip("/").split("/")[0] + "-" + feed.language
        sources.append({
            "id": source_id, "name": feed.title, "outlet": feed.outlet, "language": feed.language,
            "kind": "feed", "url": base_url + feed.path, "interval": interval, "jitter": 0,
            **({"stale_after_hours": stale_after_hours} if stale_after_hours else {}),
        })
    channels: dict[str, Any] = {"outbox": {"type": "outbox", "path": str(outbox)}}
    if console:
        channels["console"] = {"type": "console"}
    alerts = {
        "channels": channels,
        **({"routes": [{"id": "demo-desk", "topics": ["*"], "channels": list(channels)}]} if events else
           {"desks": {"demo-desk": {"topics": ["*"], "channels": list(channels), "events": False}}}),
        "retry": {"max": 3, "intervals": [1, 2, 5]},
        # the demo replays archived stories (years old) on its sources' first poll, which would otherwise be
        # held back as old news
        "first_poll_max_age_hours": 0,
    }
    shipped = keywords_from / "sources.yaml"  # the outlets' catalogue, so alerts show who runs each outlet
    outlets = (
        (yaml.safe_load(shipped.read_text(encoding="utf-8")) or {}).get("outlets", {})
        if shipped.is_file()
        else {}
    )
    (directory / "sources.yaml").write_text(yaml.safe_dump({"outlets": outlets, "sources": sources},
                                                           allow_unicode=True))
    (directory / "alerts.yaml").write_text(yaml.safe_dump(alerts, allow_unicode=True))
    shutil.copyfile(keywords_from / KEYWORDS_FILE, directory / KEYWORDS_FILE)


def pipeline_idle(conn: redis.Redis, source_ids: list[str]) -> bool:
    """Every source polled, no poll running, both queues empty and no job in progress."""
    for source_id in source_ids:
        if not conn.hget(keys.source_state(source_id), "last_poll") or conn.exists(keys.poll_lock(source_id)):
            return False
    for name in (keys.PROCESS_QUEUE, keys.ALERTS_QUEUE):
        queue = Queue(name, connection=conn)
        if queue.count or StartedJobRegistry(queue=queue).count:
            return False
    return True


def prepare_data_dir(data_dir: Path) -> None:
    """Clear an earlier demo's data; refuse a data directory that a real newsmon has used."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise NewsmonError(
                f"the data directory {display_path(data_dir)} holds a real newsmon's data; run the "
                f"demo elsewhere, for example NEWSMON_DATA_DIR=./demo-var newsmon demo"
            )
        for path in data_dir.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by `newsmon demo`; `newsmon demo` may clear this directory\n")


def run_demo(keywords_dir: Path, as_json: bool, log_level: str = "WARNING", serve: bool = False,
             runtime: Runtime | None = None) -> int:
    """Run the demo; prints the delivered alerts and returns the exit code."""
    runtime = runtime or Runtime.from_env()
    started = time.monotonic()
    data_dir = runtime.data_dir
    if runtime.redis_url or runtime.database_url:
        raise NewsmonError(
            "the demo runs on the embedded Redis and archive: unset REDIS_URL and DATABASE_URL"
        )
    data_dir = data_dir / DEMO_DIR  # the demo's own data: never mixed with what `newsmon run` keeps
    prepare_data_dir(data_dir)
    outbox = data_dir / "outbox.jsonl"
    config_dir = data_dir / "config"
    site = ReplaySite.demo(now=datetime.now(UTC))  # news of the last hours, not years-old pages
    base_url = site.start()
    server = EmbeddedRedis(data_dir).start()
    try:
        write_demo_config(config_dir, base_url, site, keywords_dir, outbox, console=not as_json,
                          interval=SERVE_INTERVAL if serve else 60,
                          # --serve's stories are made from templates: newsmon's events would rightly see
                          # two of one template as one happening told twice, so its desk takes each story
                          events=not serve,
                          # the redated site spans about three days (stories of different days stay
                          # more than a day apart): none of its feeds is stale news
                          stale_after_hours=DEMO_STALE_HOURS)
        config = load_config(config_dir)
        conn = server.connection()
        env = child_env(server.url, {"NEWSMON_DATA_DIR": str(data_dir)})
        supervisor = Supervisor(config_dir, env, workers=1, log_level=log_level,
                                stdout=subprocess.DEVNULL if as_json else None, redis_conn=conn)
        # imported here: RQ loads only for the commands that read the queues
        from newsmon.status import mark_starting

        jobcontext.publish(conn, config)
        remember_config_dir(data_dir, config_dir)
        mark_starting(conn, config, fresh=True)
        supervisor.start()
        if serve:
            return _serve(site, supervisor, config_dir, data_dir)
        source_ids = [s.id for s in config.enabled_sources()]
        finished = False
        try:
            idle_since = None
            while time.monotonic() - started < DEADLINE:
                supervisor.check()
                if pipeline_idle(conn, source_ids):
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= SETTLE:
                        finished = True
                        break
                else:
                    idle_since = None
                time.sleep(0.2)
        finally:
            supervisor.stop()
            _keep_delivery_log(conn, data_dir)
    finally:
        site.stop()
        server.stop(save=True)
    alerts = (
        [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
        if outbox.exists()
        else []
    )
    elapsed = time.monotonic() - started
    if as_json:
        for alert in alerts:
            print(json.dumps(alert, ensure_ascii=False))
    else:
        _print_summary(alerts, elapsed, data_dir)
    if not finished:
        log.error("demo did not finish within %.0f s", DEADLINE)
        return 1
    return 0 if alerts else 1


def _serve(site: ReplaySite, supervisor: Supervisor, config_dir: Path, data_dir: Path) -> int:
    """Keep everything running and publish a new story every SERVE_EVERY seconds (app/demo_live.py) until
    SIGINT/SIGTERM."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    by_language: dict[str, list[Any]] = {}
    for feed in site.feeds.values():
        by_language.setdefault(feed.language, []).append(feed)
    counts = {language: len(feeds) for language, feeds in by_language.items()}
    where = display_path(data_dir)
    command = f"NEWSMON_DATA_DIR={where} {invocation()}"
    print(f"newsmon demo --serve: replay site at {site.base_url}, data in {where}.\n"
          f"A new story every {SERVE_EVERY:.0f} s ({60 / SERVE_EVERY:.0f} a minute) in Arabic, English, "
          f"Sorani and Kurmanji: about two in three mention what the demo desk watches and alert within "
          f"about {SERVE_INTERVAL} s (the sources' poll interval); every {live.COPY_EVERY}th is a copy of "
          f"the one before on another outlet, which alerts nobody again. The stories stay new for about "
          f"{live.NEW_FOR_MINUTES} minutes; the demo desk takes each one (events: false), since stories made "
          f"from one template would be one happening to newsmon's events.\n"
          f"In another terminal, from this directory:\n"
          f"  {command} status\n  {command} web            (then open http://127.0.0.1:8470/)\n"
          f"  {command} search كركوك\nCtrl-C stops everything.", flush=True)
    published = 0
    previous: live.LiveStory | None = None
    next_story = time.monotonic() + SERVE_EVERY
    try:
        while not stop.is_set():
            supervisor.check()
            if time.monotonic() >= next_story:
                published += 1
                story = live.live_story(published, counts, previous)
                feed = by_language[story.language][story.feed_index]
                site.publish(feed.path, Article(
                    path=f"/live/{story.language}/{published}", title=story.title,
                    paragraphs=story.paragraphs, language=story.language, outlet=feed.outlet,
                    published=datetime.now(UTC)))
                log.info("published story %d to %s%s", published, feed.path,
                         f" (a copy of story {story.copy_of})" if story.copy_of else "")
                previous = story
                next_story = time.monotonic() + SERVE_EVERY
            stop.wait(0.2)
    finally:
        supervisor.stop()
        _keep_delivery_log(supervisor.redis, data_dir)
    return 0


def _keep_delivery_log(conn: Any, data_dir: Path) -> None:
    """Move the alerts' delivery log into the demo's archive before its Redis stops, so `explain` and
    `alerts sent` answer afterwards."""
    # imported here: the archive and matcher (SQLAlchemy, numpy) load only where used
    from newsmon.workers.archive import Archive, drain_delivery_log, open_engine

    archive = data_dir / "archive.sqlite"
    if conn is None or not archive.exists():
        return
    try:
        drain_delivery_log(conn, Archive(open_engine(f"sqlite:///{archive}")))
    except Exception as exc:  # noqa: BLE001 - the demo's summary is still worth printing
        log.warning("the demo's delivery log was not kept: %s", exc)


def _print_summary(alerts: list[dict[str, Any]], elapsed: float, data_dir: Path) -> None:
    print(f"newsmon demo: {len(alerts)} alert(s) delivered in {elapsed:.1f} s\n")
    for alert in alerts:
        words = "; ".join(f"{topic}: {', '.join(w)}" for topic, w in alert["matches"].items())
        print(f"* [{alert['outlet']} / {alert['language']}] {alert['title']}")
        print(f"  topics: {', '.join(alert['topics'])}")
        print(f"  matched: {words}")
        print(f"  {readable_url(alert['url'])}\n")
    where = display_path(data_dir)
    story = alerts[0].get("story_id") or alerts[0].get("id") if alerts else None
    command = f"NEWSMON_DATA_DIR={where} {invocation()}"
    print(f"What the demo found is kept in {where}, apart from what `newsmon run` keeps. Try next, from "
          f"this directory:")
    print(f"  {command} search كركوك")
    if story:
        print(f"  {command} explain {story}")
        print(f"  {command} alerts sent")
    print(f"  {invocation()} demo --serve     (keeps the demo running, with `status` and `web` to watch it)")
