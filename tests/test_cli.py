"""Guard tests: every CLI command has help, and the README documents every command and variable."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from newsmon.cli import build_parser
from tests.conftest import ROOT


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((*prefix, name))
                found.extend(_commands(sub, (*prefix, name)))
    return found


COMMANDS = _commands(build_parser())


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_and_is_documented(command: tuple[str, ...]) -> None:
    result = subprocess.run([sys.executable, "-m", "newsmon", *command, "--help"], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: newsmon" in result.stdout
    readme = (ROOT / "README.md").read_text()
    assert f"newsmon {' '.join(command)}" in readme, f"README does not document `newsmon {' '.join(command)}`"


@pytest.mark.parametrize("variable", ["REDIS_URL", "DATABASE_URL", "NEWSMON_DATA_DIR", "NEWSMON_CONFIG_DIR",
                                      "NEWSMON_TEST_REDIS_URL", "NEWSMON_TEST_DATABASE_URL"])
def test_environment_variables_are_documented(variable: str) -> None:
    assert variable in (ROOT / "README.md").read_text()


def test_role_packages_import_and_kernel_stays_independent() -> None:
    code = (
        "import sys, newsmon.settings, newsmon.models, newsmon.redis_conn, newsmon.replay, newsmon.demo;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('crawler','workers','alerts')];"
        "assert not bad, bad;"
        "import crawler.spiders.feed, crawler.scheduler, crawler.pipelines, workers.jobs, alerts.jobs"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr


def test_roles_reach_each_other_only_through_redis() -> None:
    """No role package imports another (crawler, workers and alerts meet through Redis and RQ job names)."""
    import ast

    roles = ("crawler", "workers", "alerts")
    crossings = []
    for role in roles:
        for path in (ROOT / role).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                crossings += [f"{path.relative_to(ROOT)}: {name}" for name in names
                              if name.split(".")[0] in roles and name.split(".")[0] != role]
    assert crossings == []
