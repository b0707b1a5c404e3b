"""Paths as a user reads them."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it (`./var`), else as given."""
    try:
        relative = Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(path)
    return "./" + str(relative) if str(relative) != "." else "."
