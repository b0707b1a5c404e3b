"""Canonical URLs and URL identity, shared by the crawler (story ids) and the workers (dedupe).

`canonical_url` cleans a URL for display and storage: tracking parameters, fragments, AMP variants,
mobile hosts and default ports go; the path's characters are never rewritten (some outlets keep
Arabic tatweel in their paths, and the URL must stay as it is). `url_key` goes further for identity:
scheme, a leading `www.` and a trailing slash do not make two URLs different.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_")
_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid", "mc_cid",
    "mc_eid", "ref_src", "ref_url", "_ga", "_gl", "s_cid", "ocid", "cmpid", "at_medium", "at_campaign",
    "amp", "outputtype", "amp_js_v", "usqp", "share",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_PREFIXES = ("m.", "mobile.", "amp.")
_AMP_SUFFIX = re.compile(r"(?:[-_.]amp|/amp)$", re.IGNORECASE)
_AMP_CACHE = re.compile(r"^/[cvi]/(?:s/)?(?P<host>[^/]+)(?P<path>/.*)?$")


def _host(parts_host: str) -> str:
    host = parts_host.lower()
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix):]
    return host


def canonical_url(url: str) -> str:
    """A URL without tracking parameters, fragment, AMP variant, mobile host or default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    path = parts.path or "/"
    if host.endswith(".cdn.ampproject.org"):
        cached = _AMP_CACHE.match(path)
        if cached:
            host, path = cached.group("host").lower(), cached.group("path") or "/"
            scheme = "https"
    host = _host(host)
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    path = _strip_amp(path)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_PARAMS
    ]
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def _strip_amp(path: str) -> str:
    """Drop `/amp/`, a trailing `/amp`, and `-amp`/`.amp` endings of the last segment."""
    trailing = path.endswith("/") and len(path) > 1
    core = path.rstrip("/") or "/"
    core = core.replace("/amp/", "/")
    stripped = _AMP_SUFFIX.sub("", core)
    if stripped != core:
        core = stripped or "/"
    return core + ("/" if trailing and not core.endswith("/") else "")


def url_key(url: str) -> str:
    """The identity of a URL: its canonical form without scheme, `www.` or trailing slash."""
    parts = urlsplit(canonical_url(url))
    host = parts.netloc.removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    return f"{host}{path}" + (f"?{query}" if query else "")


def site_of(url: str) -> str:
    """The site of a URL: its host without `www.`, `m.`, `mobile.` or `amp.`."""
    return _host((urlsplit(url).hostname or "").lower()).removeprefix("www.")


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to the same site (www, mobile and AMP hosts included)."""
    return site_of(a) == site_of(b)


_UNSAFE_DISPLAY = re.compile(r"[\x00-\x20\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def readable_url(url: str) -> str:
    """A URL as a person reads it: percent-encoded UTF-8 and punycode hosts decoded (for display only;
    links keep the encoded form). Parts that would decode to spaces, controls or bidi marks stay encoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = parts.netloc
    if "xn--" in host:
        try:
            host = ".".join(label.encode("ascii").decode("idna") if label.startswith("xn--") else label
                            for label in host.split("."))
        except (UnicodeError, ValueError):
            host = parts.netloc

    def decode(piece: str) -> str:
        try:
            decoded = unquote(piece, errors="strict") if "%" in piece else piece
        except UnicodeDecodeError:
            return piece
        return piece if _UNSAFE_DISPLAY.search(decoded) else decoded

    return urlunsplit((parts.scheme, host, decode(parts.path), decode(parts.query), decode(parts.fragment)))


# --- secrets in URLs ------------------------------------------------------------------------------

MASK = "***"
# query parameters whose values are credentials (matched on the name, case-insensitively)
_SECRET_PARAM = re.compile(
    r"(?i)^(?:.*(?:token|secret|passw(?:or)?d|passwd|api[-_]?key|apikey|auth|credential|signature|session)"
    r".*|key|pass|pwd|sig|code|access[-_]?key)$"
)
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,15}://[^\s<>\"'`]+")
# "user:password@host" where no scheme precedes it (as in "invalid hostname: user:pw@127.0.0.1")
_USERINFO_IN_TEXT = re.compile(r"(?<![/\w@])([^\s/@:<>\"']{1,200}):([^\s/@<>\"']{1,200})@(?=[\w\[])")


def _masked_query(query: str) -> str:
    if not query:
        return query
    out = []
    for piece in query.split("&"):
        name, sep, value = piece.partition("=")
        out.append(f"{name}={MASK}" if sep and value and _SECRET_PARAM.match(unquote(name)) else piece)
    return "&".join(out)


def mask_url(url: str) -> str:
    """A URL with its secrets masked, for everything newsmon prints, logs or serves: the user info
    (`user:password@`) and the values of query parameters named like credentials (token, key,
    password, secret, auth, signature, ...). The rest is left exactly as written."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO_IN_TEXT.sub(f"{MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = _masked_query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_secrets(text: str) -> str:
    """Free text (a log line, an error message) with every URL in it masked by mask_url, and any
    `user:password@host` written without a scheme."""
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
    if "@" in text:
        text = _USERINFO_IN_TEXT.sub(f"{MASK}@", text)
    return text
