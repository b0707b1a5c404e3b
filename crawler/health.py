"""Naming what went wrong with a source, and how long to leave a failing source alone.

Outlets fail in a few recognisable ways, and a desk must be able to tell them from "no news":
`blocked` (HTTP 401/403/451), `challenge` (a Sucuri or Cloudflare JavaScript/cookie check served
instead of content), `rate-limited` (HTTP 429), `server-error` (5xx), `not-found` (404/410),
`timeout`, `dns` (the name does not resolve), `connection` (refused, reset or lost), `tls`,
`redirect-offsite` (the URL now lands on another domain),
`unusable` (not a feed/sitemap/listing at all), `empty` (a 200 with no items) and `stale` (items
keep coming but the newest is old: the outlet stopped updating it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

_CHALLENGES = (
    (
        "Sucuri",
        re.compile(rb"sucuri[_ -]?cloudproxy|sucuri website firewall|sucuri\.net/privacy", re.IGNORECASE),
    ),
    (
        "Cloudflare",
        re.compile(
            rb"cf-browser-verification|cf_chl_|challenge-platform|<title>just a moment\.\.\.</title>"
            rb"|attention required! \| cloudflare|cf-turnstile",
            re.IGNORECASE,
        ),
    ),
    ("DDoS-Guard", re.compile(rb"ddos-guard", re.IGNORECASE)),
    (
        "JavaScript",
        re.compile(
            rb"please enable javascript and cookies|enable javascript to (?:continue|view)", re.IGNORECASE
        ),
    ),
)


@dataclass(frozen=True)
class Failure:
    """A named failure of a poll."""

    kind: str
    message: str
    retry_after: float | None = None


def challenge_vendor(body: bytes) -> str | None:
    """The vendor of a bot-protection page, if the body is one."""
    head = body[:20000]
    for vendor, pattern in _CHALLENGES:
        if pattern.search(head):
            return vendor
    return None


def retry_after_seconds(value: str | bytes | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:

        return max(0.0, (parsedate_to_datetime(text) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def http_failure(status: int, body: bytes, headers: Any) -> Failure | None:
    """Name the failure of an HTTP response, or None when it is usable."""
    vendor = challenge_vendor(body) if status in (200, 202, 403, 429, 503) else None
    if vendor:
        return Failure("challenge", f"{vendor} challenge page instead of content (HTTP {status})")
    if status == 429:
        wait = retry_after_seconds(headers.get("Retry-After")) if headers is not None else None
        return Failure("rate-limited", "HTTP 429 Too Many Requests", wait)
    if status in (401, 403, 451):
        return Failure("blocked", f"blocked: HTTP {status}")
    if status in (404, 410):
        return Failure("not-found", f"HTTP {status}")
    if status >= 500:
        return Failure("server-error", f"HTTP {status}")
    if status >= 400:
        return Failure("http-error", f"HTTP {status}")
    return None


def transport_failure(kind_name: str, message: str) -> Failure:
    """Name a failure that produced no response (from the exception's class name)."""
    name = kind_name.lower()
    text = message.lower()
    if "timeout" in name or "timedout" in name:
        return Failure("timeout", f"timed out: {message}")
    if "dns" in name or "lookup" in name or "resolve" in name or "dns lookup failed" in text:
        return Failure("dns", message if "dns lookup failed" in text else f"DNS lookup failed: {message}")
    if "larger than download max size" in text or "max size" in text and "cancel" in name:
        return Failure("too-large", f"response over the download limit: {message}")
    if "ignorerequest" in name:
        return Failure("refused", message)
    if "ssl" in name or "tls" in name or "certificate" in text:
        return Failure("tls", f"TLS failed: {message}")
    if "refused" in name or "refused" in text:
        return Failure("connection", f"connection refused: {message}")
    return Failure("connection", f"{kind_name}: {message}")


def backoff_seconds(interval: int, failures: int, cap: int, retry_after: float | None = None) -> float:
    """How long to pause a source after `failures` failed polls in a row: doubling from the interval,
    capped, and never shorter than the server's Retry-After."""
    if failures <= 0:
        return 0.0
    wait = min(float(cap), interval * 2.0 ** (failures - 1))
    return max(wait, retry_after or 0.0)
