"""`newsmon keywords suggest`: spellings the config misses, mined from an archive where variants were "
"planted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from newsmon.models import Story, story_id_for
from newsmon.settings import KeywordsFile, load_keywords
from newsmon.urls import canonical_url
from newsmon.workers.archive import Archive, open_engine
from newsmon.workers.suggest import suggest
from tests.conftest import archive_story, write_config

KEYWORDS = """\
# keywords for the suggest test: comments and layout must survive --accept
topics:
  isis:
    name: ISIS / Daesh
    any:
      - ISIS          # capitals only
      - Daesh
      - Daiş
      - Islamic State
  peshmerga:
    name: Peshmerga
    any:
      - Peshmerga
  sinjar:
    name: Sinjar
    any:
      - {term: شنگال, exact: true}   # written as is
  kirkuk:
    name: Kirkuk
    any:
      - Kirkuk
      - كركوك
"""

NOW = datetime.now(UTC)
STORIES = [
    # the topics as the config spells them
    "Daesh fighters attacked a checkpoint south of the city at dawn, security officials said.",
    "Islamic State fighters attacked a village and security officials said two were killed.",
    "ISIS fighters attacked an army post in the desert, security officials said on Monday.",
    "Peshmerga forces repelled an attack on their positions north of the river, a commander said.",
    "Peshmerga forces took positions on the hills north of the river after the attack, a commander said.",
    "قال مسؤولون إن النازحين عادوا إلى شنگال بعد انتهاء العمليات العسكرية في القضاء.",
    "Kirkuk provincial council met on Sunday to discuss the budget and new roads.",
    "The governor of Kirkuk opened a new school in the city on Tuesday.",
    "عقد مجلس محافظة كركوك جلسة لمناقشة الموازنة والطرق الجديدة.",
    # planted: a Latin respelling, a split name, an Arabic-keyboard Kurdish name, a short form
    "DEAŞ fighters attacked a checkpoint near the river, security officials said.",
    "DEAŞ fighters attacked two villages overnight, security officials said.",
    "Da esh fighters attacked a police post, security officials said on Friday.",
    "Da esh fighters attacked a convoy on the desert road, security officials said.",
    "قال مسؤولون إن النازحين عادوا إلى شنكال بعد انتهاء العمليات العسكرية في القضاء.",
    "قال مسؤولون إن العائلات عادت إلى شنكال بعد انتهاء العمليات العسكرية.",
    "Pesh forces repelled an attack on their positions, a commander said.",
    "Pesh forces took positions north of the river, a commander said.",
    "ISIS (al-Dawla) claimed the attack on the market, officials said.",
    "Officials blamed al-Dawla (ISIS) for the bombing of the bridge.",
]


def make_archive(url: str) -> Archive:
    archive = Archive(open_engine(url))
    for n, text in enumerate(STORIES):
        link = f"https://suggest.example/{n}"
        archive_story(
        archive,
            Story(
                id=story_id_for(canonical_url(link)),
                source_id="s",
                outlet="O",
                language="en",
                url=link,
                canonical_url=canonical_url(link),
                title=f"Story {n}",
                text=text,
                published=NOW - timedelta(hours=n),
            ),
            [],
            f"h{n}",
            "v",
        )
    return archive


def test_planted_variants_are_in_the_top_five_and_a_clean_topic_gets_nothing(tmp_path: Path) -> None:
    archive = make_archive(f"sqlite:///{tmp_path / 'a.sqlite'}")
    found = suggest(archive.engine, KeywordsFile.model_validate(yaml.safe_load(KEYWORDS)))

    def top(topic: str) -> list[str]:
        return [s.candidate for s in found[topic][:5]]

    assert "DEAŞ" in top("isis") and "Da esh" in top("isis") and "al-Dawla" in top("isis")
    assert "شنكال" in top("sinjar")
    assert "Pesh" in top("peshmerga")
    assert found["kirkuk"] == []
    deas = next(s for s in found["isis"] if s.candidate == "DEAŞ")
    assert (deas.kind, deas.stories, deas.new) == ("near", 2, 2) and len(deas.examples) == 2
    assert "DEAŞ fighters attacked" in deas.examples[0]


@pytest.mark.e2e  # runs the CLI in subprocesses
def test_cli_lists_suggestions_and_accept_keeps_the_files_comments(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    make_archive(f"sqlite:///{data_dir / 'archive.sqlite'}")
    config_dir = write_config(tmp_path / "config", [], {"channels": {"c": {"type": "console"}}, "routes": []})
    (config_dir / "keywords.yaml").write_text(KEYWORDS, encoding="utf-8")
    env = {**os.environ, "NEWSMON_DATA_DIR": str(data_dir)}

    def newsmon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsmon", "--config-dir", str(config_dir), "keywords", "suggest", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    listed = newsmon("--topic", "isis", "--json")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {"DEAŞ", "Da esh"} <= {line["candidate"] for line in lines}
    assert all(line["topic"] == "isis" for line in lines)
    text = newsmon("--topic", "isis").stdout
    assert "DEAŞ  (near Daesh; 2 stories, 2 not tagged yet" in text
    accepted = newsmon("--topic", "isis", "--accept", "DEAŞ", "Da esh")
    assert accepted.returncode == 0, accepted.stderr
    written = (config_dir / "keywords.yaml").read_text(encoding="utf-8")
    assert "# keywords for the suggest test" in written and "- ISIS          # capitals only" in written
    assert load_keywords(config_dir / "keywords.yaml").topics["isis"].any[-2:] == ["DEAŞ", "Da esh"]
    again = newsmon("--topic", "isis", "--json")
    assert not {"DEAŞ", "Da esh"} & {json.loads(line)["candidate"] for line in again.stdout.splitlines()}
    unknown = newsmon("--topic", "nope")
    assert unknown.returncode == 2 and "isis" in unknown.stderr
