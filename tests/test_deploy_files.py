"""The deployment's files stay in step with the code: the replay profile's config is the demo's, and the
compose file and Dockerfile keep what an admin relies on (a web service, health checks, a user)."""

from __future__ import annotations

from pathlib import Path

import yaml

from newsmon.app.demo import write_demo_config
from newsmon.app.replay import ReplaySite
from newsmon.settings import default_config_dir, load_config
from tests.conftest import ROOT


def test_the_replay_profile_config_is_the_demo_s_on_the_replay_service(tmp_path: Path) -> None:
    write_demo_config(tmp_path, "http://replay:8080", ReplaySite.demo(), default_config_dir(),
                      Path("/data/outbox/alerts.jsonl"), console=False, interval=10)
    committed = ROOT / "deploy" / "replay" / "config"
    for name in ("sources.yaml", "alerts.yaml"):
        assert yaml.safe_load((committed / name).read_text(encoding="utf-8")) == \
            yaml.safe_load((tmp_path / name).read_text(encoding="utf-8")), name
    # a copy of the shipped keywords (a bind mount cannot add a file inside a read-only one): kept equal
    shipped = (default_config_dir() / "keywords.yaml").read_bytes()
    assert (committed / "keywords.yaml").read_bytes() == shipped, "copy config/keywords.yaml to deploy/replay"
    for name in ("sources.yaml", "alerts.yaml", "keywords.yaml"):
        (tmp_path / name).write_text((committed / name).read_text(encoding="utf-8"), encoding="utf-8")
    config = load_config(tmp_path)
    assert {s.url.split("/")[2] for s in config.enabled_sources()} == {"replay:8080"}


def test_compose_has_a_web_service_health_checks_and_overridable_images() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"redis", "postgres", "scheduler", "crawler", "worker", "web", "replay"} <= set(services)
    for role in ("scheduler", "crawler", "worker", "web"):
        assert services[role]["healthcheck"]["test"] == ["CMD", "newsmon", "healthcheck"], role
        assert services[role]["depends_on"]["redis"]["condition"] == "service_healthy", role
        assert services[role]["image"] == "${NEWSMON_IMAGE:-newsmon:local}", role
    assert services["web"]["ports"] == ["${NEWSMON_WEB_BIND:-127.0.0.1}:${NEWSMON_WEB_PORT:-8470}:8470"]
    assert services["replay"]["profiles"] == ["replay"]
    assert services["redis"]["image"] == "${REDIS_IMAGE:-redis:7}"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile and "USER 10001" in dockerfile
    assert "--require-hashes -r /tmp/requirements.lock" in dockerfile
    assert 'HEALTHCHECK' in dockerfile and '"newsmon", "healthcheck"' in dockerfile


def _pins(path: Path) -> dict[str, str]:
    """name -> version of a lock file's `name==version` lines (markers aside)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#") and "==" in line:
            name, version = line.split(";")[0].split(" ")[0].split("==")
            pins[name.lower().replace("_", "-").replace(".", "-")] = version
    return pins


def test_the_locks_pin_every_dependency_within_pyproject_s_ranges() -> None:
    """The lock files stay in step with pyproject.toml: every dependency pinned, within its range (after
    changing a range: regenerate them, README "Dependencies"); the image's lock is the tests' lock."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    extras = [Requirement(r) for r in project["optional-dependencies"]["postgresql"]]
    tests = [Requirement(r) for r in project["optional-dependencies"]["test"] if not r.startswith("newsmon")]
    for lock, wanted in (("requirements.lock", runtime + extras),
                         ("requirements-test.lock", runtime + extras + tests),
                         ("requirements-lowest.lock", runtime + extras + tests)):
        pins = _pins(ROOT / lock)
        for requirement in wanted:
            name = requirement.name.lower().replace("_", "-").replace(".", "-")
            assert name in pins, f"{lock} does not pin {requirement.name}"
            assert requirement.specifier.contains(pins[name], prereleases=True), \
                f"{lock}: {requirement.name}=={pins[name]} is outside {requirement.specifier}"
    image, suite = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-test.lock")
    assert {n: v for n, v in suite.items() if n in image} == image
