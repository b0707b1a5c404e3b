"""The whole pipeline under load: throughput against a naive script, idle cost, alert latency, memory.

Runs the real roles (scheduler, two crawlers, two workers; separate processes) against a real Redis
and a local replay site that generates outlet-like pages of 60-150 KB on the fly (mixed Arabic,
Sorani, Kurmanji and English), then prints:

- throughput: new articles per second end to end (fetch, extract, dedupe, tag, archive) for a burst
  of N articles across S sources, and, in the same run, a naive script (feedparser + a thread pool of
  8 + trafilatura, nothing else) over the same kind of site;
- idle cost: `bench/poll_cost.py` for 1,000 sources (304 and same-body polls), as % of one core at a
  5-minute interval;
- latency: from an item appearing in a feed to its alert at a local webhook receiver, p50 and p95
  over L items published at random moments, with a 60 s poll interval;
- peak memory (RSS) of each role.

    python bench/pipeline.py [--sources 50] [--articles 2000] [--latency-items 200] [--skip-latency]

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchredis import bench_redis
from newsmon import keys
from newsmon.models import PollRequest
from newsmon.replay import Article, Feed, ReplaySite

ALPHABETS = {"ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوية", "ckb": "ئابپتجچحخدرڕزژسشعغفڤقکگلڵمنوۆهەیێ",
             "kmr": "abcçdeêfghiîjklmnopqrsştuûvwxyz", "en": "abcdefghijklmnopqrstuvwxyz"}
MENTION = {"ar": "سقط صاروخ على قاعدة كيه-1 غرب كركوك.", "ckb": "هێزەکانی هاوپەیمانی گەیشتنە بنکەی کەی وان.",
           "kmr": "Hêzên koalîsyonê li baregeha K-1 ne.", "en": "Rockets hit the K-1 base near Kirkuk."}


class BenchSite(ReplaySite):
    """A replay site whose article pages are padded to 60-150 KB of outlet chrome, like real pages."""

    @staticmethod
    def render_article(article: Article, base: str) -> bytes:
        page = ReplaySite.render_article(article, base).decode()
        rng = random.Random(article.path)
        size = rng.randint(60_000, 150_000)
        menu = "".join(f'<li><a href="/section/{i}">section {i}</a></li>' for i in range(200))
        chrome = f'<div class="mega-menu"><ul>{menu}</ul></div>'
        script = "<script>var config = {" + ",".join(f'"k{i}": "{"x" * 40}"' for i in range(50)) + "};</script>"
        filler = []
        total = len(page)
        while total < size:
            block = chrome if len(filler) % 2 else script
            filler.append(block)
            total += len(block)
        return page.replace("<footer>", "".join(filler) + "<footer>").encode()


def story_text(rng: random.Random, language: str, mention: bool) -> list[str]:
    words = ["".join(rng.choice(ALPHABETS[language]) for _ in range(rng.randint(3, 9))) for _ in range(500)]
    paragraphs = [" ".join(words[i:i + 60]) + "." for i in range(0, 500, 60)]
    if mention:
        paragraphs.insert(1, MENTION[language])
    return paragraphs


def build_site(sources: int, per_source: int, prefix: str, seed: int) -> BenchSite:
    site = BenchSite()
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for s in range(sources):
        language = list(ALPHABETS)[s % 4]
        feed = Feed(path=f"/{prefix}{s}/rss", title=f"Outlet {s}", language=language, outlet=f"Outlet {s}")
        for i in range(per_source):
            feed.articles.append(Article(path=f"/{prefix}{s}/story/{i}", title=f"{prefix} story {s}-{i}",
                                         paragraphs=story_text(rng, language, rng.random() < 0.05),
                                         language=language, outlet=feed.outlet, published=now))
        site.add_feed(feed)
    return site


class Roles:
    """Role processes with peak-RSS sampling."""

    def __init__(self, config_dir: Path, redis_url: str, data_dir: Path) -> None:
        self.config_dir, self.redis_url, self.data_dir = config_dir, redis_url, data_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def start(self, name: str, *args: str) -> None:
        env = dict(os.environ, REDIS_URL=self.redis_url, NEWSMON_DATA_DIR=str(self.data_dir))
        log = open(self.data_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "newsmon", "--log-level", "WARNING", "--config-dir", str(self.config_dir), *args],
            env=env, stdout=log, stderr=subprocess.STDOUT)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, process in list(self.processes.items()):
                try:
                    rss = psutil.Process(process.pid).memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak.get(name, 0), rss)
            time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self._stop.set()


def write_config(directory: Path, base: str, prefix: str, sources: int, interval: int, alerts: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    entries = [{"id": f"{prefix}{s}", "name": f"{prefix}{s}", "outlet": f"Outlet {s}",
                "language": list(ALPHABETS)[s % 4], "kind": "feed", "url": f"{base}/{prefix}{s}/rss",
                "interval": interval, "jitter": 0} for s in range(sources)]
    (directory / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    (directory / "alerts.yaml").write_text(yaml.safe_dump(alerts))
    (directory / "keywords.yaml").write_text((ROOT / "config" / "keywords.yaml").read_text())
    # every bench source lives on one local host: per-host politeness (AutoThrottle, 4 requests at a
    # time) would measure the throttle, not the pipeline, and the naive baseline has none
    crawler = {"max_polls_in_flight": 8, "concurrency_per_host": 16, "autothrottle": False}
    (directory / "newsmon.yaml").write_text(yaml.safe_dump({"crawler": crawler}))
    return directory


def archived(data_dir: Path) -> int:
    import sqlite3

    path = data_dir / "archive.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT count(*) FROM stories").fetchone()[0]
    except sqlite3.Error:
        return 0


def throughput(args: argparse.Namespace, conn: redis.Redis, redis_url: str, work: Path) -> tuple[float, dict]:
    per_source = args.articles // args.sources
    site = build_site(args.sources, per_source, "burst", 1)
    base = site.start()
    config_dir = write_config(work / "burst-config", base, "burst", args.sources, 3600, {"channels": {}, "routes": []})
    data_dir = work / "burst-data"
    data_dir.mkdir()
    roles = Roles(config_dir, redis_url, data_dir)
    for name in ("crawler-1", "crawler-2"):
        roles.start(name, "crawler")
    for name in ("worker-1", "worker-2"):
        roles.start(name, "worker", "--queues", "process")
    time.sleep(4)  # let every role import and connect before the clock starts
    started = time.perf_counter()
    for s in range(args.sources):
        conn.rpush(keys.poll_requests("feed"), PollRequest(source_id=f"burst{s}", poll_id=f"p{s}", lock_token="bench",
                                                          requested_at=datetime.now(UTC)).model_dump_json())
    expected = per_source * args.sources
    deadline = time.perf_counter() + 900
    while archived(data_dir) < expected and time.perf_counter() < deadline:
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    done = archived(data_dir)
    roles.stop()
    site.stop()
    return done / elapsed, roles.peak


def naive(args: argparse.Namespace) -> float:
    """feedparser + a thread pool of 8 + trafilatura, nothing else (run in its own process)."""
    import urllib.request

    import feedparser
    import trafilatura

    per_source = args.articles // args.sources
    site = build_site(args.sources, per_source, "naive", 2)
    base = site.start()
    started = time.perf_counter()

    def fetch(url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()

    def article(url: str) -> bool:
        return bool(trafilatura.extract(fetch(url).decode("utf-8", "replace"), url=url))

    links = []
    for s in range(args.sources):
        links += [e.link for e in feedparser.parse(fetch(f"{base}/naive{s}/rss")).entries]
    with ThreadPoolExecutor(8) as pool:
        done = sum(pool.map(article, links))
    elapsed = time.perf_counter() - started
    site.stop()
    return done / elapsed


class Receiver:
    """A webhook receiver that records when each alert arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                for token in body.get("title", "").split():
                    if token.startswith("item-"):
                        receiver.arrivals.setdefault(token, time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def latency(args: argparse.Namespace, redis_url: str, work: Path) -> tuple[float, float, int, dict]:
    sources = 50
    site = BenchSite()
    base = site.start()
    for s in range(sources):
        language = list(ALPHABETS)[s % 4]
        site.add_feed(Feed(path=f"/live{s}/rss", title=f"Live {s}", language=language, outlet=f"Live {s}"))
    receiver = Receiver()
    hook = f"json://127.0.0.1:{receiver.server.server_address[1]}/hook"
    alerts = {"channels": {"hook": {"type": "apprise", "url": hook}}, "desks": {"desk": {"topics": ["*"], "channels": ["hook"]}},
              "retry": {"max": 3, "intervals": [1]}}
    config_dir = write_config(work / "live-config", base, "live", sources, 60, alerts)
    data_dir = work / "live-data"
    data_dir.mkdir()
    roles = Roles(config_dir, redis_url, data_dir)
    roles.start("scheduler", "scheduler")
    for name in ("crawler-1", "crawler-2"):
        roles.start(name, "crawler")
    for name in ("worker-1", "worker-2"):
        roles.start(name, "worker")
    time.sleep(70)  # the first round of polls finds the empty feeds; publishing starts after it
    rng = random.Random(3)
    window = max(180, args.latency_items)  # about one item a second
    moments = sorted(rng.uniform(0, window) for _ in range(args.latency_items))
    published: dict[str, float] = {}
    start = time.time()
    for n, moment in enumerate(moments):
        time.sleep(max(0.0, start + moment - time.time()))
        s = rng.randrange(sources)
        language = list(ALPHABETS)[s % 4]
        name = f"item-{n}"
        site.publish(f"/live{s}/rss", Article(path=f"/live{s}/story/{n}", title=f"K-1 {name}",
                                              paragraphs=[MENTION[language]] + story_text(rng, language, False),
                                              language=language, outlet=f"Live {s}", published=datetime.now(UTC)))
        published[name] = time.time()
    deadline = time.time() + 150
    while len(receiver.arrivals) < len(published) and time.time() < deadline:
        time.sleep(0.5)
    roles.stop()
    site.stop()
    delays = sorted(receiver.arrivals[k] - published[k] for k in published if k in receiver.arrivals)
    p50 = statistics.median(delays) if delays else float("nan")
    p95 = delays[int(0.95 * (len(delays) - 1))] if delays else float("nan")
    return p50, p95, len(delays), roles.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--latency-items", type=int, default=200)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--naive-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_only:
        print(json.dumps({"rate": naive(args)}))
        return
    work = Path(tempfile.mkdtemp(prefix="newsmon-pipeline-"))
    conn, url, server = bench_redis(work)
    print(f"newsmon pipeline benchmark on {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"Python {sys.version.split()[0]}")
    rate, peaks = throughput(args, conn, url, work)
    conn.flushdb()
    baseline = subprocess.run([sys.executable, __file__, "--naive-only", "--sources", str(args.sources),
                               "--articles", str(args.articles)], capture_output=True, text=True, timeout=1800, check=False)
    naive_rate = json.loads(baseline.stdout)["rate"] if baseline.returncode == 0 else None
    print(f"\nthroughput, burst of {args.articles} new articles (60-150 KB pages) across {args.sources} sources")
    print(f"  newsmon (2 crawlers + 2 workers, fetch+extract+dedupe+tag+archive): {rate:6.1f} articles/s")
    if naive_rate:
        print(f"  naive script (feedparser + 8 threads + trafilatura):              {naive_rate:6.1f} articles/s")
        print(f"  ratio newsmon / naive: {rate / naive_rate:.2f}x")
    else:
        print(f"  naive script failed (exit {baseline.returncode}): {baseline.stderr.strip().splitlines()[-1:]}")
    print("  peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(peaks.items())))
    idle = subprocess.run([sys.executable, str(ROOT / "bench" / "poll_cost.py"), "--feeds", "1000", "--rounds", "2",
                           "--items", "1"], capture_output=True, text=True, timeout=1800, check=False,
                          env=dict(os.environ, NEWSMON_TEST_REDIS_URL=url))
    print("\nidle cost (bench/poll_cost.py, 1,000 sources):")
    print("\n".join("  " + line for line in idle.stdout.strip().splitlines()))
    if not args.skip_latency:
        conn.flushdb()
        p50, p95, received, peaks = latency(args, url, work)
        print(f"\nlatency, item in a feed -> alert at the webhook, 60 s poll interval, {received}/{args.latency_items} "
              f"alerts: p50 {p50:.1f} s, p95 {p95:.1f} s (target p95 <= 65 s)")
        print("  peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(peaks.items())))
    if server is not None:
        server.shutdown(nosave=True)


if __name__ == "__main__":
    main()
