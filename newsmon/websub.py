"""WebSub (W3C Recommendation, 2018): a feed that names a hub is pushed to newsmon instead of waiting for
its next poll.

Who does what, each role through Redis (one hash per source, keys.websub):
- the crawler *discovers*: each feed it parses may name a hub (`<link rel="hub">` in Atom,
  `<atom:link rel="hub">` in RSS, `hubs` in JSON Feed, or an HTTP `Link: <...>; rel="hub"` header) and
  its own address (`rel="self"`, the topic); `record_discovery` keeps them;
- the scheduler *subscribes* (`maintain`, on the leader): when newsmon.yaml sets `web.public_url`, it asks
  each discovered hub for a subscription with a callback `<public_url>/websub/<source id>`, a secret of
  its own per subscription and a lease, renews leases before they end, and tries a refusing or
  unreachable hub again later. It also *polls on a push* (`take_pushes`): a verified notification is a
  poll request for that source, no more; the poll fetches and dedupes as usual, so a forged or repeated
  ping costs at most one conditional GET. Polling goes on at `websub.fallback_interval` meanwhile, and at
  the source's own schedule as soon as the subscription is not alive;
- the web role *answers the hub* (`verify`: a subscription is confirmed only for the topic newsmon asked
  for, so nobody else can subscribe newsmon or cancel it; `notify`: a notification counts only with a
  valid HMAC signature of its body under the subscription's secret, `X-Hub-Signature: sha256=...`).

Rejected notifications are counted per source (`status`, /metrics) and answered 202 like accepted ones,
as the recommendation allows, so a sender learns nothing from the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from newsmon import keys
from newsmon.sanitize import clean_line

log = logging.getLogger(__name__)

PENDING_TIMEOUT = 300  # seconds a hub has to verify a subscription request before it counts as failed
HUB_TIMEOUT = 10  # seconds for a hub to answer a subscription request
MAX_URL = 2000
MAX_PUSHES = 10_000  # pushes waiting for the scheduler at most (a stopped scheduler leaves no pile)
NOTIFY_MAX_BYTES = 1 << 20  # a notification body read at most (the web role answers 413 beyond)
SIGNATURES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
              "sha512": hashlib.sha512}

_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,]*)*)')
_REL = re.compile(r'\brel\s*=\s*(?:"([^"]*)"|([^\s;,]+))', re.IGNORECASE)


def _url(value: Any, base: str) -> str | None:
    """An http(s) address joined to `base`, or None when it is not one (or too long, or has controls)."""
    if not isinstance(value, str) or not value.strip():
        return None
    joined = urllib.parse.urljoin(base, value.strip())
    if len(joined) > MAX_URL or not joined.startswith(("http://", "https://")) or any(
            ord(c) < 0x21 or c == "\x7f" for c in joined):
        return None
    try:
        urllib.parse.urlsplit(joined).port  # noqa: B018 - a malformed port raises
    except ValueError:
        return None
    return joined


def link_header(value: str | None) -> list[tuple[str, set[str]]]:
    """The (url, rels) of an HTTP Link header (RFC 8288): `<https://hub>; rel="hub", <...>; rel=self`."""
    found = []
    for match in _LINK.finditer(value or ""):
        rels: set[str] = set()
        for rel in _REL.finditer(match.group(2)):
            rels.update((rel.group(1) or rel.group(2) or "").lower().split())
        found.append((match.group(1), rels))
    return found


def discover(links: Iterable[tuple[str, Iterable[str]]], base: str) -> tuple[str | None, str | None]:
    """(hub, self) from a document's links and its Link header, joined to `base`; the first of each."""
    hub = topic = None
    for href, rels in links:
        rels = {r.lower() for r in rels}
        if hub is None and "hub" in rels:
            hub = _url(href, base)
        if topic is None and "self" in rels:
            topic = _url(href, base)
    return hub, topic


