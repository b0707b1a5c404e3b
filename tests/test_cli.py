"""Guard tests: every CLI command has help, and the README documents every command and variable."""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from newsmon.app.cli import build_parser
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
    result = subprocess.run(
        [sys.executable, "-m", "newsmon", *command, "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: newsmon" in result.stdout
    readme = (ROOT / "README.md").read_text()
    assert f"newsmon {' '.join(command)}" in readme, f"README does not document `newsmon {' '.join(command)}`"


@pytest.mark.parametrize("variable", ["REDIS_URL", "DATABASE_URL", "NEWSMON_DATA_DIR", "NEWSMON_CONFIG_DIR",
                                      "NEWSMON_TEST_REDIS_URL", "NEWSMON_TEST_DATABASE_URL"])
def test_environment_variables_are_documented(variable: str) -> None:
    assert variable in (ROOT / "README.md").read_text()


KERNEL_FILES = sorted(path for path in (ROOT / "newsmon").rglob("*.py")
                      if path.name != "__main__.py" and "app" not in path.relative_to(ROOT / "newsmon").parts)
KERNEL = [
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for path in KERNEL_FILES
]


def _imports(path) -> list[str]:
    """The absolute module names a file imports (at any depth: inside functions too)."""
    import ast

    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _layer(name: str) -> str:
    top = name.split(".")[0]
    if top in ("crawler", "workers", "alerts"):
        return top
    if name == "newsmon.app" or name.startswith("newsmon.app."):
        return "application"
    return "kernel" if top == "newsmon" else "other"


def test_role_packages_import_and_kernel_stays_independent() -> None:
    """Importing every kernel module loads no role and nothing of the application layer."""
    code = (
        f"import sys, {', '.join(KERNEL)};"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('crawler','workers','alerts')"
        " or m.startswith('newsmon.app')];"
        "assert not bad, bad;"
        "import crawler.spiders.feed, crawler.scheduler, crawler.pipelines, workers.jobs, alerts.jobs,"
        " newsmon.app.cli, newsmon.app.web, newsmon.app.demo"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr


ROLES = ("crawler", "workers", "alerts")


def _crossings(files) -> list[str]:
    found = []
    for path, layer in files:
        for name in _imports(path):
            target = _layer(name)
            if target not in {"kernel", "other"} | ({layer} if layer in ROLES else set()):
                found.append(f"{path.name} ({layer}) imports {name} ({target})")
    return found


def test_layers_import_only_downwards() -> None:
    """The kernel imports no role and no application module; a role imports no other role and nothing of
    the application layer (roles meet through Redis and RQ job names). Only the application sits on top."""
    files = [(path, "kernel") for path in KERNEL_FILES]
    files += [(path, role) for role in ROLES for path in (ROOT / role).rglob("*.py")]
    assert "newsmon.settings.loader" in KERNEL and "newsmon.app.cli" not in KERNEL and len(files) > 50
    assert _crossings(files) == []


QUEUE_OWNERS = {"process": "workers", "alerts": "alerts"}  # the role whose workers run a queue's jobs
_JOB_PATH = re.compile(r"^(crawler|workers|alerts)(\.[a-z_]+){2,}$")  # a module and its function


def _job_name_strings(path: Path) -> list[str]:
    """String constants in a file that read as a role's dotted function path (a job name written out)."""
    return [node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _JOB_PATH.match(node.value)]


def test_every_job_name_is_a_constant_that_resolves_in_the_role_owning_its_queue() -> None:
    """Roles reach each other by RQ job names, which the import guard cannot see: each lives once, in
    keys.JOBS with its queue, names a function of the role that owns that queue, and is written out
    nowhere else in the kernel or a role."""
    import importlib

    from newsmon import keys

    assert {keys.PROCESS_BATCH_JOB, keys.PROCESS_STORY_JOB, keys.ROUTE_STORY_JOB, keys.DELIVER_JOB,
            keys.SEND_DIGEST_JOB} == set(keys.JOBS)
    for name, queue in keys.JOBS.items():
        module, function = name.rsplit(".", 1)
        assert module.split(".")[0] == QUEUE_OWNERS[queue], f"{name} runs on {queue}, another role's queue"
        assert callable(getattr(importlib.import_module(module), function)), name
    written = [(path.relative_to(ROOT), value)
               for path in [*KERNEL_FILES, *(p for role in ROLES for p in (ROOT / role).rglob("*.py"))]
               if path.name != "keys.py" for value in _job_name_strings(path)]
    assert written == [], f"job names written out instead of keys.*_JOB: {written}"


def test_the_layer_guard_sees_a_crossing(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import workers.jobs\n\ndef f():\n    from newsmon.app.cli import main\n"
                   "    from newsmon import app\n")
    assert len(_crossings([(bad, "kernel")])) == 3
    assert len(_crossings([(bad, "workers")])) == 2
    assert len(_crossings([(bad, "alerts")])) == 3


def test_every_failure_kind_the_crawler_can_name_is_in_the_readme() -> None:
    """A failure kind added to the crawler without a word in the README fails here."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "crawler").rglob("*.py"))
    kinds = set(re.findall(r'Failure\(\s*"([a-z-]+)"', source)) | {"over-budget"}
    assert len(kinds) >= 15, kinds
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted(k for k in kinds if f"`{k}`" not in readme)
    assert missing == [], f"failure kinds not in the README: {missing}"
