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
def test_every_command_has_help_and_is_documented(command: tuple[str, ...], capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*command, "--help"])
    assert exited.value.code == 0
    assert "usage: newsmon" in capsys.readouterr().out
    readme = (ROOT / "README.md").read_text()
    assert f"newsmon {' '.join(command)}" in readme, f"README does not document `newsmon {' '.join(command)}`"


@pytest.mark.e2e  # runs the CLI in a subprocess
def test_the_installed_entry_point_answers_help() -> None:
    """`python -m newsmon --help` starts (the per-command help is read from the parser, in process)."""
    result = subprocess.run([sys.executable, "-m", "newsmon", "--help"], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0 and "usage: newsmon" in result.stdout, result.stderr


def _environment_variables(path: Path) -> set[str]:
    """The environment variables a Python file reads by name: os.environ.get("X"), os.environ["X"],
    os.getenv("X"), environ.setdefault/pop("X")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "environ":
            key = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args and (
                (node.func.attr in ("get", "setdefault", "pop") and isinstance(node.func.value, ast.Attribute)
                 and node.func.value.attr == "environ") or node.func.attr == "getenv"):
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.add(key.value)
    return found


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    """Each variable newsmon or its test set-up (conftest.py) reads from the environment has a row in the
    README's table."""
    files = [path for folder in LAYER_OF_FOLDER for path in (ROOT / folder).rglob("*.py")]
    files.append(ROOT / "tests" / "conftest.py")
    read = set().union(*(_environment_variables(path) for path in files))
    assert {"REDIS_URL", "DATABASE_URL", "NEWSMON_DATA_DIR", "NEWSMON_CONFIG_DIR", "NEWSMON_WEB_TOKEN",
            "NEWSMON_TEST_REDIS_URL", "NEWSMON_TEST_DATABASE_URL", "NEWSMON_TEST_STRICT"} <= read, read
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Environment variables"):readme.index("## One system on one machine")]
    assert sorted(name for name in read if f"| `{name}` |" not in table) == []


def test_the_readme_config_reference_is_the_models() -> None:
    """The README lists every field of every config file as the models define it: a field added (or a
    description changed) without `python -m newsmon.settings.reference --write README.md` fails here."""
    from newsmon.settings import reference

    rows = [row for _, model in reference.FILES for row in reference.fields(model)]
    assert len(rows) > 100 and all(description for _, _, _, description in rows)
    assert reference.block((ROOT / "README.md").read_text(encoding="utf-8")) == reference.render()


def test_the_reference_check_sees_a_field_added_without_readme_text() -> None:
    from pydantic import Field

    from newsmon.settings import reference
    from newsmon.settings.pipeline import PipelineFile

    class Grown(PipelineFile):
        max_story_bytes: int = Field(default=1, description="a field the README does not know yet")

    block = reference.block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block is not None
    paths = {path for path, *_ in reference.fields(Grown)}
    assert "max_story_bytes" in paths and "`max_story_bytes`" not in block
    assert {path for path in paths if f"| `{path}` |" not in block} == {"max_story_bytes"}


# The repository keeps one top-level folder per layer, all installed under the one name `newsmon`
# (pyproject.toml maps them): the kernel newsmon/, the roles, the application app/. newsmon/__main__.py
# (`python -m newsmon`) only starts the application's CLI: an entry point, outside the layers.
ROLES = ("crawler", "scheduler", "workers", "alerts")
LAYER_OF_FOLDER = {"newsmon": "kernel", **{role: role for role in ROLES}, "app": "application"}
KERNEL_FILES = sorted(path for path in (ROOT / "newsmon").rglob("*.py") if path.name != "__main__.py")
KERNEL = [
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for path in KERNEL_FILES
]


def _imports(path: Path) -> list[str]:
    """The absolute module names a file imports (at any depth: inside functions too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _layer(name: str) -> str:
    """The layer of an imported module name: `newsmon.<role>...` is that role, `newsmon.app...` the
    application, the rest of `newsmon` the kernel; a folder's own name (`crawler.x`, `app.x`) is
    `unmapped`: it resolves only from a checkout, never once installed."""
    parts = name.split(".")
    if parts[0] in LAYER_OF_FOLDER and parts[0] != "newsmon":
        return "unmapped"
    if parts[0] != "newsmon":
        return "other"
    if len(parts) > 1 and parts[1] in LAYER_OF_FOLDER and parts[1] != "newsmon":
        return LAYER_OF_FOLDER[parts[1]]
    return "kernel"


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_role_packages_import_and_kernel_stays_independent() -> None:
    """Importing every kernel module loads no role and nothing of the application layer."""
    code = (
        f"import sys, {', '.join(KERNEL)};"
        f"bad=[m for m in sys.modules if m.split('.')[0] in {(*ROLES, 'app')!r}"
        f" or m.split('.')[:2] in {[['newsmon', p] for p in (*ROLES, 'app')]!r}];"
        "assert not bad, bad;"
        "import newsmon.crawler.spiders.feed, newsmon.scheduler.clock, newsmon.crawler.pipelines,"
        " newsmon.workers.jobs, newsmon.alerts.jobs, newsmon.app.cli, newsmon.app.web, newsmon.app.demo"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _allowed(layer: str, target: str) -> bool:
    if target in ("other", "kernel") or layer == "application":
        return target != "unmapped"
    return target == layer and layer in ROLES


def _crossings(files) -> list[str]:
    """Imports that run from a layer into one above it, into another role, or into an unmapped name."""
    return [f"{path.name} ({layer}) imports {name} ({_layer(name)})" for path, layer in files
            for name in _imports(path) if not _allowed(layer, _layer(name))]


def _files_by_layer() -> list[tuple[Path, str]]:
    return [(path, layer) for folder, layer in LAYER_OF_FOLDER.items()
            for path in (ROOT / folder).rglob("*.py") if path != ROOT / "newsmon" / "__main__.py"]


def test_layers_import_only_downwards() -> None:
    """Drawn by top-level folder, every import runs downwards: the kernel imports no role and no
    application module; a role imports the kernel only (roles meet through Redis and RQ job names); the
    application sits on top. No module imports a folder by its own name instead of `newsmon.<folder>`."""
    files = _files_by_layer()
    assert {layer for _, layer in files} == {"kernel", "application", *ROLES} and len(files) > 80
    assert "newsmon.settings.loader" in KERNEL and not any(k.startswith("newsmon.app") for k in KERNEL)
    assert _crossings(files) == []


def _module_name(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    parts = (["newsmon"] if folder == "newsmon" else ["newsmon", folder]) + rest
    return ".".join(parts).removesuffix(".__init__")


def _function_imports(path: Path) -> list[tuple[str, int]]:
    """(function, line of its first import) for each function that imports inside its body."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nested = {id(n) for inner in ast.walk(node) if inner is not node
                      and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(inner)}
            lines = [n.lineno for n in ast.walk(node)
                     if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in nested]
            if lines:
                found.append((node.name, min(lines)))
    return found


