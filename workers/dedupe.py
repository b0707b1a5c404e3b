"""Duplicate detection and story clusters: canonical URLs, exact copies and near copies (MinHash LSH).

Every story gets a 56-value MinHash signature over the word 3-shingles of its normalized text. Its
LSH bands (10 bands of 2 values) point at the stories that share them; a candidate is a near copy
when the signatures estimate a Jaccard similarity of at least the threshold (default 0.5, measured:
see config/newsmon.yaml). Exact copies are found by the hash of the normalized text or the feed
GUID, and the same URL by the story id itself (a hash of the URL's identity).

The index lives in Redis so that every worker on every machine sees the same clusters. To stay small
(bench/dedupe_bench.py measures the bytes a story takes) it is packed into small hashes, which Redis
stores as compact listpacks:
`newsmon:dedupe:<generation>:<shard>`, one generation per seventh of the window, each key expiring
a window after its generation. Fields are binary: `S`+story → 8-bit signature + cluster, `B`+band
hash → story, `T`+text hash → story, `G`+GUID hash → story. A generation's shard count is sized
from the previous generation's volume so each hash keeps under ~100 fields.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from dataclasses import dataclass

import numpy as np
import redis
from datasketch import MinHash

from newsmon import keys
from newsmon.normalize import normalize_text
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

# The whole find-and-add of one story, atomic in Redis, so that no lock serialises the workers: two
# copies processed at once by two workers are decided one after the other by Redis itself. Keys are
# built here the same way `DedupeIndex._key` builds them (zlib's CRC-32 of the field, modulo the
# generation's shard count), so the script and Python read one layout. The index must live in one
# Redis (not Redis Cluster): the script reaches keys it computes.
_LUA_COMMON = """
local function crc32(s)
  local crc = -1
  for i = 1, #s do
    crc = bit.bxor(crc, string.byte(s, i))
    for _ = 1, 8 do
      crc = bit.bxor(bit.rshift(crc, 1), bit.band(0xEDB88320, -bit.band(crc, 1)))
    end
  end
  crc = bit.bnot(crc)
  if crc < 0 then crc = crc + 4294967296 end
  return crc
