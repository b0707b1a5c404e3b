"""What a gloss adds to an alert, with a loopback LibreTranslate-compatible stub as the engine.

The stub (in this file) answers at once, so the figures are newsmon's own cost around an engine: the
request and its JSON, the Redis cache, the batch per source language. Per alert of one Arabic headline
and three snippets (`gloss_snippets: true`): a cold gloss (cache empty: one engine call), and a warm one
(every text from the cache). Medians of `--runs` runs of `--alerts` alerts each, with their spread.
Also: `dress` with no gloss configured (what a desk without one pays).

    python bench/gloss_bench.py [--runs 5] [--alerts 200]

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchredis import bench_redis
from bench.machine import describe, spread
from newsmon.alerts import translate
from newsmon.models import StoryAlert, TopicMatch
from newsmon.settings import Desk
from newsmon.settings.pipeline import TranslateSettings


class _Stub(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        data = json.dumps({"translatedText": [f"[en] {t}" for t in body["q"]]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def alert(n: int) -> StoryAlert:
    sentence = "وصلت تعزيزات لقوات التحالف الدولي إلى قاعدة كيه-1 غرب كركوك صباح اليوم بحسب مصادر أمنية"
    return StoryAlert(story_id=f"s{n}", cluster_id=f"s{n}", title=f"قوات التحالف تصل إلى قاعدة كيه-1 رقم {n}",
                      url=f"https://bench.example/{n}", outlet="Bench", language="ar", published=None,
                      snippets=[f"{sentence} ({n}, {i})" for i in range(3)],
                      topics=[TopicMatch(topic="k1_base", name="K-1 air base", hits=[])])


def per_alert_ms(conn: Any, settings: TranslateSettings, desk: Desk, alerts: list[StoryAlert]) -> float:
    started = time.perf_counter()
    for item in alerts:
        translate.dress(settings, conn, desk, [item])
    return (time.perf_counter() - started) / len(alerts) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=200)
    args = parser.parse_args()
    print(describe())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = TranslateSettings(backend="libretranslate", url=f"http://127.0.0.1:{server.server_address[1]}")
    glossing = Desk(channels=["c"], topics=["*"], gloss="en", gloss_snippets=True)
    plain = Desk(channels=["c"], topics=["*"])
    with tempfile.TemporaryDirectory() as work:
        conn, _url, embedded = bench_redis(Path(work))
        try:
            cold, warm, none = [], [], []
            for run in range(args.runs):
                alerts = [alert(run * args.alerts + n) for n in range(args.alerts)]
                cold.append(per_alert_ms(conn, settings, glossing, alerts))
                warm.append(per_alert_ms(conn, settings, glossing, alerts))
                none.append(per_alert_ms(conn, settings, plain, alerts))
        finally:
            if embedded is not None:
                embedded.stop(save=False)
            server.shutdown()
    print(f"{args.alerts} alerts a run, each an Arabic headline and 3 snippets glossed into English")
    print(f"cold (one engine call, cache empty): {spread(cold, 2)} ms per alert")
    print(f"warm (every text from the cache):    {spread(warm, 2)} ms per alert")
    print(f"no gloss configured:                 {spread(none, 3)} ms per alert")
    print(f"(median of {args.runs} runs, min–max; the stub engine answers at once)")


if __name__ == "__main__":
    main()