def record_discovery(conn: Any, source_id: str, hub: str | None, topic: str | None) -> None:
    """Keep the hub and topic a source's feed names now (none: forgets them); writes only on a change."""
    known = conn.hmget(keys.websub(source_id), "hub", "topic")
    now_known = [v.decode() if isinstance(v, bytes) else v for v in known]
    if hub is None:
        if now_known[0] is not None:
            conn.hdel(keys.websub(source_id), "hub", "topic")
            log.info("websub source=%s: its feed no longer names a hub", source_id)
        return
    if now_known != [hub, topic]:
        conn.hset(keys.websub(source_id), mapping={"hub": hub, "topic": topic or "",
                                                    "discovered_at": time.time()})
        conn.sadd(keys.WEBSUB_SOURCES, source_id)
        log.info("websub source=%s: its feed names the hub %s (topic %s)", source_id, hub, topic)


def _decoded(raw: dict[Any, Any]) -> dict[str, str]:
    """A Redis hash as text, whatever the connection's decode_responses."""
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


def _state(conn: Any, source_id: str) -> dict[str, str]:
    return _decoded(conn.hgetall(keys.websub(source_id)))


def _float(state: dict[str, str], name: str) -> float:
    try:
        return float(state.get(name) or 0)
    except ValueError:
        return 0.0


def topic_of(state: dict[str, str], source_url: str) -> str:
    """The topic to subscribe to: the feed's own `self` address, else the address it is polled at."""
    return state.get("topic") or source_url


def alive(state: dict[str, str], now: float) -> bool:
    """Whether a subscription is verified, its lease not over, and its hub still the one the feed names."""
    return (state.get("state") == "active" and _float(state, "expires_at") > now
            and state.get("sub_hub") == state.get("hub"))


# --- the scheduler: subscribing, renewing, polling on a push --------------------------------------------


def post_form(url: str, fields: dict[str, str], timeout: float = HUB_TIMEOUT) -> tuple[int, str]:
    """POST a form; (HTTP status, the start of the body). Raises OSError when the hub cannot be reached."""
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "newsmon (WebSub subscriber)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(500).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, (exc.read(500) or b"").decode("utf-8", "replace")


def _due(state: dict[str, str], topic: str, now: float, settings: Any) -> str | None:
    """Why a source's subscription must be asked for now, or None."""
    current = state.get("state") or ""
    if state.get("pending_secret") and now - _float(state, "requested_at") < PENDING_TIMEOUT:
        return None  # asked; the hub has not verified yet
    if current in ("failed", "denied") and now < _float(state, "next_try"):
        return None
    if current == "active":
        if state.get("sub_hub") != state.get("hub") or state.get("sub_topic") != topic:
            return "the feed names another hub or topic"
        left = _float(state, "expires_at") - now
        lease = _float(state, "lease_seconds")
        if left > min(settings.renew_before, lease / 2):
            return None
        if now < _float(state, "next_try"):
            return None
        return "renewal" if left > 0 else "lease over"
    if current == "expired":
        return "lease over"
    return "new" if current in ("", "unsubscribed") else f"retry after {current}"


_MARK_PENDING = """
redis.call('hset', KEYS[1], 'error', '')
if redis.call('hget', KEYS[1], 'pending_secret') == ARGV[1]
  and redis.call('hget', KEYS[1], 'state') ~= 'active' then
  redis.call('hset', KEYS[1], 'state', 'pending')
end
return 1
"""


def subscribe(conn: Any, source_id: str, hub: str, topic: str, public_url: str, settings: Any, now: float,
              post: Callable[[str, dict[str, str]], tuple[int, str]] = post_form) -> str:
    """Ask `hub` for a subscription to `topic`; returns the state it leaves: pending (the hub accepted the
    request and will verify it) or failed (with its named reason in `error`)."""
    secret = secrets.token_hex(32)
    fields = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": f"{public_url}/websub/{source_id}",
              "hub.secret": secret, "hub.lease_seconds": str(settings.lease_seconds)}
    key = keys.websub(source_id)
    # kept before asking: a hub may verify the intent before its answer to the request arrives here
    conn.hset(key, mapping={"pending_secret": secret, "pending_hub": hub, "pending_topic": topic,
                            "requested_at": now, "asked_lease": settings.lease_seconds})
    conn.sadd(keys.WEBSUB_SOURCES, source_id)
    try:
        status, body = post(hub, fields)
        error = None if 200 <= status < 300 else f"hub answered HTTP {status}: {clean_line(body, 200)}"
    except (OSError, ValueError) as exc:  # refused, timed out, unknown host, malformed address
        error = f"hub unreachable: {type(exc).__name__}: {clean_line(str(exc), 200)}"
    if error is None:
        # pending unless the hub verified in the meantime (atomic: the verification may be under way)
        conn.eval(_MARK_PENDING, 1, key, secret)
        log.info("websub source=%s: subscription asked of %s (topic %s)", source_id, hub, topic)
        return "pending"
    state = _state(conn, source_id)
    # an alive lease stays in use while its renewal is retried, sooner than a new subscription would be
    left = _float(state, "expires_at") - now
    wait = min(settings.retry_after, left / 2) if alive(state, now) and left > 0 else settings.retry_after
    mapping: dict[str, Any] = {"error": error, "next_try": now + max(10.0, wait), "failed_at": now}
    if not alive(state, now):
        mapping["state"] = "failed"
    conn.hset(key, mapping=mapping)
    if state.get("pending_secret") == secret:
        conn.hdel(key, "pending_secret", "pending_hub", "pending_topic")
    log.warning("websub source=%s: subscription to %s failed (%s); polling goes on", source_id, hub, error)
    return "failed"


