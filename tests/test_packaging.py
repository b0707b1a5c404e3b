"""A non-editable install carries everything newsmon needs: `pip install .` into a fresh virtual
environment, then `newsmon demo` from another directory (no repository on the path, no config dir)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


def test_pip_install_dot_runs_the_demo_from_anywhere(tmp_path: Path) -> None:
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=120)
    python = fresh / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies come from the test environment (a path, so its editable newsmon is not seen);
    # newsmon itself is built (in pip's isolated build environment, as the README's set-up builds it) and
    # installed as a wheel, as `pip install .` does
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(ROOT)],
                             capture_output=True, text=True, timeout=300, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEWSMON_CONFIG_DIR", "REDIS_URL",
                                                             "DATABASE_URL", "NEWSMON_DATA_DIR")}
    where = subprocess.run([str(fresh / "bin" / "python"), "-c", "import newsmon; print(newsmon.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site)), where.stdout  # the installed copy, not the repository's
    # one name in site-packages: the roles and the application live inside the newsmon package
    assert not {"crawler", "workers", "alerts", "app", "config"} & {p.name for p in site.iterdir()}
    installed = {p.name for p in (site / "newsmon").iterdir()}
    assert {"crawler", "workers", "alerts", "app", "shipped_config"} <= installed, installed
    demo = subprocess.run([str(fresh / "bin" / "newsmon"), "demo", "--json"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert demo.returncode == 0, demo.stderr[-3000:]
    alerts = [json.loads(line) for line in demo.stdout.splitlines() if line.strip()]
    assert any(a["title"] == 'العراق يعلق على "تحرك قوات امريكية" الى كركوك' and "k1_base" in a["topics"]
               for a in alerts), demo.stdout[-2000:]
