"""The whole pipeline under load: throughput against two baselines, CPU per article, idle cost,
alert latency, memory.

Every contestant reads the same kind of local replay site (outlet-like pages of 60-150 KB on the fly,
mixed Arabic, Sorani, Kurmanji and English), served by a process of its own, so no contestant shares
an interpreter with the site:

- newsmon: the real roles (two crawlers, two workers; separate processes) against a real Redis, doing
  fetch, extract, dedupe, tag and archive for a burst of N new articles across S sources;
- "8 threads": feedparser + a thread pool of 8 + trafilatura's default extraction, nothing else;
- "careful": feedparser + a process per core + trafilatura's fast path, nothing else (what a careful
  user writes to extract articles as fast as the machine allows);

alternating newsmon, 8 threads, careful, for --runs rounds; each figure is the median with min–max.
CPU per article is the user+system time of each contestant's processes (newsmon: per role) over the
articles it archived. Then:

- idle cost: `bench/poll_cost.py` for 1,000 sources (304 and same-body polls), as % of one core at a
  5-minute interval;
- latency: from an item appearing in a feed to its alert at a local webhook receiver, p50 and p95
  over L items published at random moments, with a 60 s poll interval (one run);
- peak memory (RSS) of each role.

    python bench/pipeline.py [--sources 50] [--articles 2000] [--runs 3] [--latency-items 200]
                             [--skip-latency]
    python bench/pipeline.py --profile DIR [--articles 2000]   # where each role's milliseconds go (py-spy)

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import atexit
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
from bench.machine import describe, spread
from newsmon import keys
from newsmon.app.replay import Article, Feed, ReplaySite
from newsmon.models import PollRequest

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
        script = (
            "<script>var config = {" + ",".join(f'"k{i}": "{"x" * 40}"' for i in range(50)) + "};</script>"
        )
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


_STARTED: list = []  # role groups and sites still running; stopped at exit, even when a run fails


@atexit.register
def _stop_started() -> None:
    for started in reversed(_STARTED):
        started.stop()


class Roles:
    """Role processes with peak-RSS sampling."""

    def __init__(
        self, config_dir: Path, redis_url: str, data_dir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.config_dir, self.redis_url, self.data_dir = config_dir, redis_url, data_dir
        self.env = env or {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()
        _STARTED.append(self)

    def start(self, name: str, *args: str) -> None:
        env = dict(os.environ, REDIS_URL=self.redis_url, NEWSMON_DATA_DIR=str(self.data_dir), **self.env)
        log = open(self.data_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "newsmon",
                "--log-level",
                "WARNING",
                "--config-dir",
                str(self.config_dir),
                *args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, process in list(self.processes.items()):
                try:
                    rss = psutil.Process(process.pid).memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak.get(name, 0), rss)
            time.sleep(0.2)

    def cpu_seconds(self) -> dict[str, float]:
        """User+system CPU seconds of each role so far (children included)."""
        out = {}
        for name, process in self.processes.items():
            try:
                proc = psutil.Process(process.pid)
                times = proc.cpu_times()
                total = times.user + times.system
                for child in proc.children(recursive=True):
                    child_times = child.cpu_times()
                    total += child_times.user + child_times.system
            except psutil.Error:
                continue
            out[name] = total
        return out

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


class SiteProcess:
    """The bench site served by a process of its own (nothing of a contestant's shares its interpreter)."""

    def __init__(self, prefix: str, seed: int, sources: int, per_source: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-site", prefix, str(seed), str(sources), str(per_source)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        _STARTED.append(self)
        self.base = self.process.stdout.readline().strip()  # the site prints its URL when it listens

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()  # the site stops when its stdin closes
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def serve_site(prefix: str, seed: int, sources: int, per_source: int) -> None:
    site = build_site(sources, per_source, prefix, seed)
    print(site.start(), flush=True)
    sys.stdin.read()
    site.stop()


def throughput(args: argparse.Namespace, conn: redis.Redis, redis_url: str, work: Path,
               round_no: int, profile: Path | None = None) -> tuple[float, dict[str, float], dict]:
    """newsmon's articles/s for one burst, its CPU ms per article per role group, and peak RSS.

    With `profile`, py-spy samples every role during the burst and the summaries are printed.
    """
    per_source = args.articles // args.sources
    prefix = f"burst{round_no}x"
    site = SiteProcess(prefix, 10 + round_no, args.sources, per_source)
    config_dir = write_config(work / f"{prefix}-config", site.base, prefix, args.sources, 3600,
                              {"channels": {}, "routes": []})
    data_dir = work / f"{prefix}-data"
    data_dir.mkdir()
    from newsmon.workers.archive import open_engine

    open_engine(f"sqlite:///{data_dir / 'archive.sqlite'}").dispose()  # migrated before the clock starts
    roles = Roles(config_dir, redis_url, data_dir)
    for name in ("crawler-1", "crawler-2"):
        roles.start(name, "crawler")
    for name in ("worker-1", "worker-2"):
        roles.start(name, "worker", "--queues", "process")
    wait_ready(conn, data_dir, workers=2, crawlers=2)
    recorders = {}
    if profile is not None:
        from bench.profile import Recorder

        profile.mkdir(parents=True, exist_ok=True)
        recorders = {
            name: Recorder(process.pid, profile / f"{name}.txt") for name, process in roles.processes.items()
        }
    before = roles.cpu_seconds()
    started = time.perf_counter()
    for s in range(args.sources):
        conn.rpush(keys.poll_requests("feed"), PollRequest(source_id=f"{prefix}{s}", poll_id=f"p{s}",
                                                          lock_token="bench",
                                                          requested_at=datetime.now(UTC)).model_dump_json())
    expected = per_source * args.sources
    deadline = time.perf_counter() + 900
    while archived(data_dir) < expected and time.perf_counter() < deadline:
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    after = roles.cpu_seconds()
    done = archived(data_dir)
    for recorder in recorders.values():
        recorder.stop()
    roles.stop()
    site.stop()
    cpu = {
        group: sum(after.get(n, 0) - before.get(n, 0) for n in after if n.startswith(group))
        * 1000
        / max(done, 1)
        for group in ("crawler", "worker")
    }
    if profile is not None:
        from bench.profile import load, summarise

        print(
            f"\nprofile of an extra burst ({done} articles in {elapsed:.1f} s, {done / elapsed:.1f}/s "
            "under py-spy; "
            f"measured CPU ms/article: crawlers {cpu['crawler']:.1f}, workers {cpu['worker']:.1f}); "
            f"files in {profile}"
        )
        for group in ("crawler", "worker"):
            print(f"{group}s:")
            print(
                "\n".join(
                    summarise(
                        load([r.output for n, r in recorders.items() if n.startswith(group)]),
                        done,
                        cpu_ms=cpu[group],
                    )
                )
            )
    return done / elapsed, cpu, roles.peak


def crawler_ready(conn: redis.Redis, crawlers: int) -> bool:
    """Each crawler process beats its own key (newsmon:crawler:<identity>:alive) and, once its spiders
    run, polls Redis for poll requests (LPOP). Connections are told apart by their client id: over a
    unix socket every client has the same address."""
    alive = sum(1 for _ in conn.scan_iter(keys.crawler_alive("*"), count=1000))
    polling = {c["id"] for c in conn.client_list() if c.get("cmd") == "lpop"}
    return alive >= crawlers and len(polling) >= crawlers


def wait_ready(conn: redis.Redis, data_dir: Path, workers: int, crawlers: int) -> None:
    """Readiness, not a sleep: the workers registered in Redis, the crawlers polling it, the archive
    migrated."""
    from rq import Worker

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (len(Worker.all(connection=conn)) >= workers and crawler_ready(conn, crawlers)
                and (data_dir / "archive.sqlite").exists()):
            return
        time.sleep(0.1)
    raise RuntimeError("roles did not start within 120 s")


def baseline(kind: str, base: str, args: argparse.Namespace, prefix: str) -> tuple[float, float]:
    """A baseline script's articles/s and CPU ms per article, in a fresh process of its own."""
    result = subprocess.run([sys.executable, __file__, "--baseline", kind, "--site", base, "--prefix", prefix,
                             "--sources", str(args.sources)], capture_output=True, text=True, timeout=1800,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} baseline failed: {result.stderr.strip()[-500:]}")
    data = json.loads(result.stdout)
    return data["rate"], data["cpu_ms"]


def _fetch(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _careful_article(url: str) -> bool:
    import trafilatura

    html = _fetch(url)
    return bool(trafilatura.extract(html, url=url, fast=True))


def _threads_article(url: str) -> bool:
    import trafilatura

    return bool(trafilatura.extract(_fetch(url).decode("utf-8", "replace"), url=url))


def run_baseline(kind: str, base: str, prefix: str, sources: int) -> dict[str, float]:
    """The 8-thread script or the careful script over the site at `base` (this process is the script)."""
    import resource
    from concurrent.futures import ProcessPoolExecutor

    import feedparser

    started = time.perf_counter()
    links = []
    for s in range(sources):
        links += [e.link for e in feedparser.parse(_fetch(f"{base}/{prefix}{s}/rss")).entries]
    if kind == "careful":
        with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
            done = sum(pool.map(_careful_article, links, chunksize=4))
    else:
        with ThreadPoolExecutor(8) as pool:
            done = sum(pool.map(_threads_article, links))
    elapsed = time.perf_counter() - started
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return {"rate": done / elapsed, "cpu_ms": cpu * 1000 / max(done, 1)}


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
    alerts = {
        "channels": {"hook": {"type": "apprise", "url": hook}},
        "desks": {"desk": {"topics": ["*"], "channels": ["hook"]}},
        "retry": {"max": 3, "intervals": [1]},
    }
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
        site.publish(
            f"/live{s}/rss",
            Article(
                path=f"/live{s}/story/{n}",
                title=f"K-1 {name}",
                paragraphs=[MENTION[language]] + story_text(rng, language, False),
                language=language,
                outlet=f"Live {s}",
                published=datetime.now(UTC),
            ),
        )
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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-items", type=int, default=200)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="instead of the benchmark: one burst with py-spy on every role, summarised (files in DIR)",
    )
    parser.add_argument("--serve-site", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", choices=["threads", "careful"], help=argparse.SUPPRESS)
    parser.add_argument("--site", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_site:
        prefix, seed, sources, per_source = args.serve_site
        serve_site(prefix, int(seed), int(sources), int(per_source))
        return
    if args.baseline:
        print(json.dumps(run_baseline(args.baseline, args.site, args.prefix, args.sources)))
        return
    work = Path(tempfile.mkdtemp(prefix="newsmon-pipeline-"))
    conn, url, server = bench_redis(work)
    print(describe())
    if args.profile:
        from bench.profile import py_spy

        py_spy()  # refuse before any role starts
        throughput(args, conn, url, work, 0, profile=args.profile)
        if server is not None:
            server.stop(save=False)
        return
    rates: dict[str, list[float]] = {"newsmon": [], "threads": [], "careful": []}
    cpus: dict[str, list[float]] = {
        "newsmon crawlers": [],
        "newsmon workers": [],
        "threads": [],
        "careful": [],
    }
    peaks: dict = {}
    per_source = args.articles // args.sources
    for round_no in range(args.runs):
        conn.flushdb()
        rate, cpu, peaks = throughput(args, conn, url, work, round_no)
        rates["newsmon"].append(rate)
        cpus["newsmon crawlers"].append(cpu["crawler"])
        cpus["newsmon workers"].append(cpu["worker"])
        for kind in ("threads", "careful"):
            prefix = f"{kind}{round_no}x"
            site = SiteProcess(prefix, 100 + round_no, args.sources, per_source)
            try:
                rate, cpu_ms = baseline(kind, site.base, args, prefix)
            finally:
                site.stop()
            rates[kind].append(rate)
            cpus[kind].append(cpu_ms)
        print(
            f"  round {round_no + 1}: newsmon {rates['newsmon'][-1]:.1f}, 8 threads "
            f"{rates['threads'][-1]:.1f}, "
            f"careful {rates['careful'][-1]:.1f} articles/s",
            flush=True,
        )
    median = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"\nthroughput, burst of {args.articles} new articles (60-150 KB pages) across {args.sources} "
        "sources, "
        f"median of {args.runs} runs (min–max)"
    )
    print(f"  {'contestant':<62} {'articles/s':>22} {'CPU ms/article':>22}")
    newsmon_cpu = [c + w for c, w in zip(cpus["newsmon crawlers"], cpus["newsmon workers"])]
    print(f"  {'newsmon: 2 crawlers + 2 workers (fetch, extract, dedupe, tag, archive)':<62} "
          f"{spread(rates['newsmon']):>22} {spread(newsmon_cpu):>22}")
    print(f"  {'    of which the crawlers':<62} {'':>22} {spread(cpus['newsmon crawlers']):>22}")
    print(f"  {'    of which the workers':<62} {'':>22} {spread(cpus['newsmon workers']):>22}")
    print(
        f"  {'8 threads: feedparser + 8 threads + trafilatura (default)':<62} {spread(rates['threads']):>22} "
        f"{spread(cpus['threads']):>22}"
    )
    print(
        f"  {'careful: feedparser + a process per core + trafilatura fast':<62} "
        f"{spread(rates['careful']):>22} "
        f"{spread(cpus['careful']):>22}"
    )
    print(f"  ratio newsmon / careful: {median['newsmon'] / median['careful']:.2f}x; "
          f"newsmon / 8 threads: {median['newsmon'] / median['threads']:.2f}x")
    print(
        "  peak RSS of newsmon's roles, last round (MiB): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(peaks.items()))
    )
    idle = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "poll_cost.py"),
            "--feeds",
            "1000",
            "--rounds",
            "2",
            "--items",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env=dict(os.environ, NEWSMON_TEST_REDIS_URL=url),
    )
    print("\nidle cost (bench/poll_cost.py, 1,000 sources):")
    print(
        "\n".join("  " + line for line in idle.stdout.strip().splitlines() if not line.startswith("machine:"))
    )
    if not args.skip_latency:
        conn.flushdb()
        p50, p95, received, peaks = latency(args, url, work)
        print(
            "\nlatency, item in a feed -> alert at the webhook, 60 s poll interval, "
            f"{received}/{args.latency_items} "
            f"alerts (one run): p50 {p50:.1f} s, p95 {p95:.1f} s (target p95 <= 65 s)"
        )
        print("  peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(peaks.items())))
    if server is not None:
        server.stop(save=False)


if __name__ == "__main__":
    main()
