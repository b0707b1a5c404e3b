"""Common words and names that a form generated from an alias must not be.

The matcher's rules write each alias in forms the text may use (joined, split, inflected, with Arabic-
keyboard letters, without the article). A generated form can be an ordinary word or name of the
language: كي وان (K-1) joined is كيوان, the given name Keyvan. `compile_alias` drops such a form unless
the alias lists it under `keep:`, and `newsmon keywords check` shows each dropped form and why.

The list (`workers/data/common_words.tsv`: normalized word, language, why) has two parts:
- names and words entered by hand, each with the reason (a given name, a word of the language);
- the words of at least `MIN_DOCS` reports of a corpus of real text that no topic of the shipped
  keywords tags (a report's own names, Peshmerga or Kirkuk, are the forms the rules are for), rebuilt
  with `python -m newsmon.workers.commonwords_build tests/corpus/events.yaml`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from newsmon.normalize import normalize_text

DATA = Path(__file__).parent / "data" / "common_words.tsv"
GENERATED = "frequent in "  # the reason the builder writes; hand entries keep theirs on a rebuild


@lru_cache(maxsize=1)
def common_words() -> dict[str, str]:
    """Normalized word -> why it is common (a name, a word of a language)."""
    found: dict[str, str] = {}
    if not DATA.exists():
        return found
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, language, why = (line.split("\t") + ["", ""])[:3]
        found.setdefault(normalize_text(word), f"{why} ({language})" if language else why)
    return found
