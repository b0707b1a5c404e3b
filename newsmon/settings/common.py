"""What every config file's schema shares: strict frozen models, the id pattern, time zones."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
)

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
