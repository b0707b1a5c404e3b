"""Rebuild the generated part of workers/data/common_words.tsv from a corpus of real reports:

    python -m newsmon.workers.commonwords_build tests/corpus/events.yaml

Words of at least MIN_DOCS reports that no topic of the shipped keywords tags; lines entered by hand are
kept as they are.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

from newsmon.normalize import normalize
from newsmon.settings import load_keywords
from newsmon.workers.commonwords import DATA, GENERATED
from newsmon.workers.matcher import Matcher

MIN_DOCS = 2
MIN_LETTERS = 3
_WORD = re.compile(r"[^\W\d_]+")


def build(corpus_paths: list[Path], keywords_path: Path) -> list[tuple[str, str, str]]:
    """The generated part: words in at least MIN_DOCS reports that no shipped topic tags."""
    matcher = Matcher(load_keywords(keywords_path), source=str(keywords_path))
    docs: Counter[tuple[str, str]] = Counter()
    for path in corpus_paths:
        for report in yaml.safe_load(path.read_text(encoding="utf-8")):
            text = f"{report.get('title') or ''}\n{report.get('text') or ''}"
            words = {w for w in _WORD.findall(normalize(text).text) if len(w) >= MIN_LETTERS}
            docs.update((word, report.get("lang") or "") for word in words)
    rows = []
    names = ", ".join(p.name for p in corpus_paths)
    for (word, language), count in sorted(docs.items()):
        if count >= MIN_DOCS and not matcher.match("", word, language or None).matches:
            rows.append((word, language, f"{GENERATED}{count} reports of {names}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild the generated part of " + str(DATA))
    parser.add_argument("corpus", nargs="+", type=Path, help="YAML lists of reports {title, text, lang}")
    parser.add_argument("--keywords", type=Path, default=Path(__file__).resolve().parent.parent / "config"
                        / "keywords.yaml")
    args = parser.parse_args(argv)
    kept = [line for line in DATA.read_text(encoding="utf-8").splitlines()
            if line.startswith("#") or (line.strip() and GENERATED not in line)] if DATA.exists() else []
    rows = build(args.corpus, args.keywords)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text("\n".join(kept + ["\t".join(row) for row in rows]) + "\n", encoding="utf-8")
    print(f"{DATA}: {len(kept)} lines by hand kept, {len(rows)} frequent words written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
