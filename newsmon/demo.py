"""`newsmon demo`: the real pipeline against the bundled replay site, with no internet, then exit."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import yaml
from rq import Queue
from rq.registry import StartedJobRegistry

from newsmon import keys
from newsmon.redis_conn import embedded_url, start_embedded
from newsmon.replay import ReplaySite
from newsmon.settings import KEYWORDS_FILE, load_config
from newsmon.supervisor import Supervisor, child_env

log = logging.getLogger(__name__)

DEADLINE = 55.0
SETTLE = 1.5


def write_demo_config(directory: Path, base_url: str, site: ReplaySite, keywords_from: Path,
                      outbox: Path, console: bool) -> None:
    """Config files whose sources point at the replay site, with the shipped keywords."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = []
    for feed in site.feeds.values():
        source_id = "demo-" + feed.path.strip("/").split("/")[0] + "-" + feed.language
        sources.append({
            "id": source_id, "name": feed.title, "outlet": feed.outlet, "language": feed.language,
            "kind": "feed", "url": base_url + feed.path, "interval": 60, "jitter": 0,
        })
    channels: dict[str, Any] = {"outbox": {"type": "outbox", "path": str(outbox)}}
    if console:
        channels["console"] = {"type": "console"}
    alerts = {
        "channels": channels,
        "routes": [{"id": "demo-desk", "topics": ["*"], "channels": list(channels)}],
        "retry": {"max": 3, "intervals": [1, 2, 5]},
    }
    (directory / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True))
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


def run_demo(keywords_dir: Path, as_json: bool, log_level: str = "WARNING") -> int:
    """Run the demo; prints the delivered alerts and returns the exit code."""
    started = time.monotonic()
    site = ReplaySite.demo()
    base_url = site.start()
    with tempfile.TemporaryDirectory(prefix="newsmon-demo-") as tmp:
        work = Path(tmp)
        outbox = work / "outbox.jsonl"
        config_dir = work / "config"
        write_demo_config(config_dir, base_url, site, keywords_dir, outbox, console=not as_json)
        config = load_config(config_dir)
        server = start_embedded(work / "redis")
        env = child_env(embedded_url(server), {"NEWSMON_DATA_DIR": str(work / "data")})
        supervisor = Supervisor(config_dir, env, workers=1, log_level=log_level,
                                stdout=subprocess.DEVNULL if as_json else None)
        supervisor.start()
        source_ids = [s.id for s in config.enabled_sources()]
        finished = False
        try:
            idle_since = None
            while time.monotonic() - started < DEADLINE:
                supervisor.check()
                if pipeline_idle(server, source_ids):
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= SETTLE:
                        finished = True
                        break
                else:
                    idle_since = None
                time.sleep(0.2)
        finally:
            supervisor.stop()
            site.stop()
        alerts = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()] if outbox.exists() else []
        stories = server.hlen  # keep the embedded server alive until here
        del stories
        server.shutdown(nosave=True)
    elapsed = time.monotonic() - started
    if as_json:
        for alert in alerts:
            print(json.dumps(alert, ensure_ascii=False))
    else:
        _print_summary(alerts, elapsed)
    if not finished:
        log.error("demo did not finish within %.0f s", DEADLINE)
        return 1
    return 0 if alerts else 1


def _print_summary(alerts: list[dict[str, Any]], elapsed: float) -> None:
    print(f"newsmon demo: {len(alerts)} alert(s) delivered in {elapsed:.1f} s\n")
    for alert in alerts:
        words = "; ".join(f"{topic}: {', '.join(w)}" for topic, w in alert["matches"].items())
        print(f"* [{alert['outlet']} / {alert['language']}] {alert['title']}")
        print(f"  topics: {', '.join(alert['topics'])}")
        print(f"  matched: {words}")
        print(f"  {alert['url']}\n")
