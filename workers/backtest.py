"""Backtest: replay a candidate keywords file over the archive and report what would change.

Nothing is written and nothing is sent: the archive is only read, and each story's stored topics
(tagged by the config version of the day) are compared with what the candidate finds.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from newsmon.breaking import Detector
from newsmon.models import BreakingEvent, Sighting, as_utc
from newsmon.settings import KeywordsFile
from newsmon.workers.archive import open_engine, stories
from newsmon.workers.matcher import Matcher

BATCH = 2000


def backtest(engine: Engine, current: KeywordsFile, candidate: KeywordsFile, since: datetime | None,
             samples: int = 5, candidate_source: str = "candidate") -> dict[str, Any]:
    """Per topic: stories that would newly match, stop matching, or stay, by language and outlet."""
    started = time.perf_counter()
    matcher = Matcher(candidate, source=candidate_source)
    topics = sorted(set(current.topics) | set(candidate.topics))
    counts: dict[str, Counter[str]] = {t: Counter() for t in topics}
    by: dict[str, dict[str, Counter[str]]] = {t: defaultdict(Counter) for t in topics}
    examples: dict[str, dict[str, list[dict[str, Any]]]] = {t: defaultdict(list) for t in topics}
    total = 0
    parts = max(1, os.cpu_count() or 1)
    jobs = [
        (str(engine.url.render_as_string(hide_password=False)), since, part, parts) for part in range(parts)
    ]
    with _pool(matcher, parts, candidate_source) as pool:
        for outcomes in pool.imap_unordered(_match_part, jobs) if pool else map(_match_part, jobs):
            for story_id, title, language, outlet, url, before, after, words in outcomes:
                total += 1
                for topic in topics:
                    change = ("new" if topic in after - before else "gone" if topic in before - after
                              else "kept" if topic in before else None)
                    if change is None:
                        continue
                    counts[topic][change] += 1
                    by[topic][f"language:{language}"][change] += 1
                    by[topic][f"outlet:{outlet}"][change] += 1
                    if change != "kept" and len(examples[topic][change]) < samples:
                        examples[topic][change].append({"id": story_id, "title": title, "url": url,
                                                        "language": language, "outlet": outlet,
                                                        "matched": words.get(topic, [])})
    seconds = time.perf_counter() - started
    return {
        "stories": total,
        "seconds": round(seconds, 3),
        "stories_per_second": round(total / seconds) if seconds else 0,
        "topics": {
            t: {
                "new": counts[t]["new"],
                "gone": counts[t]["gone"],
                "kept": counts[t]["kept"],
                "by": {k: dict(v) for k, v in sorted(by[t].items())},
                "samples": {k: v for k, v in examples[t].items()},
            }
            for t in topics
        },
    }


_worker_matcher: Matcher | None = None


def _match_part(job: tuple[str, datetime | None, int, int]) -> list[tuple]:
    """Match one share of the archive (rows whose position modulo `parts` is `part`), reading it from
    the database in this process, so that no story text crosses between processes."""
    assert _worker_matcher is not None
    url, since, part, parts = job
    engine = open_engine(url)
    query = select(stories.c.id, stories.c.title, stories.c.text, stories.c.language, stories.c.outlet,
                   stories.c.url, stories.c.topics).order_by(stories.c.id)
    if since is not None:
        query = query.where(stories.c.processed >= since)  # archive time: imported history is in the window
    out = []
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(query)
        position = -1
        while rows := result.fetchmany(BATCH):
            for row in rows:
                position += 1
                if position % parts != part:
                    continue
                found = _worker_matcher.match(row.title, row.text, row.language).matches
                stored = row.topics if isinstance(row.topics, list) else json.loads(row.topics)
                out.append(
                    (
                        row.id,
                        row.title,
                        row.language,
                        row.outlet,
                        row.url,
                        {t["topic"] for t in stored},
                        {m.topic for m in found},
                        {m.topic: m.matched_words() for m in found},
                    )
                )
    engine.dispose()
    return out


def _compile_in_child(keywords: dict[str, Any], source: str) -> None:
    global _worker_matcher
    _worker_matcher = Matcher(KeywordsFile.model_validate(keywords), source=source)


@contextmanager
def _pool(matcher: Matcher, processes: int, source: str) -> Iterator[Any]:
    """A process pool with the compiled matcher in every child, or None on a single core.

    Matching is CPU-bound Python: one process per core. The children are started fresh (forkserver,
    else spawn) and compile the matcher themselves: a forked child copies every lock of its parent,
    including those of threads Python does not see (numpy's BLAS threads, a test runner's), and one held
    at the fork hangs the child for ever; once under load in the suite, a backtest hung so.
    """
    global _worker_matcher
    _worker_matcher = matcher
    if processes < 2:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    with multiprocessing.get_context(method).Pool(
            processes, initializer=_compile_in_child,
            initargs=(matcher.keywords.model_dump(mode="json"), source)) as pool:
        yield pool


# --- breaking events over the archive ------------------------------------------------------------


def replay_archive(engine: Any, since: datetime | None, outlets: int, minutes: int,
                   names: dict[str, str] | None = None) -> list[BreakingEvent]:
    """The breaking events the archive's stories would have made with these thresholds, in time order
    (each story at its publication time, else its fetch time)."""
    query = ("SELECT id, cluster_id, outlet, language, title, url, published, fetched, topics, dedupe_kind "
             "FROM stories")
    params: dict[str, Any] = {}
    if since is not None:
        query += " WHERE processed >= :since"  # archive time: imported or backfilled history counts
        params["since"] = since
    with engine.connect() as conn:
        rows = conn.execute(text(query), params).mappings().all()
    stories = []
    for row in rows:
        at = as_utc(row["published"] or row["fetched"])
        topics = row["topics"] if isinstance(row["topics"], list) else json.loads(row["topics"] or "[]")
        stories.append((at, row, [t["topic"] for t in topics]))
    stories.sort(key=lambda item: item[0])
    detector = Detector(outlets=outlets, minutes=minutes)
    events: list[BreakingEvent] = []
    for at, row, topics in stories:
        sighting = Sighting(outlet=row["outlet"], at=at, language=row["language"], story_id=row["id"],
                            title=row["title"], url=row["url"])
        events += detector.add(row["cluster_id"], sighting, row["dedupe_kind"] == "new", topics, names)
    return events


def replay_events(engine: Any, since: datetime | None, index: Any) -> list[dict[str, Any]]:
    """The archive's stories that carry topics, in time order, each with the event `index` (a fresh
    workers.events.EventIndex) gives it: {id, title, outlet, language, at, cluster, event, evidence,
    topics}. A story that opened its cluster is decided; a copy takes its cluster's event."""
    # imported here: the event features load only for this backtest
    from newsmon.workers.eventfeatures import features

    query = ("SELECT id, cluster_id, outlet, language, title, text, url, published, fetched, topics, "
             "dedupe_kind FROM stories")
    params: dict[str, Any] = {}
    if since is not None:
        query += " WHERE processed >= :since"
        params["since"] = since
    with engine.connect() as conn:
        rows = conn.execute(text(query), params).mappings().all()
    stories = []
    for row in rows:
        topics = row["topics"] if isinstance(row["topics"], list) else json.loads(row["topics"] or "[]")
        if topics:
            stories.append((as_utc(row["published"] or row["fetched"]), row, [t["topic"] for t in topics]))
    stories.sort(key=lambda item: item[0])
    out = []
    for at, row, topics in stories:
        if row["dedupe_kind"] == "new":
            report = features(row["title"], row["text"], row["language"], at)
            assignment = index.assign(row["id"], row["cluster_id"], report, at, row["language"],
                                      row["outlet"])
            event, evidence = assignment.event, assignment.evidence
        else:
            event, evidence = index.copy_event(row["cluster_id"]), None
        out.append({"id": row["id"], "title": row["title"], "outlet": row["outlet"],
                    "language": row["language"], "at": at, "cluster": row["cluster_id"], "event": event,
                    "evidence": evidence, "topics": topics})
    return out