def unsubscribe(conn: Any, source_id: str, state: dict[str, str], public_url: str, now: float,
                post: Callable[[str, dict[str, str]], tuple[int, str]] = post_form) -> str:
    """Ask the hub, once, to end a subscription newsmon no longer wants (its source removed or disabled, or
    its pushes turned off); the hub verifies the intent on the callback, which then forgets the source.
    Returns `unsubscribing`, or `failed` (the reason in `error`; the lease then runs out by itself)."""
    topic = state.get("sub_topic") or state.get("pending_topic") or ""
    hub = state.get("sub_hub") or state.get("pending_hub") or ""
    key = keys.websub(source_id)
    conn.hset(key, mapping={"state": "unsubscribing", "unsub_topic": topic, "requested_at": now})
    conn.hdel(key, "pending_secret", "pending_hub", "pending_topic")
    fields = {"hub.mode": "unsubscribe", "hub.topic": topic,
              "hub.callback": f"{public_url}/websub/{source_id}"}
    try:
        status, body = post(hub, fields)
        error = None if 200 <= status < 300 else f"hub answered HTTP {status}: {clean_line(body, 200)}"
    except (OSError, ValueError) as exc:
        error = f"hub unreachable: {type(exc).__name__}: {clean_line(str(exc), 200)}"
    if error is None:
        log.info("websub source=%s: asked %s to end the subscription (topic %s)", source_id, hub, topic)
        return "unsubscribing"
    conn.hset(key, "error", error)
    log.warning("websub source=%s: ending the subscription at %s failed (%s); its lease runs out by itself",
                source_id, hub, error)
    return "failed"


def forget(conn: Any, source_id: str) -> None:
    """Drop everything newsmon kept of a source's WebSub subscription."""
    conn.delete(keys.websub(source_id))
    conn.srem(keys.WEBSUB_SOURCES, source_id)


def _unwanted(conn: Any, wanted: set[str], public_url: str, settings: Any, now: float,
              post: Callable[[str, dict[str, str]], tuple[int, str]]) -> dict[str, str]:
    """End the subscriptions of sources that no longer take pushes, once each; forget the rest of them (an
    end the hub did not verify within PENDING_TIMEOUT included: its lease runs out by itself, and its pings
    are refused, newsmon holding no secret for them)."""
    done: dict[str, str] = {}
    for raw in conn.smembers(keys.WEBSUB_SOURCES):
        source_id = raw.decode() if isinstance(raw, bytes) else raw
        if source_id in wanted:
            continue
        state = _state(conn, source_id)
        current = state.get("state") or ""
        if current == "unsubscribing":
            if now - _float(state, "requested_at") >= PENDING_TIMEOUT:
                forget(conn, source_id)
                done[source_id] = "forgotten (the hub did not verify the end)"
            continue
        if alive(state, now) or current == "pending" or state.get("pending_secret"):
            done[source_id] = unsubscribe(conn, source_id, state, public_url, now, post)
        else:
            forget(conn, source_id)
            done[source_id] = "forgotten"
    return done


