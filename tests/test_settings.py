"""Config loading and validation: shipped files, bad files named precisely, `${VAR}` expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.app.cli import main
from newsmon.errors import ConfigError
from newsmon.settings import AppriseChannel, load_config
from tests.conftest import SHIPPED_CONFIG, write_config

ROUTE_ALL = {
    "channels": {"box": {"type": "console"}},
    "routes": [{"id": "r", "topics": ["*"], "channels": ["box"]}],
}
SOURCE = {"id": "s1", "name": "S", "outlet": "O", "language": "ar", "kind": "feed", "url": "http://x/feed"}


def test_shipped_config_is_valid() -> None:
    config = load_config(SHIPPED_CONFIG)
    assert config.enabled_sources(), "the shipped config polls nothing"
    assert {"k1_base", "coalition_troops"} <= set(config.keywords.topics)
    for source in config.enabled_sources():
        assert source.evidence, f"enabled source {source.id} has no evidence"


def test_catalogue_covers_the_outlets_and_explains_disabled_sources() -> None:
    config = load_config(SHIPPED_CONFIG)
    outlets = {s.outlet for s in config.sources.sources}
    for name in (
        "Kurdistan24",
        "Rudaw",
        "Shafaq News",
        "Alsumaria",
        "INA",
        "Baghdad Today",
        "964",
        "NRT",
        "Esta",
        "BasNews",
        "Al-Mada",
        "Kurdistan TV",
        "KirkukNow",
        "Iraqi News",
        "KRG",
    ):
        assert name in outlets, name
        assert config.sources.outlets[name].affiliation
    assert {s.kind for s in config.sources.sources} == {"feed", "listing", "sitemap", "telegram"}
    assert {s.language for s in config.sources.sources} >= {"ar", "ckb", "kmr", "en"}
    lines = (SHIPPED_CONFIG / "sources.yaml").read_text(encoding="utf-8").splitlines()
    for source in config.sources.sources:
        if source.enabled:
            continue
        at = next(i for i, line in enumerate(lines) if f"id: {source.id}," in line)
        assert any(line.strip().startswith("# check") for line in lines[max(0, at - 3):at]), source.id


def test_example_configs_are_valid(tmp_path: Path) -> None:
    example = SHIPPED_CONFIG / "examples" / "alerts.email-and-chat.yaml"
    directory = write_config(tmp_path, [SOURCE], {})
    directory.joinpath("alerts.yaml").write_text(example.read_text())
    env = {n: "x" for n in ("SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD", "SLACK_TOKEN_A", "SLACK_TOKEN_B",
                            "SLACK_TOKEN_C")}
    config = load_config(directory, environ=env)
    assert config.alerts.smtp is not None


@pytest.mark.parametrize(
    ("file", "mutate", "field", "expected"),
    [
        (
            "sources.yaml",
            lambda s: s["sources"][0].update(colour="red"),
            "sources[0].colour",
            "unknown field",
        ),
        (
            "sources.yaml",
            lambda s: s["sources"][0].update(kind="carrier-pigeon"),
            "sources[0].kind",
            "'feed'",
        ),
        ("sources.yaml", lambda s: s["sources"][0].update(interval=0), "sources[0].interval", "greater than"),
        ("sources.yaml", lambda s: s["sources"].append(dict(SOURCE)), "sources[1].id", "duplicate"),
        (
            "alerts.yaml",
            lambda a: a["routes"][0].update(topics=["k2"]),
            "routes[0].topics[0]",
            "unknown topic",
        ),
        (
            "alerts.yaml",
            lambda a: a["routes"][0].update(channels=["fax"]),
            "routes[0].channels[0]",
            "unknown channel",
        ),
        (
            "alerts.yaml",
            lambda a: a["channels"].update(mail={"type": "email", "to": ["a@b"]}),
            "channels.mail",
            "smtp",
        ),
    ],
)
def test_bad_config_names_file_and_field(
    tmp_path: Path, file: str, mutate, field: str, expected: str
) -> None:
    import yaml

    directory = write_config(tmp_path, [dict(SOURCE)], ROUTE_ALL)
    data = yaml.safe_load((directory / file).read_text())
    mutate(data)
    (directory / file).write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert caught.value.file.endswith(file)
    assert caught.value.field == field
    assert expected in caught.value.problem


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    directory = write_config(tmp_path, [SOURCE], ROUTE_ALL)
    (directory / "keywords.yaml").write_text("topics:\n  k1: {name: K-1, any: [K-1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert caught.value.file.endswith("keywords.yaml")
    assert caught.value.field.startswith("line ")


def test_env_expansion_and_secret_masking(tmp_path: Path) -> None:
    alerts = {"channels": {"chat": {"type": "apprise", "url": "json://host/${HOOK_TOKEN}"}},
              "routes": [{"id": "r", "topics": ["*"], "channels": ["chat"]}]}
    directory = write_config(tmp_path, [SOURCE], alerts)
    config = load_config(directory, environ={"HOOK_TOKEN": "s3cret"})
    channel = config.alerts.channels["chat"]
    assert isinstance(channel, AppriseChannel)
    assert channel.url.get_secret_value() == "json://host/s3cret"
    assert "s3cret" not in repr(config.alerts)
    with pytest.raises(ConfigError) as caught:
        load_config(directory, environ={})
    assert caught.value.field == "channels.chat.url"
    assert "HOOK_TOKEN" in caught.value.problem
    # newsmon.yaml too: every config file expands ${VAR}
    (directory / "newsmon.yaml").write_text('crawler: {user_agent: "newsmon (${DESK_CONTACT})"}\n')
    config = load_config(directory, environ={"HOOK_TOKEN": "s3cret", "DESK_CONTACT": "desk@example.org"})
    assert config.pipeline.crawler.user_agent == "newsmon (desk@example.org)"


def test_config_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--config-dir", str(SHIPPED_CONFIG)]) == 0
    assert "valid" in capsys.readouterr().out
    example = tmp_path / "example"
    example.mkdir()
    for name in ("sources.yaml", "keywords.yaml"):
        (example / name).write_text((SHIPPED_CONFIG / name).read_text(encoding="utf-8"), encoding="utf-8")
    (example / "alerts.yaml").write_text(
        (SHIPPED_CONFIG / "examples" / "alerts.email-and-chat.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    secrets = {"SMTP_HOST": "mail.example", "SMTP_USER": "u", "SMTP_PASSWORD": "x", "SLACK_TOKEN_A": "a",
               "SLACK_TOKEN_B": "b", "SLACK_TOKEN_C": "c"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in secrets.items():
            patch.setenv(key, value)
        assert main(["config", "check", "--config-dir", str(example)]) == 0
    out = capsys.readouterr().out
    assert "3 desks (0 of them routes, 1 digest, 1 with breaking alerts)" in out, out
    directory = write_config(tmp_path, [dict(SOURCE, url="ftp://nope")], ROUTE_ALL)
    assert main(["config", "check", "--config-dir", str(directory)]) == 2
    err = capsys.readouterr().err
    assert "sources.yaml" in err and "sources[0].url" in err


def test_libyaml_and_the_python_loader_read_every_shipped_file_alike() -> None:
    import yaml

    from newsmon.settings.loader import _SLOW, _load_fast, _NoAliasLoader

    shipped = Path(__file__).resolve().parent.parent / "config"
    files = sorted(shipped.glob("*.yaml")) + sorted(shipped.glob("examples/*.yaml"))
    assert len(files) >= 4
    for path in files:
        raw = path.read_bytes()
        fast = _load_fast(raw)
        assert fast is not _SLOW, path  # libyaml is installed with PyYAML's wheels
        assert fast == yaml.load(raw, Loader=_NoAliasLoader), path
    # an alias, deep nesting and an error go to the Python loader, which says why in its own words
    assert _load_fast(b"a: &x [1]\nb: *x\n") is _SLOW
    assert _load_fast(b"a: [1\n") is _SLOW
    with pytest.raises(RecursionError):
        _load_fast(b"a: " + b"[" * 200 + b"]" * 200)
