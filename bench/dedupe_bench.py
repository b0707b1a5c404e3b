"""Dedupe cost per story and Redis memory per story over a full 14-day window.

Feeds N synthetic stories (default 100,000; ~3 KB of mixed-language text each, 30% of them edited
copies of a recent story) through the real DedupeIndex, with arrival times spread evenly over the
window, and prints the time per story (signature + lookups + insert, client and Redis together) and
the Redis memory the index takes per story, from INFO memory and from MEMORY USAGE of its keys.

    python bench/dedupe_bench.py [--stories 100000]

Uses NEWSMON_TEST_REDIS_URL (flushed!) if set, else an embedded Redis.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchredis import bench_redis
from bench.machine import describe
from newsmon.workers.dedupe import DedupeIndex

ALPHABETS = [
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوية",
    "ئابپتجچحخدرڕزژسشعغفڤقکگلڵمنوۆهەیێ",
    "abcçdeêfghiîjklmnopqrsştuûvwxyz",
]
START = 1_800_000_000.0
WINDOW = 14 * 86400


def vocabulary(rng: random.Random, size: int = 20000) -> list[str]:
    return ["".join(rng.choice(rng.choice(ALPHABETS)) for _ in range(rng.randint(3, 9))) for _ in range(size)]


def new_story(rng: random.Random, words: list[str]) -> list[str]:
    return [rng.choice(words) for _ in range(rng.randint(350, 500))]


def copy_of(rng: random.Random, story: list[str], words: list[str]) -> list[str]:
    cut = rng.randint(0, len(story) // 5)
    extra = [rng.choice(words) for _ in range(rng.randint(0, 40))]
    return extra + story[cut:] + [rng.choice(words) for _ in range(10)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    args = parser.parse_args()
    conn, _url, server = bench_redis(Path(tempfile.mkdtemp(prefix="newsmon-bench-")))
    rng = random.Random(4)
    words = vocabulary(rng)
    index = DedupeIndex(conn)
    base_memory = int(conn.info("memory")["used_memory"])
    recent: list[list[str]] = []
    kinds: dict[str, int] = {}
    spent = 0.0
    texts = []
    for number in range(args.stories):
        if recent and rng.random() < 0.3:
            words_of = copy_of(rng, rng.choice(recent[-200:]), words)
        else:
            words_of = new_story(rng, words)
            recent.append(words_of)
        texts.append(" ".join(words_of))
    for number, text in enumerate(texts):
        now = START + number * WINDOW / args.stories
        story_id = f"{rng.getrandbits(64):016x}"
        began = time.perf_counter()
        verdict = index.check_and_add(story_id, text, now=now)
        spent += time.perf_counter() - began
        kinds[verdict.kind] = kinds.get(verdict.kind, 0) + 1
    used = int(conn.info("memory")["used_memory"]) - base_memory
    usage = sum(conn.memory_usage(key) or 0 for key in conn.scan_iter("newsmon:dedupe:*", count=1000))
    keys = sum(1 for _ in conn.scan_iter("newsmon:dedupe:*", count=1000))
    encodings = {}
    for key in list(conn.scan_iter("newsmon:dedupe:*", count=1000))[:2000]:
        if conn.type(key) == b"hash":
            encoding = conn.object("encoding", key).decode()
            encodings[encoding] = encodings.get(encoding, 0) + 1
    print(describe())
    print(f"dedupe over {args.stories:,} stories spread over a 14-day window ({kinds})")
    print(f"time per story: {spent / args.stories * 1000:.3f} ms (signature, lookups and insert)")
    print(f"redis memory per story: {used / args.stories:.0f} bytes (INFO used_memory), "
          f"{usage / args.stories:.0f} bytes (MEMORY USAGE of {keys:,} keys); hash encodings {encodings}")
    if server is not None:
        server.stop(save=False)


if __name__ == "__main__":
    main()
