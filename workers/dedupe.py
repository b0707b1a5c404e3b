"""Exact-duplicate detection: canonical URLs, feed GUIDs and normalized-content hashes claimed in Redis."""

from __future__ import annotations

import hashlib

import redis

from newsmon import keys
from newsmon.models import Story
from newsmon.urls import canonical_url
from workers.normalize import normalize_text

__all__ = ["canonical_url", "claim", "content_hash"]


def content_hash(title: str, text: str) -> str:
    """Hash of the normalized body (the title is left out: syndicated copies retitle)."""
    basis = normalize_text(text) or normalize_text(title)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def _digest(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()


def claim(conn: redis.Redis, story: Story, text_hash: str, ttl: int = keys.DEDUPE_TTL) -> str | None:
    """Claim the story's URL, GUID and content hash; return the id of an earlier story it duplicates.

    Claims are SET NX with the story id as value, so a retried job finds its own claims and is not
    taken for a duplicate of itself.
    """
    claims = [("url", _digest(story.canonical_url)), ("text", text_hash)]
    if story.feed_guid:
        claims.append(("guid", _digest(f"{story.source_id}\n{story.feed_guid}")))
    pipe = conn.pipeline()
    for kind, digest in claims:
        pipe.set(keys.dedupe(kind, digest), story.id, nx=True, ex=ttl)
    pipe.execute()
    pipe = conn.pipeline()
    for kind, digest in claims:
        pipe.get(keys.dedupe(kind, digest))
    for owner in pipe.execute():
        if owner is not None and owner.decode() != story.id:
            return owner.decode()
    return None
