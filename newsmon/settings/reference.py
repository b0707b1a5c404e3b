"""The config reference: every field of every config file, with its default and description, rendered
from the models themselves, so the README's reference cannot drift from the code.

    python -m newsmon.settings.reference            print the reference (Markdown)
    python -m newsmon.settings.reference --write F  replace the block between the markers in F

tests/test_cli.py fails when the README's block differs from what this prints: a field added to a model
without its description in the README is caught there.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from newsmon.settings.alerts import ALERTS_FILE, AlertsFile
from newsmon.settings.keywords import KEYWORDS_FILE, KeywordsFile
from newsmon.settings.pipeline import PIPELINE_FILE, PipelineFile
from newsmon.settings.sources import SOURCES_FILE, SourcesFile

FILES: tuple[tuple[str, type[BaseModel]], ...] = (
    (SOURCES_FILE, SourcesFile), (KEYWORDS_FILE, KeywordsFile), (ALERTS_FILE, AlertsFile),
    (PIPELINE_FILE, PipelineFile),
)
START = "<!-- config-reference: start (python -m newsmon.settings.reference --write README.md) -->"
END = "<!-- config-reference: end -->"


def _models(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The models an annotation holds, each with the path step that reaches it (`[]` for a list item,
    `.<id>` for a dict value, `` for the model itself)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    if origin in (list, tuple, set, frozenset):
        return [("[]" + step, model) for arg in args for step, model in _models(arg)]
    if origin is dict:
        return [(".<id>" + step, model) for step, model in _models(args[1])]
    if origin is typing.Annotated:
        return _models(args[0])
    if origin in (typing.Union, types.UnionType):
        return [found for arg in args for found in _models(arg)]
    return []


def _type_name(annotation: Any) -> str:
    """A type as an operator reads it: `list of str or AliasSpec`, `one of 'instant', 'digest'`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (list, tuple, set, frozenset):
        return "list of " + " or ".join(_type_name(a) for a in args if a is not Ellipsis)
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    if annotation is type(None):
        return "none"
    if inspect.isclass(annotation):
        return {"SecretStr": "secret (masked)", "str": "text", "int": "integer", "float": "number",
                "bool": "true/false"}.get(annotation.__name__, annotation.__name__)
    return str(annotation).replace("typing.", "")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(section)"
        return f"`{value!r}`" if value not in ({}, []) else "empty"
    if field.default is PydanticUndefined:
        return "required"
    return f"`{field.default!r}`"


def fields(model: type[BaseModel], prefix: str = "",
           documented: dict[type[BaseModel], str] | None = None) -> list[tuple[str, str, str, str]]:
    """(path, type, default, description) of every field reachable from `model`, depth first; a model met
    again (AliasSpec in `any`, `all`, `none`, ...) is referred to the path where its fields are listed."""
    documented = {} if documented is None else documented
    rows = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        description = field.description or ""
        inner = _models(field.annotation)
        again = sorted({documented[sub] for _, sub in inner if sub in documented})
        if again:
            description += " (fields as under " + ", ".join(f"`{p}`" for p in again) + ")"
        rows.append((path, _type_name(field.annotation), _default(field), description))
        several = len({sub for _, sub in inner}) > 1
        for step, sub in inner:
            if sub in documented:
                continue
            label = ""
            if several and "type" in sub.model_fields:  # a union of channel types: say which
                literal = typing.get_args(sub.model_fields["type"].annotation)
                label = f"({literal[0]})" if literal else f"({sub.__name__})"
            documented[sub] = f"{path}{step}{label}"
            rows.extend(fields(sub, f"{path}{step}{label}", documented))
    return rows


def render() -> str:
    """The reference as Markdown, one table per file."""
    out = [START, ""]
    for file, model in FILES:
        out += [f"#### {file}", "", "| field | type | default | what it does |", "|---|---|---|---|"]
        for path, kind, default, description in fields(model):
            cell = description.replace("|", "\\|").replace("\n", " ")
            out.append(f"| `{path}` | {kind.replace('|', 'or')} | {default} | {cell} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def block(text: str) -> str | None:
    """The reference block of a document (markers included), or None."""
    if START not in text or END not in text:
        return None
    return text[text.index(START):text.index(END) + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the reference block in this file")
    args = parser.parse_args(argv)
    rendered = render()
    if args.write is None:
        print(rendered)
        return 0
    text = args.write.read_text(encoding="utf-8")
    old = block(text)
    if old is None:
        print(f"{args.write}: no reference markers ({START} ... {END})", file=sys.stderr)
        return 2
    args.write.write_text(text.replace(old, rendered), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