def test_function_level_imports_say_why() -> None:
    """An import inside a function keeps start-up light or an optional dependency optional, and says
    which on the line above it (`# imported here: <reason>`); anything else belongs at the top."""
    missing = []
    for path, _layer_name in _files_by_layer():
        lines = path.read_text(encoding="utf-8").splitlines()
        for function, line in _function_imports(path):
            if not lines[line - 2].strip().startswith("# imported here: "):
                missing.append(f"{path.relative_to(ROOT)}:{line} ({function})")
    assert missing == [], missing


def test_no_import_cycle() -> None:
    """Imports between newsmon's modules, at the top or inside functions, form no cycle (a module that
    imports another inside a function to dodge a cycle is a sign of a decision in the wrong room)."""
    modules = {_module_name(path): path for path, _ in _files_by_layer()}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    cycles, state = [], {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target] if target in trail else [name, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], cycles


def test_the_import_guards_see_what_they_guard(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import os\n\n\ndef g():\n    # imported here: a reason\n    import sys\n")
    assert [name for name, _ in _function_imports(bad)] == ["f", "g"]
    lines = bad.read_text().splitlines()
    assert [name for name, line in _function_imports(bad)
            if not lines[line - 2].strip().startswith("# imported here: ")] == ["f"]


def test_everything_installs_under_one_name() -> None:
    """pyproject.toml installs each layer's folder under `newsmon` and no top-level package beside it."""
    import tomllib

    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert all(p == "newsmon" or p.startswith("newsmon.") for p in tool["packages"])
    assert {f"newsmon.{folder}": folder for folder in (*ROLES, "app")}.items() <= tool["package-dir"].items()
    folders = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    assert folders == set(LAYER_OF_FOLDER), folders


QUEUE_OWNERS = {"process": "workers", "alerts": "alerts"}  # the role whose workers run a queue's jobs
# a module and its function
_JOB_PATH = re.compile(r"^(newsmon\.)?(crawler|scheduler|workers|alerts)(\.[a-z_]+){2,}$")


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

    names = {value for name, value in vars(keys).items() if name.endswith("_JOB")}
    assert names == set(keys.JOBS) and len(names) == 10
    for name, queue in keys.JOBS.items():
        module, function = name.rsplit(".", 1)
        assert _layer(module) == QUEUE_OWNERS[queue], f"{name} runs on {queue}, another role's queue"
        assert callable(getattr(importlib.import_module(module), function)), name
    written = [(path.relative_to(ROOT), value)
               for path, layer in _files_by_layer() if layer != "application" and path.name != "keys.py"
               for value in _job_name_strings(path)]
    assert written == [], f"job names written out instead of keys.*_JOB: {written}"


def test_the_layer_guard_sees_a_crossing(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import workers.jobs\nimport newsmon.workers.jobs\n\ndef f():\n"
                   "    from newsmon.app.cli import main\n    from newsmon import app\n")
    assert len(_crossings([(bad, "kernel")])) == 4
    assert len(_crossings([(bad, "workers")])) == 3  # its own role by its installed name is fine
    assert len(_crossings([(bad, "alerts")])) == 4
    assert len(_crossings([(bad, "application")])) == 1  # the application may import any role, not by folder


def test_every_failure_kind_the_crawler_can_name_is_in_the_readme() -> None:
    """A failure kind added to the crawler without a word in the README fails here."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "crawler").rglob("*.py"))
    kinds = set(re.findall(r'Failure\(\s*"([a-z-]+)"', source)) | {"over-budget"}
    assert len(kinds) >= 15, kinds
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted(k for k in kinds if f"`{k}`" not in readme)
    assert missing == [], f"failure kinds not in the README: {missing}"


@pytest.mark.parametrize("args", [("worker", "--burst"), ("search", "كركوك")])
def test_postgresql_without_its_extra_names_the_extra(tmp_path: Path, args: tuple[str, ...]) -> None:
    """psycopg is the `postgresql` extra: a DATABASE_URL on PostgreSQL without it is one clear line."""
    # the driver made unimportable in this process only, as in an install without the extra
    code = ("import sys; sys.modules['psycopg'] = None; from newsmon.app.cli import main; "
            f"sys.exit(main({['--config-dir', str(ROOT / 'config'), *args]!r}))")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NEWSMON_DATA_DIR": str(tmp_path / "var"),
           "DATABASE_URL": "postgresql://newsmon@127.0.0.1:1/newsmon", "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                            env=env, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"newsmon {args[0]}: DATABASE_URL on PostgreSQL needs newsmon's `postgresql` extra, which is not "
        "installed: pip install 'newsmon[postgresql]' (in a checkout: pip install -e '.[postgresql]')")
    assert "Traceback" not in result.stderr
