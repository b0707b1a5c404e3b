"""Paths as a user reads them."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path


def display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it (`./var`), else as given."""
    try:
        relative = Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(path)
    return "./" + str(relative) if str(relative) != "." else "."


def invocation() -> str:
    """How this newsmon was started, as a command to print for the user (`.venv/bin/newsmon`,
    `newsmon` when it was found on the PATH, `python -m newsmon`): printed next steps work as printed."""

    argv0 = Path(sys.argv[0])
    if argv0.name == "newsmon":
        on_path = shutil.which("newsmon")
        if on_path and Path(on_path).resolve() == argv0.resolve():
            return "newsmon"
        return shlex.quote(display_path(argv0))
    return f"{shlex.quote(display_path(Path(sys.executable)))} -m newsmon"


CONFIG_DIR_FILE = "CONFIG_DIR"  # in a data directory: the config directory its system last ran with


def remember_config_dir(data_dir: Path, config_dir: Path) -> None:
    """Note in the data directory which config its system runs with, for commands typed after it ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / CONFIG_DIR_FILE).write_text(str(Path(config_dir).resolve()) + "\n", encoding="utf-8")


def remembered_config_dir(data_dir: Path) -> Path | None:
    """The config directory the system of this data directory last ran with, when it still exists."""
    try:
        found = Path((data_dir / CONFIG_DIR_FILE).read_text(encoding="utf-8").strip())
    except OSError:
        return None
    return found if found.is_dir() else None
