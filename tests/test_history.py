"""History for the operator's tools from day one: `newsmon import --jsonl` archives stories with dedupe
and topics and alerts nothing; `keywords suggest` then finds a planted spelling and no common word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from newsmon import keys
from tests.conftest import write_config

SOURCE = {"id": "s1", "name": "S", "outlet": "Kurdistan24", "language": "en", "kind": "feed",
          "url": "http://127.0.0.1:9/feed"}
PLANT = "Daeish"  # one letter from the alias Daesh


def newsmon(config_dir: Path, env: dict[str, str], *args: str, stdin: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), *args],
                          env={**os.environ, **env}, input=stdin, capture_output=True, text=True,
                          timeout=300, check=False)


def history() -> list[dict]:
    """100 stories: most of them everyday news full of `day` and `has` (one letter from Daesh, or its
    start), some about ISIS under its aliases, four with the planted spelling beside nothing else."""
    lines = []

    def unique(n: int) -> str:  # words of its own, so that no two stories are near copies
        return " ".join(f"w{n}x{i}" for i in range(30))

    for n in range(84):
        lines.append({"url": f"https://news.example/en/{n}", "language": "en", "outlet": "Iraqi News",
                      "title": f"Ministry update number {n}",
                      "text": f"The ministry has said on the {n}th day of the month that the day went well. "
                              f"It has announced a budget for the day after, officials said. {unique(n)}"})
    for n in range(12):
        lines.append({"url": f"https://news.example/en/isis/{n}", "language": "en", "outlet": "Rudaw",
                      "title": f"Daesh attack number {n}",
                      "text": f"Daesh fighters attacked a checkpoint near Kirkuk; ISIS claimed it. "
                              f"{unique(100 + n)}",
                      "published": "2017-03-01T08:00:00+03:00"})
    for n in range(4):
        lines.append({"url": f"https://news.example/en/plant/{n}", "language": "en", "outlet": "Shafaq",
                      "title": f"{PLANT} fighters strike village {n}",
                      "text": f"{PLANT} fighters attacked a village in the desert west of Kirkuk overnight. "
                              f"{unique(200 + n)}"})
    return lines


def test_import_archives_history_without_alerts_and_suggest_finds_the_planted_spelling(
        tmp_path: Path, redis_conn: redis.Redis, redis_url: str) -> None:
    outbox = tmp_path / "outbox.jsonl"
    alerts = {"channels": {"box": {"type": "outbox", "path": str(outbox)}},
              "routes": [{"id": "desk", "topics": ["*"], "channels": ["box"]}], "first_poll_max_age_hours": 0}
    config_dir = write_config(tmp_path / "config", [SOURCE], alerts)
    env = {"REDIS_URL": redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    records = history()
    bad = ['{"url": "https://news.example/x"}', "not json", "[1, 2]"]
    imported = newsmon(config_dir, env, "import", "--jsonl", "-",
                       stdin="\n".join([*(json.dumps(r) for r in records), *bad]) + "\n")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "100 new" in imported.stdout and "3 unusable" in imported.stdout, imported.stdout
    assert "nothing was alerted" in imported.stdout
    assert "line 101: skipped: title, text missing or not text" in imported.stdout
    assert not outbox.exists() and redis_conn.llen(keys.ALERTS_QUEUE) == 0
    assert not redis_conn.keys("rq:queue:alerts")  # no alert job at all
    again = newsmon(config_dir, env, "import", "--jsonl", "-", stdin=json.dumps(records[0]) + "\n")
    assert "0 new" in again.stdout and "1 already archived" in again.stdout, again.stdout

    # the 2017 stories are in the window: it counts when newsmon archived a story, not its date
    found = newsmon(config_dir, env, "keywords", "suggest", "--topic", "isis", "--json")
    assert found.returncode == 0, found.stderr
    candidates = [json.loads(line)["candidate"] for line in found.stdout.splitlines()]
    assert PLANT in candidates, found.stdout
    assert not {"day", "has", "Day", "Has"} & set(candidates), candidates
    explained = newsmon(config_dir, env, "explain", "https://news.example/en/isis/0")
    assert "not alerted: history taken by `newsmon import`" in explained.stdout, explained.stdout
