"""The languages newsmon knows: their codes, names and writing direction, each stated once."""

from __future__ import annotations

from typing import Literal, get_args

Language = Literal["ar", "ckb", "kmr", "en", "tr", "fa"]
LANGUAGES: tuple[str, ...] = get_args(Language)
NAMES = {
    "ar": "Arabic",
    "ckb": "Sorani Kurdish",
    "kmr": "Kurmanji Kurdish",
    "en": "English",
    "tr": "Turkish",
    "fa": "Persian",
}
RIGHT_TO_LEFT = frozenset({"ar", "ckb", "fa"})
