"""Reading a config directory: YAML without aliases, `${VAR}` expansion in every file, validation into
the schemas with errors that name file and field, and the checks across files."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from newsmon.errors import ConfigError
from newsmon.settings.alerts import ALERTS_FILE, AlertsFile, EmailChannel
from newsmon.settings.common import StrictModel
from newsmon.settings.keywords import KEYWORDS_FILE, KeywordsFile
from newsmon.settings.pipeline import PIPELINE_FILE, PipelineFile
from newsmon.settings.sources import SOURCES_FILE, Source, SourcesFile

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Config:
    """The validated config of one config directory."""

    directory: Path
    sources: SourcesFile
    keywords: KeywordsFile
    alerts: AlertsFile
    version: str
    pipeline: PipelineFile = field(default_factory=PipelineFile)

    @property
    def job_keep_seconds(self) -> int:
        """How long finished and failed alert jobs are kept: their ids are what stops a story from
        being handed on twice, so at least the dedupe window (and 30 days for failed deliveries)."""
        return max(self.pipeline.dedupe.window_days, 30) * 86400

    def source(self, source_id: str) -> Source | None:
        """Return the source with this id, or None."""
        return next((s for s in self.sources.sources if s.id == source_id), None)

    def enabled_sources(self) -> list[Source]:
        """Sources that the scheduler polls."""
        return [s for s in self.sources.sources if s.enabled]


def expand_env(value: Any, file: str, path: str = "", environ: dict[str, str] | None = None) -> Any:
    """Replace `${VAR}` in every string of a parsed YAML tree; a missing variable is a ConfigError."""
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: expand_env(v, file, _join(path, str(k)), env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, file, f"{path}[{i}]", env) for i, v in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(file, path, f"environment variable {name} is not set")
            return env[name]

        return _ENV_REF.sub(substitute, value)
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


MAX_CONFIG_BYTES = 16 * 1024 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*name` can repeat a node without bound (an alias bomb of a few hundred
    bytes expands to gigabytes), and nothing in newsmon's files needs it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"YAML aliases (*{event.anchor}) are not allowed in "
                f"newsmon config files; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


MAX_DEPTH = 100  # no newsmon file nests deeper than a few levels
_SLOW = object()


def _load_fast(raw: bytes) -> Any:
    """Load with libyaml (ten times the pure-Python loader on a keywords file of 10,000 aliases), after
    reading its events once for what the Python loader refuses: an alias, deep nesting. Returns _SLOW
    when libyaml is missing or the file holds an alias or an error, for the Python loader to say why."""
    if not getattr(yaml, "__with_libyaml__", False):
        return _SLOW
    depth = 0
    try:
        for event in yaml.parse(raw, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return _SLOW
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise RecursionError
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(raw, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return _SLOW


def _read_yaml(path: Path, raw: bytes | None = None) -> tuple[Any, bytes]:
    if raw is None:
        if not path.is_file():
            raise ConfigError(str(path), "", "file not found")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(str(path), "", f"larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB")
        raw = path.read_bytes()
    try:
        data = _load_fast(raw)
        if data is _SLOW:  # an alias or an error: the Python loader refuses it with its own words
            data = yaml.load(raw, Loader=_NoAliasLoader)
    except RecursionError:
        raise ConfigError(str(path), "", "not valid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "expected a mapping at the top level")
    return data, raw


def _validate(model: type[StrictModel], data: dict[str, Any], file: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in error["loc"]
        ).replace(".[", "[")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if error["type"] == "value_error" and ": " in message and not field:
            field, message = message.split(": ", 1)
        raise ConfigError(file, field, message) from exc


def load_keywords(path: str | Path, environ: dict[str, str] | None = None) -> KeywordsFile:
    """Load and validate one keywords file (for `newsmon keywords` and hot reload).

    Raises:
        ConfigError: naming the file, the field path and what was expected.
    """
    data, _raw = _read_yaml(Path(path))
    return _validate(KeywordsFile, expand_env(data, str(path), environ=environ), str(path))


CONFIG_FILES = (SOURCES_FILE, KEYWORDS_FILE, ALERTS_FILE, PIPELINE_FILE)


def read_config_files(directory: str | Path) -> dict[str, bytes]:
    """The raw bytes of the config files present in a directory (what `keywords reload` publishes)."""
    root = Path(directory)
    return {name: (root / name).read_bytes() for name in CONFIG_FILES if (root / name).is_file()}


def load_config(directory: str | Path, environ: dict[str, str] | None = None,
                files: dict[str, bytes] | None = None) -> Config:
    """Load and validate sources.yaml, keywords.yaml and alerts.yaml (and newsmon.yaml) from a directory.

    With `files` (name -> raw bytes, as published by `keywords reload`), those bytes are read instead of
    the directory's files; `${VAR}` is still expanded from this process's environment.

    Raises:
        ConfigError: naming the file, the field path and what was expected.
    """
    root = Path(directory)
    parsed: dict[str, Any] = {}
    digest = hashlib.sha256()
    models = {SOURCES_FILE: SourcesFile, KEYWORDS_FILE: KeywordsFile, ALERTS_FILE: AlertsFile}
    for name, model in models.items():
        path = root / name
        if files is not None and name not in files:
            raise ConfigError(str(path), "", "file not found in the published config")
        data, raw = _read_yaml(path, None if files is None else files[name])
        digest.update(raw)
        parsed[name] = _validate(model, expand_env(data, str(path), environ=environ), str(path))
    pipeline = PipelineFile()
    if (files is not None and PIPELINE_FILE in files) or (files is None and (root / PIPELINE_FILE).is_file()):
        data, raw = _read_yaml(root / PIPELINE_FILE, None if files is None else files[PIPELINE_FILE])
        digest.update(raw)
        pipeline = _validate(PipelineFile, expand_env(data, str(root / PIPELINE_FILE), environ=environ),
                             str(root / PIPELINE_FILE))
    config = Config(
        directory=root,
        sources=parsed[SOURCES_FILE],
        keywords=parsed[KEYWORDS_FILE],
        alerts=parsed[ALERTS_FILE],
        version=digest.hexdigest()[:12],
        pipeline=pipeline,
    )
    _check_references(config)
    return config


def _check_references(config: Config) -> None:
    alerts_path = str(config.directory / ALERTS_FILE)
    topics = config.keywords.topics
    channels = config.alerts.channels
    places = [(f"desks.{desk_id}", desk_id, desk) for desk_id, desk in config.alerts.desks.items()]
    seen = set(config.alerts.desks)
    for r, route in enumerate(config.alerts.routes):
        if route.id in seen:
            raise ConfigError(alerts_path, f"routes[{r}].id", f"duplicate desk or route id {route.id!r}")
        seen.add(route.id)
        places.append((f"routes[{r}]", route.id, route))
    for path, _ident, desk in places:
        for t, topic in enumerate(desk.topics):
            if topic != "*" and topic not in topics:
                raise ConfigError(
                    alerts_path,
                    f"{path}.topics[{t}]",
                    f"unknown topic {topic!r}; expected one of {sorted(topics)} from {KEYWORDS_FILE}",
                )
        for c, channel in enumerate(desk.channels):
            if channel not in channels:
                raise ConfigError(
                    alerts_path,
                    f"{path}.channels[{c}]",
                    f"unknown channel {channel!r}; expected one of {sorted(channels)}",
                )
        if getattr(desk, "gloss", None) and config.pipeline.translate.backend == "none":
            raise ConfigError(alerts_path, f"{path}.gloss",
                              f"a gloss needs a translation engine: set translate.backend in {PIPELINE_FILE}")
    for c, channel in enumerate(config.alerts.admin.channels):
        if channel not in channels:
            raise ConfigError(alerts_path, f"admin.channels[{c}]",
                              f"unknown channel {channel!r}; expected one of {sorted(channels)}")
    for name, channel in channels.items():
        if isinstance(channel, EmailChannel) and config.alerts.smtp is None:
            raise ConfigError(alerts_path, f"channels.{name}", "email channel needs an `smtp` section")


def default_config_dir() -> Path:
    """The config directory: $NEWSMON_CONFIG_DIR, else ./config, else the shipped config (the repository's
    config/, which an installed newsmon carries as the package newsmon.shipped_config)."""
    explicit = os.environ.get("NEWSMON_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "config"
    if (local / SOURCES_FILE).is_file():
        return local
    repository = Path(__file__).resolve().parents[2] / "config"
    if (repository / SOURCES_FILE).is_file():
        return repository

    spec = importlib.util.find_spec("newsmon.shipped_config")  # a directory of YAML files, no module in it
    if spec is None or not spec.submodule_search_locations:
        return repository
    return Path(next(iter(spec.submodule_search_locations)))
