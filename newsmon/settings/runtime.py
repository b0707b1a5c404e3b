"""Deployment facts from the environment: Redis and database URLs, the data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from newsmon.errors import MissingExtra, NothingRunning


@dataclass(frozen=True)
class Runtime:
    """Deployment facts read from the environment once, in the CLI."""

    redis_url: str | None
    database_url: str | None
    data_dir: Path

    @classmethod
    def from_env(cls) -> Runtime:
        """Read REDIS_URL, DATABASE_URL and NEWSMON_DATA_DIR."""
        return cls(
            redis_url=os.environ.get("REDIS_URL") or None,
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=Path(os.environ.get("NEWSMON_DATA_DIR") or Path.cwd() / "var"),
        )

    def archive_url(self, must_exist: bool = False) -> str:
        """DATABASE_URL, or the SQLite file in the data directory.

        With `must_exist` (commands that only read), a missing SQLite file raises NothingRunning
        instead of creating an empty archive.
        """
        if self.database_url:
            require_driver(self.database_url)
            return self.database_url
        path = self.data_dir / "archive.sqlite"
        if must_exist and not path.is_file():

            raise NothingRunning(self.data_dir, "archive")
        return f"sqlite:///{path}"


def require_driver(url: str) -> None:
    """Raise MissingExtra when the archive URL is PostgreSQL and its driver (the `postgresql` extra) is not
    installed: a laptop install on SQLite does not carry it."""
    if url.split(":", 1)[0].split("+", 1)[0] not in ("postgresql", "postgres"):
        return
    try:
        # imported here: only to see that the optional driver is there, when the URL asks for it
        import psycopg  # noqa: F401
    except ImportError:
        raise MissingExtra("DATABASE_URL on PostgreSQL", "postgresql") from None