def maintain(conn: Any, config: Any, now: float | None = None,
             post: Callable[[str, dict[str, str]], tuple[int, str]] = post_form) -> dict[str, str]:
    """Subscribe, renew and retry, for every enabled feed source whose feed names a hub, and end the
    subscriptions of sources that no longer take pushes (the scheduler's periodic `websub` job). Returns
    source id -> what was done."""
    settings = config.pipeline.websub
    public_url = config.pipeline.web.public_url
    if not public_url:
        return {}  # no callback to verify on: leases run out by themselves
    now = time.time() if now is None else now
    wanted = ({s.id for s in config.enabled_sources() if s.kind == "feed" and s.websub}
              if settings.enabled else set())
    done = _unwanted(conn, wanted, public_url, settings, now, post)
    for source in config.enabled_sources():
        if source.id not in wanted:
            continue
        state = _state(conn, source.id)
        hub = state.get("hub")
        if not hub:
            continue
        topic = topic_of(state, source.url)
        if state.get("pending_secret") and now - _float(state, "requested_at") >= PENDING_TIMEOUT \
                and state.get("state") != "active":
            conn.hset(keys.websub(source.id), mapping={
                "state": "failed", "error": f"the hub did not verify the subscription within "
                                            f"{PENDING_TIMEOUT} s", "next_try": now + settings.retry_after})
            conn.hdel(keys.websub(source.id), "pending_secret", "pending_hub", "pending_topic")
            done[source.id] = "failed: not verified"
            continue
        if state.get("state") == "active" and _float(state, "expires_at") <= now:
            conn.hset(keys.websub(source.id), "state", "expired")
            state["state"] = "expired"
        reason = _due(state, topic, now, settings)
        if reason:
            done[source.id] = f"{subscribe(conn, source.id, hub, topic, public_url, settings, now, post)} " \
                              f"({reason})"
    return done


def take_pushes(conn: Any, limit: int = 1000) -> list[str]:
    """The sources pushed since the last look, each once, in the order their pings came."""
    with conn.pipeline() as pipe:
        pipe.lrange(keys.WEBSUB_PUSHED, 0, limit - 1)
        pipe.ltrim(keys.WEBSUB_PUSHED, limit, -1)
        found, _ = pipe.execute()
    return list(dict.fromkeys(v.decode() if isinstance(v, bytes) else v for v in found))


def alive_sources(conn: Any, source_ids: list[str], now: float) -> set[str]:
    """The sources whose subscription is alive now (polled at the fallback interval meanwhile)."""
    if not source_ids:
        return set()
    with conn.pipeline(transaction=False) as pipe:
        for source_id in source_ids:
            pipe.hmget(keys.websub(source_id), "state", "expires_at", "sub_hub", "hub")
        rows = pipe.execute()
    found = set()
    for source_id, row in zip(source_ids, rows, strict=True):
        values = [v.decode() if isinstance(v, bytes) else v for v in row]
        state = {k: v for k, v in zip(("state", "expires_at", "sub_hub", "hub"), values, strict=True) if v}
        if alive(state, now):
            found.add(source_id)
    return found


# --- the web role: the callback --------------------------------------------------------------------------


def verify(conn: Any, source_id: str, params: dict[str, str], now: float | None = None) -> tuple[int, str]:
    """Answer a hub's verification of intent (GET on the callback): (HTTP status, body). Only a subscription
    newsmon asked for, to the topic it asked for, is confirmed (200 with the challenge), and the end of one
    newsmon asked to end (the source is then forgotten); anything else is refused with 404."""
    now = time.time() if now is None else now
    mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
    state = _state(conn, source_id)
    key = keys.websub(source_id)
    if mode == "denied" and topic and topic in (state.get("pending_topic"), state.get("sub_topic")):
        reason = clean_line(params.get("hub.reason", "") or "no reason given", 200)
        conn.hset(key, mapping={"state": "denied", "error": f"the hub denied the subscription: {reason}",
                                "next_try": now + 3600})
        conn.hdel(key, "pending_secret", "pending_hub", "pending_topic")
        log.warning("websub source=%s: the hub denied the subscription (%s)", source_id, reason)
        return 200, ""
    challenge = params.get("hub.challenge", "")
    if mode == "unsubscribe" and state.get("state") == "unsubscribing" and topic \
            and topic == state.get("unsub_topic") and challenge and len(challenge) <= 1000:
        forget(conn, source_id)
        log.info("websub source=%s: the hub ended the subscription", source_id)
        return 200, challenge
    if mode != "subscribe" or not state.get("pending_secret") or topic != state.get("pending_topic") \
            or not challenge or len(challenge) > 1000:
        return 404, "no such subscription request\n"
    try:
        lease = int(params.get("hub.lease_seconds") or 0)
    except ValueError:
        lease = 0
    lease = lease if 0 < lease <= 10 * 365 * 86400 else int(_float(state, "asked_lease") or 86400)
    pipe = conn.pipeline()  # one transaction: never active with the request still pending
    pipe.hset(key, mapping={"state": "active", "secret": state["pending_secret"],
                            "sub_hub": state["pending_hub"], "sub_topic": topic, "verified_at": now,
                            "lease_seconds": lease,
                            "expires_at": now + lease, "error": "", "next_try": 0})
    pipe.hdel(key, "pending_secret", "pending_hub", "pending_topic")
    pipe.execute()
    log.info("websub source=%s: subscription verified, lease %d s", source_id, lease)
    return 200, challenge


