"""Scale-out: each stage alone with more processes against one Redis.

- process stage: N stories (mixed languages, 5 % mentioning a watched topic, 10 % near copies of an
  earlier story) enqueued beforehand as the crawler enqueues them (jobs of a poll's stories, up to
  `keys.PROCESS_BATCH`), then 1, 2 and 4 worker processes; stories/s from the first job started to the
  last finished (RQ's own job timestamps), and the workers' CPU ms per story. One more row runs
  jobs of one story each with 1 worker: what batching saves.
- crawl stage: 1 and 2 crawler processes (no workers) polling S sources of the bench site (60-150 KB
  pages, served by a process of its own) until every article is enqueued; articles/s and CPU ms per
  article, next to trafilatura's fast path alone on the same pages in one process (the floor a crawler
  cannot go under).

Each figure is the median of --runs runs with min–max. Workers are held (RQ's suspension) until all
have registered, crawlers until each is polling Redis, so no row measures start-up.

    python bench/scale_out.py [--stories 2000] [--articles 1000] [--sources 25] [--runs 3]

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis; the archive is SQLite, or
DATABASE_URL when set (its `stories` and `clusters` tables are emptied!).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchredis import bench_redis
from bench.machine import describe, spread
from bench.pipeline import (
    ALPHABETS,
    MENTION,
    BenchSite,
    Roles,
    SiteProcess,
    crawler_ready,
    story_text,
    write_config,
)
from newsmon import keys, stats
from newsmon.app.replay import Article
from newsmon.models import PollRequest, Story, story_id_for


def make_stories(count: int, seed: int) -> list[dict]:
    """Stories as the crawler hands them on: 5 % mention a topic, 10 % are near copies of an earlier one."""
    rng = random.Random(seed)
    out: list[dict] = []
    for n in range(count):
        language = list(ALPHABETS)[n % 4]
        url = f"https://outlet{n % 25}.example/{seed}/story/{n}"
        if out and rng.random() < 0.10:
            original = rng.choice(out)
            text, language = original["text"] + " " + MENTION[original["language"]], original["language"]
        else:
            text = "\n".join(story_text(rng, language, rng.random() < 0.05))
        out.append(
            Story(
                id=story_id_for(url),
                source_id=f"s{n % 25}",
                outlet=f"Outlet {n % 25}",
                language=language,
                url=url,
                canonical_url=url,
                title=f"story {seed}-{n}",
                text=text,
                published=datetime.now(UTC),
            ).model_dump(mode="json")
        )
    return out


def _reset_archive(url: str) -> None:
    from sqlalchemy import delete

    from newsmon.workers.archive import clusters, open_engine, stories

    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(delete(stories))
        conn.execute(delete(clusters))
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DELETE FROM stories_fts")
    engine.dispose()


def process_stage(
    conn: redis.Redis, redis_url: str, work: Path, workers: int, batch: int, stories: list[dict], run: int
) -> tuple[float, float]:
    """(stories/s, worker CPU ms per story) for `workers` processes on pre-enqueued stories."""
    from rq import Queue, Worker
    from rq.job import Job
    from rq.registry import FinishedJobRegistry
    from rq.suspension import resume, suspend

    from newsmon.serializer import JobSerializer

    conn.flushdb()
    data_dir = work / f"process-{workers}-{batch}-{run}"
    data_dir.mkdir()
    archive_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'archive.sqlite'}"
    _reset_archive(archive_url)  # migrated (and empty) before the clock starts
    config_dir = write_config(work / f"config-{workers}-{batch}-{run}", "http://127.0.0.1:9", "s", 25, 3600,
                              {"channels": {"log": {"type": "console"}},
                               "desks": {"desk": {"topics": ["*"], "channels": ["log"]}}})
    queue = Queue(keys.PROCESS_QUEUE, connection=conn, serializer=JobSerializer)
    ids = []
    for start in range(0, len(stories), batch):
        chunk = stories[start:start + batch]
        job = queue.enqueue(keys.PROCESS_BATCH_JOB, chunk, result_ttl=3600) if batch > 1 else \
            queue.enqueue(keys.PROCESS_STORY_JOB, chunk[0], result_ttl=3600)
        ids.append(job.id)
    suspend(conn)
    roles = Roles(config_dir, redis_url, data_dir, env={"DATABASE_URL": archive_url})
    for n in range(workers):
        roles.start(f"worker-{n + 1}", "worker", "--queues", keys.PROCESS_QUEUE)
    deadline = time.monotonic() + 120
    while len(Worker.all(connection=conn)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not register within 120 s")
        time.sleep(0.1)
    before = roles.cpu_seconds()
    resume(conn)
    registry = FinishedJobRegistry(queue=queue)
    deadline = time.monotonic() + 1800
    while registry.count < len(ids) and time.monotonic() < deadline:
        if queue.failed_job_registry.count:
            raise RuntimeError(f"a process job failed: see {data_dir}")
        time.sleep(0.2)
    after = roles.cpu_seconds()
    roles.stop()
    jobs = [j for j in Job.fetch_many(ids, connection=conn, serializer=JobSerializer) if j is not None]
    span = max(j.ended_at for j in jobs) - min(j.started_at for j in jobs)
    cpu = sum(after[n] - before.get(n, 0) for n in after)
    return len(stories) / span.total_seconds(), cpu * 1000 / len(stories)


def crawl_stage(conn: redis.Redis, redis_url: str, work: Path, crawlers: int, sources: int, articles: int,
                run: int) -> tuple[float, float]:
    """(articles/s, crawler CPU ms per article) for `crawlers` processes, nothing downstream."""
    conn.flushdb()
    per_source = articles // sources
    prefix = f"crawl{crawlers}r{run}x"
    site = SiteProcess(prefix, 1000 + run, sources, per_source)
    config_dir = write_config(
        work / f"{prefix}-config", site.base, prefix, sources, 3600, {"channels": {}, "routes": []}
    )
    data_dir = work / f"{prefix}-data"
    data_dir.mkdir()
    roles = Roles(config_dir, redis_url, data_dir)
    for n in range(crawlers):
        roles.start(f"crawler-{n + 1}", "crawler")
    deadline = time.monotonic() + 120
    while not crawler_ready(conn, crawlers):
        if time.monotonic() > deadline:
            raise RuntimeError("crawlers did not start polling Redis within 120 s")
        time.sleep(0.1)
    before = roles.cpu_seconds()
    started = time.perf_counter()
    for s in range(sources):
        conn.rpush(
            keys.poll_requests("feed"),
            PollRequest(
                source_id=f"{prefix}{s}", poll_id=f"p{s}", lock_token="bench", requested_at=datetime.now(UTC)
            ).model_dump_json(),
        )
    expected = per_source * sources
    deadline = time.perf_counter() + 900
    while (
        stats.total(conn, f"queue:{keys.PROCESS_QUEUE}:in", 60) < expected and time.perf_counter() < deadline
    ):
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    after = roles.cpu_seconds()
    done = stats.total(conn, f"queue:{keys.PROCESS_QUEUE}:in", 60)
    roles.stop()
    site.stop()
    return done / elapsed, sum(after[n] - before.get(n, 0) for n in after) * 1000 / max(done, 1)


def fast_path_alone(count: int) -> float:
    """CPU ms per page of trafilatura's fast path alone (html string in, text out) on bench pages."""
    import trafilatura

    rng = random.Random(5)
    pages = []
    for n in range(count):
        language = list(ALPHABETS)[n % 4]
        article = Article(
            path=f"/fast{n}/story/{n}",
            title=f"story {n}",
            paragraphs=story_text(rng, language, False),
            language=language,
            outlet="Outlet",
            published=datetime.now(UTC),
        )
        pages.append(BenchSite.render_article(article, "http://127.0.0.1:1").decode())
    started = time.process_time()
    for page in pages:
        trafilatura.extract(page, fast=True)
    return (time.process_time() - started) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--sources", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsmon-scale-"))
    conn, url, server = bench_redis(work)
    print(describe())
    archive = "PostgreSQL (DATABASE_URL)" if os.environ.get("DATABASE_URL") else "SQLite"
    rows: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for run in range(args.runs):
        stories = make_stories(args.stories, seed=run)
        for workers, batch in (
            (1, keys.PROCESS_BATCH),
            (2, keys.PROCESS_BATCH),
            (4, keys.PROCESS_BATCH),
            (1, 1),
        ):
            rows.setdefault((workers, batch), []).append(
                process_stage(conn, url, work, workers, batch, stories, run)
            )
        print(
            f"  run {run + 1}: " + ", ".join(f"{w}w/{b} {v[-1][0]:.0f}/s" for (w, b), v in rows.items()),
            flush=True,
        )
    print(
        f"\nprocess stage: {args.stories} stories pre-enqueued, {archive} archive, median of "
        f"{args.runs} runs (min–max)"
    )
    print(f"  {'workers':<34} {'stories/s':>22} {'CPU ms/story':>20} {'vs 1 worker':>12}")
    one = statistics.median(r[0] for r in rows[(1, keys.PROCESS_BATCH)])
    for (workers, batch), values in rows.items():
        jobs = f"a poll (<= {batch})" if batch > 1 else "1 story"
        label = f"{workers} worker{'s' if workers > 1 else ''}, jobs of {jobs}"
        rate = statistics.median(r[0] for r in values)
        print(
            f"  {label:<34} {spread([r[0] for r in values], 0):>22} {spread([r[1] for r in values], 2):>20} "
            f"{rate / one:>11.2f}x"
        )
    crawl: dict[int, list[tuple[float, float]]] = {}
    for run in range(args.runs):
        for crawlers in (1, 2):
            crawl.setdefault(crawlers, []).append(
                crawl_stage(conn, url, work, crawlers, args.sources, args.articles, run)
            )
        print(
            f"  run {run + 1}: " + ", ".join(f"{c} crawler(s) {v[-1][0]:.1f}/s" for c, v in crawl.items()),
            flush=True,
        )
    floor = [fast_path_alone(200) for _ in range(args.runs)]
    print(
        f"\ncrawl stage: {args.articles} new articles (60-150 KB pages) over {args.sources} sources, nothing "
        f"downstream, median of {args.runs} runs (min–max)"
    )
    print(f"  {'crawlers':<34} {'articles/s':>22} {'CPU ms/article':>20} {'vs 1 crawler':>12}")
    one = statistics.median(r[0] for r in crawl[1])
    for crawlers, values in crawl.items():
        rate = statistics.median(r[0] for r in values)
        print(
            f"  {str(crawlers) + ' crawler' + ('s' if crawlers > 1 else ''):<34} "
            f"{spread([r[0] for r in values]):>22} "
            f"{spread([r[1] for r in values], 2):>20} {rate / one:>11.2f}x"
        )
    print(f"  {'trafilatura fast path alone':<34} {'':>22} {spread(floor, 2):>20}")
    if server is not None:
        server.stop(save=False)


if __name__ == "__main__":
    main()
