"""What every config file's schema shares: strict frozen models, the id pattern, time zones."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
)

from newsmon.sanitize import clean_line

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"


class StrictModel(BaseModel):
    """A config section: unknown fields are errors (a misspelt field must not be ignored), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _clean_name(value: object) -> object:
    return clean_line(value) if isinstance(value, str) else value


# A name from the config shown to people (outlet, source name, affiliation): cleaned like a name from a
# page (controls, bidi overrides and line breaks removed), so the web page, mail and logs show text.
Name = Annotated[str, BeforeValidator(_clean_name)]

_CONTROLS = re.compile(r"[\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def check_no_controls(value: str, what: str = "value") -> str:
    """A config value that goes into a request or a header: no control characters or line breaks."""
    found = re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value)
    if found:
        raise ValueError(f"{what} holds a control character (U+{ord(found.group(0)):04X})")
    return value


def check_http_url(value: str) -> str:
    """A URL newsmon fetches: http(s), a host, no spaces or control characters, and no user info
    (`user:password@`): credentials go in a source's `headers`, from ${VARS}, where they stay masked."""
    found = _CONTROLS.search(value)
    if found:
        raise ValueError(f"URL holds a space or control character (U+{ord(found.group(0)):04X}); "
                         f"percent-encode it")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("URL must start with http:// or https://")
    if "@" in parts.netloc:
        raise ValueError("URL holds user info (user:password@): put credentials in the source's `headers` "
                         "(for example Authorization: ${FEED_AUTH}), never in the URL")
    if not parts.hostname:
        raise ValueError("URL has no host")
    return value
