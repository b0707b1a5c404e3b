"""Duplicate detection and story clusters: canonical URLs, exact copies and near copies (MinHash LSH).

Every story gets a 56-value MinHash signature over the word 3-shingles of its normalized text. Its
LSH bands (10 bands of 2 values) point at the stories that share them; a candidate is a near copy
when the signatures estimate a Jaccard similarity of at least the threshold (default 0.5, measured:
see config/newsmon.yaml). Exact copies are found by the hash of the normalized text or the feed
GUID, and the same URL by the story id itself (a hash of the URL's identity).

The index lives in Redis so that every worker on every machine sees the same clusters. To stay small
(about 270 bytes a story) it is packed into small hashes, which Redis stores as compact listpacks:
`newsmon:dedupe:<generation>:<shard>`, one generation per seventh of the window, each key expiring
a window after its generation. Fields are binary: `S`+story → 8-bit signature + cluster, `B`+band
hash → story, `T`+text hash → story, `G`+GUID hash → story. A generation's shard count is sized
from the previous generation's volume so each hash keeps under ~100 fields.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import redis
from datasketch import MinHash

from newsmon.normalize import normalize_text
from newsmon.redis_conn import release_if_owner
from newsmon.settings import DedupeSettings
from newsmon.urls import canonical_url

__all__ = ["DedupeIndex", "Verdict", "canonical_url", "content_hash", "signature"]

NUM_PERM = 56  # 56 one-byte values + an 8-byte cluster fit Redis's 64-byte compact (listpack) values
BANDS = 10
ROWS = 2
SHINGLE = 3
SEED = 7
GENERATIONS = 7  # per window
FIELDS_PER_STORY = 3 + BANDS
FIELDS_PER_SHARD = 96
MIN_SHARDS = 16
FIRST_SHARDS = 512  # a generation with no predecessor to size it from


_WORD = re.compile(r"\w+")
_GET_MANY = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('hget', key, ARGV[i]) end
return out
"""
_ADD = """
local ttl = tonumber(ARGV[1])
local counter = KEYS[1]
for i = 2, #KEYS do
  local key = KEYS[i]
  redis.call('hset', key, ARGV[2 * i - 2], ARGV[2 * i - 1])
  if redis.call('ttl', key) < 0 then redis.call('expire', key, ttl) end
end
if ARGV[#ARGV] == '1' then
  redis.call('incr', counter)
  redis.call('expire', counter, ttl)
end
return #KEYS
"""


def content_hash(title: str, text: str) -> str:
    """Hash of the normalized body (the title is left out: syndicated copies retitle)."""
    basis = normalize_text(text) or normalize_text(title)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def shingles(normalized: str) -> list[bytes]:
    """Word 3-shingles of a normalized text (the words themselves for very short texts)."""
    words = _WORD.findall(normalized)
    if len(words) < SHINGLE:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[i:i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)]


_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED)  # permutations drawn once, not per story


def signature(normalized: str) -> np.ndarray:
    """The MinHash values (32-bit) of a normalized text's shingles."""
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=zlib.crc32, permutations=_TEMPLATE.permutations,
                      scheme=_TEMPLATE.scheme)
    minhash.update_batch(shingles(normalized))
    return minhash.hashvalues.astype(np.uint32)


def similarity(a: bytes, b: bytes) -> float:
    """Jaccard similarity estimated from two 8-bit signatures (corrected for chance collisions)."""
    equal = np.count_nonzero(np.frombuffer(a, dtype=np.uint8) == np.frombuffer(b, dtype=np.uint8))
    chance = 1 / 256
    return max(0.0, (equal / NUM_PERM - chance) / (1 - chance))


def _bands(values: np.ndarray) -> list[bytes]:
    return [
        b"B" + zlib.crc32(bytes([band]) + values[band * ROWS:(band + 1) * ROWS].tobytes()).to_bytes(4, "big")
        for band in range(BANDS)
    ]