end
local prefix = ARGV[1]
-- live generations (oldest first) with their shard counts; a generation without a shard count holds nothing
local function live(first, last)
  local out = {}
  for g = first, last do
    local shards = tonumber(redis.call('get', prefix .. ':' .. g .. ':shards'))
    if shards then out[#out + 1] = {g, shards} end
  end
  return out
end
local function key(generation, crc)
  return prefix .. ':' .. generation[1] .. ':' .. (crc % generation[2])
end
"""

_CHECK_AND_ADD = (
    _LUA_COMMON
    + """
-- ARGV: prefix, ttl, threshold, first live generation, current generation, first-shards, min-shards,
--       fields-per-story, fields-per-shard, story ref, 8-bit signature, text field, guid field or '',
--       band fields...
local ttl, threshold = tonumber(ARGV[2]), tonumber(ARGV[3])
local first, current = tonumber(ARGV[4]), tonumber(ARGV[5])
local ref, sig, text_field, guid_field = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local nperm = #sig
local bands = {}
for i = 14, #ARGV do bands[#bands + 1] = ARGV[i] end
local generations = live(first, current + 1)  -- + 1: a worker whose clock is already in the next one
local crcs = {}
local function lookup(field)  -- the newest value of a field over the live generations
  local crc = crcs[field]
  if not crc then crc = crc32(field); crcs[field] = crc end
  local found = false
  for _, generation in ipairs(generations) do
    local value = redis.call('hget', key(generation, crc), field)
    if value then found = value end
  end
  return found
end
local kind, cluster, duplicate, score = 'new', ref, false, false
local own = lookup('S' .. ref)
if own then
  kind, cluster = 'url', string.sub(own, nperm + 1)
else
  local exact = lookup(text_field)
  if not exact and guid_field ~= '' then exact = lookup(guid_field) end
  local entry = exact and lookup('S' .. exact)
  if entry then
    kind, cluster, duplicate, score = 'exact', string.sub(entry, nperm + 1), exact, '1.0'
  else
    local seen, candidates = {}, {}
    for _, band in ipairs(bands) do
      local other = lookup(band)
      if other and other ~= ref and not seen[other] then
        seen[other] = true; candidates[#candidates + 1] = other
      end
    end
    table.sort(candidates)
    local best = -1
    for _, candidate in ipairs(candidates) do
      local other = lookup('S' .. candidate)
      if other then
        local equal = 0
        for i = 1, nperm do
          if string.byte(sig, i) == string.byte(other, i) then equal = equal + 1 end
        end
        local chance = 1 / 256
        local similarity = math.max(0, (equal / nperm - chance) / (1 - chance))
        if similarity >= threshold and similarity > best then
          best, kind, cluster, duplicate = similarity, 'near', string.sub(other, nperm + 1), candidate
        end
      end
    end
    if kind == 'near' then score = tostring(best) end
  end
end
-- add the story to the current generation (its shard count set on first use, sized from the last one)
local shards_key = prefix .. ':' .. current .. ':shards'
local shards = tonumber(redis.call('get', shards_key))
if not shards then
  local previous = tonumber(redis.call('get', prefix .. ':' .. (current - 1) .. ':count'))
  local wanted = tonumber(ARGV[6])
  if previous then
    wanted = math.max(tonumber(ARGV[7]), math.floor(previous * tonumber(ARGV[8]) / tonumber(ARGV[9])))
  end
  shards = 1
  while shards < wanted do shards = shards * 2 end
  redis.call('set', shards_key, shards, 'EX', ttl)
end
local generation = {current, shards}
local function put(field, value)
  local crc = crcs[field] or crc32(field)
  local k = key(generation, crc)
  redis.call('hset', k, field, value)
  if redis.call('ttl', k) < 0 then redis.call('expire', k, ttl) end
end
put('S' .. ref, sig .. cluster)
put(text_field, ref)
if guid_field ~= '' then put(guid_field, ref) end
for _, band in ipairs(bands) do put(band, ref) end
if kind ~= 'url' then  -- the counter sizes the next generation
  local counter = prefix .. ':' .. current .. ':count'
  redis.call('incr', counter)
  redis.call('expire', counter, ttl)
end
return {kind, cluster, duplicate, score}
"""
)

_REMOVE = _LUA_COMMON + """
-- ARGV: prefix, first live generation, current generation, story ref, fields...
local ref, removed = ARGV[4], 0
for _, generation in ipairs(live(tonumber(ARGV[2]), tonumber(ARGV[3]) + 1)) do
  for i = 5, #ARGV do
    local field = ARGV[i]
    local k = key(generation, crc32(field))
    local value = redis.call('hget', k, field)
    if value and (string.sub(field, 1, 1) == 'S' or value == ref) then
      redis.call('hdel', k, field)
      removed = removed + 1
    end
  end
end
return removed
"""


def content_hash(title: str, text: str, normalized: str | None = None) -> str:
    """Hash of the normalized body (the title is left out: syndicated copies retitle); `normalized` is
    the body already normalized, when the caller has it."""
    basis = (normalize_text(text) if normalized is None else normalized) or normalize_text(title)
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
    """The shared LSH index in Redis; safe to use from many workers at once, with no lock: each story's
    find-and-add is one Redis script, so Redis itself orders two copies arriving together."""

    def __init__(
        self, conn: redis.Redis, settings: DedupeSettings | None = None, prefix: str = keys.DEDUPE_PREFIX
    ) -> None:
        self.conn = conn
        self.settings = settings or DedupeSettings()
        self.prefix = prefix
        self.generation_seconds = self.settings.window_days * 86400 / GENERATIONS
        self._check_and_add = conn.register_script(_CHECK_AND_ADD)
        self._remove = conn.register_script(_REMOVE)

    def _generation(self, now: float) -> int:
        return int(now // self.generation_seconds)

    def _ttl(self) -> int:
        return int(self.settings.window_days * 86400 + 2 * self.generation_seconds)

    def _span(self, now: float) -> tuple[int, int]:
        """The first live generation and the current one."""
        return self._generation(now - self.settings.window_days * 86400), self._generation(now)

    def check_and_add(self, story_id: str, text: str, guid_key: str | None = None,
                      now: float | None = None, normalized: str | None = None) -> Verdict:
        """Decide whether a story repeats an earlier one, and add it to the index (one atomic script)."""
        return self.check_and_add_many([(story_id, text, guid_key, normalized)], now)[0]

    def check_and_add_many(self, stories: list[tuple[str, str, str | None, str | None]],
                           now: float | None = None) -> list[Verdict]:
        """`check_and_add` for several stories (id, text, GUID key, normalized text or None), in order,
        in one round trip: each story's script runs after the previous one's, so a copy later in the
        list finds an earlier one."""
        now = time.time() if now is None else now
        first, current = self._span(now)
        settings = [self.prefix, self._ttl(), repr(self.settings.threshold), first, current, FIRST_SHARDS,
                    MIN_SHARDS, FIELDS_PER_STORY, FIELDS_PER_SHARD]
        pipe = self.conn.pipeline(transaction=False)
        for story_id, text, guid_key, normalized in stories:
            normalized = normalize_text(text) if normalized is None else normalized
            values = signature(normalized)
            sig = (values & 0xFF).astype(np.uint8).tobytes()
            self._check_and_add(client=pipe, args=[
                *settings, bytes.fromhex(story_id), sig, b"T" + _digest(normalized),
                b"G" + _digest(guid_key) if guid_key else b"", *_bands(values)])
        verdicts = []
        for kind, cluster, duplicate, score in pipe.execute():
            verdicts.append(Verdict(kind.decode(), cluster.hex(), duplicate.hex() if duplicate else None,
                                    round(float(score), 3) if score else None))
        return verdicts

    def remove(self, story_id: str, text: str, guid_key: str | None = None, now: float | None = None) -> int:
        """Take a story back out of the index (its job failed before the story was archived), so that no
        later copy joins a cluster whose first story is missing. Only fields that still point at this
        story are removed. Returns how many were."""
        now = time.time() if now is None else now
        normalized = normalize_text(text)
        ref = bytes.fromhex(story_id)
        fields = [b"S" + ref, b"T" + _digest(normalized)] + ([b"G" + _digest(guid_key)] if guid_key else [])
        fields += _bands(signature(normalized))
        first, current = self._span(now)
        return int(self._remove(args=[self.prefix, first, current, ref, *fields]))


_indexes: dict[tuple[int, str], DedupeIndex] = {}


def shared_index(conn: redis.Redis, settings: DedupeSettings) -> DedupeIndex:
    """One index per connection and settings in a process, so its generation cache lives across jobs."""
    key = (id(conn), settings.model_dump_json())
    if key not in _indexes:
        _indexes[key] = DedupeIndex(conn, settings)
    return _indexes[key]
