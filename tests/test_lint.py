"""The code follows ruff's default rules and the project's 110-character lines (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CODE = ["newsmon", "crawler", "workers", "alerts", "tests", "bench"]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(ROOT / "pyproject.toml"), *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)


def test_the_code_passes_ruff() -> None:
    result = _ruff(*CODE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_refuses_a_long_line(tmp_path: Path) -> None:
    sample = tmp_path / "long.py"
    sample.write_text(f'TEXT = "{"x" * 110}"\n')
    result = _ruff(str(sample))
    assert result.returncode == 1 and "E501" in result.stdout, result.stdout + result.stderr