def _digest(value: str) -> bytes:
    return hashlib.sha1(value.encode("utf-8")).digest()[:8]


@dataclass(frozen=True)
class Verdict:
    """What dedupe decided about one story."""

    kind: str  # new, url, exact, near
    cluster: str
    duplicate_of: str | None
    similarity: float | None = None


class DedupeIndex:
    """The shared LSH index in Redis; safe to use from many workers at once."""

    def __init__(self, conn: redis.Redis, settings: DedupeSettings | None = None, prefix: str = "newsmon:dedupe") -> None:
        self.conn = conn
        self.settings = settings or DedupeSettings()
        self.prefix = prefix
        self.generation_seconds = self.settings.window_days * 86400 / GENERATIONS
        self._shards: dict[int, int] = {}
        self._empty: set[int] = set()
        self._get_many = conn.register_script(_GET_MANY)
        self._add = conn.register_script(_ADD)

    # --- generations and shards ---------------------------------------------------------------

    def _generation(self, now: float) -> int:
        return int(now // self.generation_seconds)

    def _shard_count(self, generation: int, create: bool, current: int | None = None) -> int | None:
        if generation in self._shards:
            return self._shards[generation]
        if generation in self._empty:
            return None
        key = f"{self.prefix}:{generation}:shards"
        value = self.conn.get(key)
        if value is None and create:
            previous = self.conn.get(f"{self.prefix}:{generation - 1}:count")
            wanted = FIRST_SHARDS if previous is None else max(
                MIN_SHARDS, int(previous) * FIELDS_PER_STORY // FIELDS_PER_SHARD)
            shards = 1 << (wanted - 1).bit_length()
            self.conn.set(key, shards, nx=True, ex=self._ttl())
            value = self.conn.get(key)
        if value is None:
            if current is not None and generation < current:
                self._empty.add(generation)  # a past generation that never got a story stays empty
            return None
        self._shards[generation] = int(value)
        return int(value)

    def _ttl(self) -> int:
        return int(self.settings.window_days * 86400 + 2 * self.generation_seconds)

    def _key(self, generation: int, shards: int, field: bytes) -> str:
        return f"{self.prefix}:{generation}:{zlib.crc32(field) % shards}"

    def _live_generations(self, now: float) -> list[tuple[int, int]]:
        first = self._generation(now - self.settings.window_days * 86400)
        current = self._generation(now)
        out = []
        for generation in range(first, current + 1):
            shards = self._shard_count(generation, create=False, current=current)
            if shards:
                out.append((generation, shards))
        return out

    def _lookup(self, fields: list[bytes], generations: list[tuple[int, int]]) -> dict[bytes, bytes]:
        """The newest value of each field over the live generations."""
        keys, args = [], []
        for generation, shards in generations:
            for field in fields:
                keys.append(self._key(generation, shards, field))
                args.append(field)
        if not keys:
            return {}
        found: dict[bytes, bytes] = {}
        for field, value in zip(args, self._get_many(keys=keys, args=args)):
            if value:
                found[field] = value  # later generations come last and win
        return found

    # --- the decision -------------------------------------------------------------------------

    def check_and_add(self, story_id: str, text: str, guid_key: str | None = None,
                      now: float | None = None) -> Verdict:
        """Decide whether a story repeats an earlier one, and add it to the index."""
        now = time.time() if now is None else now
        normalized = normalize_text(text)
        values = signature(normalized)
        sig = (values & 0xFF).astype(np.uint8).tobytes()
        ref = bytes.fromhex(story_id)
        text_field = b"T" + _digest(normalized)
        guid_field = b"G" + _digest(guid_key) if guid_key else None
        bands = _bands(values)
        with self._locked():
            generations = self._live_generations(now)
            own_fields = [b"S" + ref, text_field] + ([guid_field] if guid_field else []) + bands
            found = self._lookup(own_fields, generations)
            verdict = self._decide(story_id, ref, sig, found, text_field, guid_field, bands, generations)
            self._store(now, ref, sig, verdict, text_field, guid_field, bands)
        return verdict

    def _decide(self, story_id: str, ref: bytes, sig: bytes, found: dict[bytes, bytes], text_field: bytes,
                guid_field: bytes | None, bands: list[bytes], generations: list[tuple[int, int]]) -> Verdict:
        own = found.get(b"S" + ref)
        if own:
            return Verdict("url", own[NUM_PERM:].hex(), None)
        exact = found.get(text_field) or (found.get(guid_field) if guid_field else None)
        candidates = {found[b] for b in bands if b in found} - {ref}
        wanted = ([exact] if exact else []) + sorted(candidates)
        entries = self._lookup([b"S" + c for c in wanted], generations) if wanted else {}
        if exact and b"S" + exact in entries:
            return Verdict("exact", entries[b"S" + exact][NUM_PERM:].hex(), exact.hex(), 1.0)
        best: tuple[float, bytes] | None = None
        for candidate in candidates:
            entry = entries.get(b"S" + candidate)
            if entry:
                score = similarity(sig, entry[:NUM_PERM])
                if score >= self.settings.threshold and (best is None or score > best[0]):
                    best = (score, candidate)
        if best:
            entry = entries[b"S" + best[1]]
            return Verdict("near", entry[NUM_PERM:].hex(), best[1].hex(), round(best[0], 3))
        return Verdict("new", story_id, None)

    def _store(self, now: float, ref: bytes, sig: bytes, verdict: Verdict, text_field: bytes,
               guid_field: bytes | None, bands: list[bytes]) -> None:
        generation = self._generation(now)
        shards = self._shard_count(generation, create=True)
        assert shards is not None
        items: list[tuple[bytes, bytes]] = [(b"S" + ref, sig + bytes.fromhex(verdict.cluster)), (text_field, ref)]
        if guid_field:
            items.append((guid_field, ref))
        items += [(band, ref) for band in bands]
        keys = [f"{self.prefix}:{generation}:count"] + [self._key(generation, shards, f) for f, _ in items]
        args: list[bytes | int] = [self._ttl()]
        for field, value in items:
            args += [field, value]
        args.append(0 if verdict.kind == "url" else 1)  # the counter sizes the next generation
        self._add(keys=keys, args=args)

    def remove(self, story_id: str, text: str, guid_key: str | None = None, now: float | None = None) -> int:
        """Take a story back out of the index (its job failed before the story was archived), so that no
        later copy joins a cluster whose first story is missing. Only fields that still point at this
        story are removed. Returns how many were."""
        now = time.time() if now is None else now
        normalized = normalize_text(text)
        ref = bytes.fromhex(story_id)
        fields = [b"S" + ref, b"T" + _digest(normalized)] + ([b"G" + _digest(guid_key)] if guid_key else [])
        fields += _bands(signature(normalized))
        removed = 0
        with self._locked():
            for generation, shards in self._live_generations(now):
                keys = [self._key(generation, shards, f) for f in fields]
                pipe = self.conn.pipeline()
                for key, field in zip(keys, fields):
                    pipe.hget(key, field)
                values = pipe.execute()
                pipe = self.conn.pipeline()
                for key, field, value in zip(keys, fields, values):
                    if value is not None and (field.startswith(b"S") or value == ref):
                        pipe.hdel(key, field)
                        removed += 1
                pipe.execute()
        return removed

    @contextmanager
    def _locked(self, timeout: float = 10.0) -> Iterator[None]:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while not self.conn.set(f"{self.prefix}:lock", token, nx=True, px=int(timeout * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError("dedupe index lock not released in time")
            time.sleep(0.002)
        try:
            yield
        finally:
            release_if_owner(self.conn, f"{self.prefix}:lock", token)
