"""keywords.yaml: topics, their aliases and the rules for matching them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from newsmon.languages import Language
from newsmon.settings.common import ID_PATTERN, StrictModel

KEYWORDS_FILE = "keywords.yaml"


class AliasSpec(StrictModel):
    """An alias with its own matching rules, for the few aliases that need them."""

    term: str = Field(min_length=1, description="The alias as written; a trailing * allows any word ending")
    exact: bool = Field(default=False, description="Match the alias only as written: no prefixes or suffixes")
    case: Literal["auto", "sensitive", "insensitive"] = Field(
        default="auto",
        description="auto: an all-caps Latin alias (ISIS) matches only all-caps text, others ignore case",
    )
    split: bool = Field(
        default=True,
        description="A one-word alias of six letters or more also matches split in two (pesh merga), a "
                    "two-word alias also matches joined (IslamicState); false: only as written")
    ezafe: bool = Field(default=True, description="A Sorani alias also matches with the ezafe -ی (کەرکووکی)")
    nisba: bool | None = Field(
        default=None,
        description="An Arabic-script alias also matches as the adjective derived from it (-ي -ية -يين -يون: "
                    "داعشي); default: the topic's `nisba`")
    keep: list[str] = Field(
        default_factory=list,
        description="Generated forms to match even though they are common words or names of their language "
                    "(`keywords check` lists the forms left out)")


Alias = str | AliasSpec


class Near(StrictModel):
    """Two alias groups that must occur within `within` words of each other."""

    a: list[Alias] = Field(min_length=1, description="First group of aliases")
    b: list[Alias] = Field(min_length=1, description="Second group of aliases")
    within: int = Field(default=10, ge=1, le=200, description="Greatest distance in words")


class Topic(StrictModel):
    """A watched topic: fires when an `any` alias, every `all` term and every `near` pair occur, and no
    `none` term does."""

    name: str = Field(min_length=1, description="Human-readable topic name shown in alerts")
    any: list[Alias] = Field(default_factory=list, description="Aliases; one of them must occur")
    all: list[Alias] = Field(default_factory=list, description="Terms that must all occur as well")
    none: list[Alias] = Field(default_factory=list, description="Terms whose presence suppresses the topic")
    near: list[Near] = Field(default_factory=list, description="Alias groups that must occur close together")
    languages: list[Language] | None = Field(
        default=None, description="Only stories in these languages; all languages when absent"
    )
    urgent: bool = Field(default=False, description="Urgent topics bypass digests and quiet hours")
    nisba: bool = Field(
        default=False,
        description="Its Arabic-script aliases also match as derived adjectives (-ي -ية -يين -يون): for ISIS "
                    "(داعشي), not for Kirkuk (كركوكي is a surname)")

    @field_validator("any", "all", "none")
    @classmethod
    def _no_blank_aliases(cls, aliases: list[Alias]) -> list[Alias]:
        for index, alias in enumerate(aliases):
            if not alias_term(alias).strip():
                raise ValueError(f"alias {index} is blank")
        return aliases

    @model_validator(mode="after")
    def _needs_aliases(self) -> Topic:
        if not self.any and not self.near:
            raise ValueError("any: a topic needs `any` aliases or a `near` clause")
        return self


def alias_term(alias: Alias) -> str:
    """The alias text of a plain or detailed alias."""
    return alias if isinstance(alias, str) else alias.term


class KeywordsFile(StrictModel):
    """Contents of keywords.yaml."""

    topics: dict[Annotated[str, Field(pattern=ID_PATTERN)], Topic] = Field(
        min_length=1, description="Topics keyed by id"
    )