def notify(conn: Any, source_id: str, body: bytes, signature: str | None,
           now: float | None = None) -> tuple[bool, str]:
    """A hub's notification (POST on the callback): (accepted, why not). Accepted only with a valid
    HMAC of the body under the subscription's secret (or under the one just asked for, while the hub
    switches); then the source is queued for a poll. Every refusal is counted with its reason."""
    now = time.time() if now is None else now
    state = _state(conn, source_id)
    candidates = [s for s in (state.get("secret"), state.get("pending_secret")) if s]
    method, _, offered = (signature or "").strip().partition("=")
    digest = SIGNATURES.get(method.strip().lower())
    if not candidates:
        reason = "no subscription"
    elif not signature:
        reason = "unsigned"
    elif digest is None:
        reason = f"unknown signature method {clean_line(method, 20)!r}"
    elif not any(hmac.compare_digest(hmac.new(s.encode(), body, digest).hexdigest(), offered.strip().lower())
                 for s in candidates):
        reason = "bad signature"
    else:
        with conn.pipeline() as pipe:
            pipe.hincrby(keys.websub(source_id), "pushes", 1)
            pipe.hset(keys.websub(source_id), "last_push", now)
            pipe.rpush(keys.WEBSUB_PUSHED, source_id)
            pipe.ltrim(keys.WEBSUB_PUSHED, -MAX_PUSHES, -1)
            pipe.execute()
        log.info("websub source=%s: pushed (%d bytes); polling it", source_id, len(body))
        return True, ""
    with conn.pipeline() as pipe:
        pipe.hincrby(keys.websub(source_id), "rejected", 1)
        pipe.hset(keys.websub(source_id), mapping={"last_rejected": now, "rejected_reason": reason})
        pipe.execute()
    log.warning("websub source=%s: notification refused (%s)", source_id, reason)
    return False, reason


# --- what status shows ----------------------------------------------------------------------------------


def status_rows(conn: Any, source_ids: list[str], now: float) -> dict[str, dict[str, Any] | None]:
    """Per source: its hub, the subscription's state and lease, pushes and refusals (None: no hub known and
    nothing ever subscribed)."""
    with conn.pipeline(transaction=False) as pipe:
        for source_id in source_ids:
            pipe.hgetall(keys.websub(source_id))
        raws = pipe.execute()
    rows: dict[str, dict[str, Any] | None] = {}
    for source_id, raw in zip(source_ids, raws, strict=True):
        state = _decoded(raw)
        if not state.get("hub") and not state.get("state"):
            rows[source_id] = None
            continue
        rows[source_id] = {
            "hub": state.get("hub") or None,
            "state": ("active" if alive(state, now) else
                      "expired" if state.get("state") == "active" else state.get("state") or "discovered"),
            "pushed": alive(state, now),
            "expires_at": _float(state, "expires_at") or None,
            "last_push": _float(state, "last_push") or None,
            "pushes": int(_float(state, "pushes")),
            "rejected": int(_float(state, "rejected")),
            "rejected_reason": state.get("rejected_reason") or None,
            "error": state.get("error") or None,
        }
    return rows
