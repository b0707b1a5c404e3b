"""Glosses: what a desk reads under a headline in a language it may not read. A machine translation from
the engine the admin chooses (newsmon.yaml `translate`), and for Sorani the headline in Latin letters,
which needs no engine (newsmon/transliterate.py).

Engines:
- `libretranslate`: LibreTranslate's HTTP API (`POST <url>/translate` with `q` a list, `source`, `target`,
  `format: text`, `api_key`), which self-hosted engines also speak;
- `ctranslate2`: a model directory the admin provides (an NLLB conversion with `sentencepiece.bpe.model`,
  or an OPUS-MT one with `source.spm` and `target.spm`), imported only when configured;
- `command`: a program that reads `{"id", "text", "source", "target"}` lines and writes
  `{"id", "translation"}` lines, for whatever engine a site runs.

A gloss never holds an alert up beyond `translate.timeout`: past it the alert goes without the gloss and
says so. Translations are cached in Redis by engine, languages and text (one translation of a headline,
however many desks and channels want it), asked in one batch per job and source language, and counted
(`gloss:translated`, `gloss:cached`, `gloss:failed`, `gloss:calls`, `gloss:ms`) for `status` and
`/metrics`.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

import redis

from newsmon import stats
from newsmon.alerts.render import gloss_label
from newsmon.models import Gloss, StoryAlert
from newsmon.sanitize import clean_line
from newsmon.settings import Desk
from newsmon.settings.pipeline import TranslateSettings
from newsmon.transliterate import to_latin

log = logging.getLogger(__name__)

GLOSS_PREFIX = "newsmon:gloss"  # newsmon:gloss:<engine id>:<source>:<target>:<sha1 of the text>
ANSWER_MAX = 4 * 1024 * 1024  # bytes read of an engine's answer
NLLB_CODES = {"ar": "arb_Arab", "ckb": "ckb_Arab", "kmr": "kmr_Latn", "en": "eng_Latn", "fa": "pes_Arab",
              "tr": "tur_Latn"}
CHECK_SENTENCE = ("ar", "قوات التحالف في قاعدة كيه-1 قرب كركوك")


class TranslationError(Exception):
    """The engine did not give a translation; the message says why."""


class Engine(Protocol):
    name: str

    def translate(self, texts: list[str], source: str, target: str, timeout: float) -> list[str]: ...


class LibreTranslate:
    """LibreTranslate's HTTP API."""

    def __init__(self, settings: TranslateSettings) -> None:
        self.name = settings.engine_name()
        self.url = (settings.url or "").rstrip("/") + "/translate"
        self.api_key = settings.api_key.get_secret_value() if settings.api_key else None
        self.codes = settings.languages

    def translate(self, texts: list[str], source: str, target: str, timeout: float) -> list[str]:
        body: dict[str, Any] = {"q": texts, "source": self.codes.get(source, source),
                                "target": self.codes.get(target, target), "format": "text"}
        if self.api_key:
            body["api_key"] = self.api_key
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                data = json.loads(answer.read(ANSWER_MAX))
        except urllib.error.HTTPError as exc:
            detail = " ".join(exc.read(300).decode("utf-8", "replace").split())
            raise TranslationError(f"{self.name} answered HTTP {exc.code}: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise TranslationError(f"{self.name} at {self.url.rsplit('/', 1)[0]}: {exc}") from exc
        translated = data.get("translatedText") if isinstance(data, dict) else None
        if isinstance(translated, str):
            translated = [translated]
        if not isinstance(translated, list) or len(translated) != len(texts) or not all(
                isinstance(t, str) for t in translated):
            raise TranslationError(f"{self.name} answered without a translatedText for each text")
        return translated


class CommandEngine:
    """A program that reads and writes JSON lines."""

    def __init__(self, settings: TranslateSettings) -> None:
        self.name = settings.engine_name()
        self.argv = list(settings.command or [])
        self.codes = settings.languages

    def translate(self, texts: list[str], source: str, target: str, timeout: float) -> list[str]:
        source, target = self.codes.get(source, source), self.codes.get(target, target)
        lines = "".join(json.dumps({"id": i, "text": t, "source": source, "target": target},
                                   ensure_ascii=False) + "\n" for i, t in enumerate(texts))
        try:
            done = subprocess.run(self.argv, input=lines, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise TranslationError(f"{self.name} did not answer in {timeout:g} s") from exc
        except OSError as exc:
            raise TranslationError(f"{self.name} could not run {self.argv[0]}: {exc}") from exc
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
            raise TranslationError(f"{self.name} exited with code {done.returncode}: {last}")
        found: dict[int, str] = {}
        for line in done.stdout.splitlines():
            try:
                row = json.loads(line)
                found[int(row["id"])] = str(row["translation"])
            except (ValueError, KeyError, TypeError) as exc:
                raise TranslationError(f"{self.name} wrote a line that is not {{id, translation}}: "
                                       f"{line[:100]!r}") from exc
        if set(found) != set(range(len(texts))):
            raise TranslationError(f"{self.name} answered {len(found)} of {len(texts)} texts")
        return [found[i] for i in range(len(texts))]


class CTranslate2Engine:
    """A local CTranslate2 model: NLLB (one model, language codes as tokens) or OPUS-MT (one pair)."""

    def __init__(self, settings: TranslateSettings) -> None:
        self.name = settings.engine_name()
        self.codes = {**NLLB_CODES, **settings.languages}
        directory = Path(settings.model_dir or "")
        try:
            # imported here: only a site that configures this backend installs these packages
            import ctranslate2
            import sentencepiece
        except ImportError as exc:
            raise TranslationError("the ctranslate2 backend needs `pip install ctranslate2 sentencepiece`: "
                                   f"{exc}") from exc
        if not (directory / "model.bin").is_file():
            raise TranslationError(f"{directory} holds no CTranslate2 model (model.bin)")
        nllb = directory / "sentencepiece.bpe.model"
        if nllb.is_file():
            self.source_spm = self.target_spm = sentencepiece.SentencePieceProcessor(model_file=str(nllb))
            self.nllb = True
        elif (directory / "source.spm").is_file() and (directory / "target.spm").is_file():
            self.source_spm = sentencepiece.SentencePieceProcessor(model_file=str(directory / "source.spm"))
            self.target_spm = sentencepiece.SentencePieceProcessor(model_file=str(directory / "target.spm"))
            self.nllb = False
        else:
            raise TranslationError(f"{directory} has no SentencePiece model (sentencepiece.bpe.model for "
                                   "NLLB, source.spm and target.spm for OPUS-MT)")
        self.translator = ctranslate2.Translator(str(directory), device="cpu")

    def translate(self, texts: list[str], source: str, target: str, timeout: float) -> list[str]:
        if self.nllb and (source not in self.codes or target not in self.codes):
            raise TranslationError(f"{self.name}: no NLLB code for {source}->{target}")
        batch = [self.source_spm.encode(t, out_type=str) + ["</s>"] for t in texts]
        prefix = None
        if self.nllb:
            batch = [[self.codes[source], *tokens] for tokens in batch]
            prefix = [[self.codes[target]] for _ in texts]
        results = self.translator.translate_batch(batch, target_prefix=prefix, beam_size=2,
                                                  max_decoding_length=256)
        skip = 1 if self.nllb else 0
        return [self.target_spm.decode(r.hypotheses[0][skip:]) for r in results]


_ENGINES: dict[str, Engine] = {}
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="newsmon-gloss")


def engine_id(settings: TranslateSettings) -> str:
    """What a cached translation is kept under: the backend and where it is (not its secrets)."""
    where = json.dumps([settings.backend, settings.url, settings.model_dir, settings.command])
    return hashlib.sha1(where.encode()).hexdigest()[:12]


def engine_for(settings: TranslateSettings) -> Engine | None:
    """The configured engine (built once per process and setting), or None for `backend: none`."""
    if settings.backend == "none":
        return None
    secret = settings.api_key.get_secret_value() if settings.api_key else ""
    key = engine_id(settings) + settings.engine_name() + hashlib.sha1(secret.encode()).hexdigest()
    if key not in _ENGINES:
        kind = {"libretranslate": LibreTranslate, "command": CommandEngine,
                "ctranslate2": CTranslate2Engine}[settings.backend]
        _ENGINES[key] = kind(settings)
    return _ENGINES[key]


def translate_within(engine: Engine, texts: list[str], source: str, target: str, timeout: float,
                     allowed: float | None = None) -> list[str]:
    """The engine's translations, or TranslationError when it fails or takes longer than `timeout`
    (`allowed`: the whole allowance, which the message names, when `timeout` is what is left of it). The
    engine's own timeout is a second longer, so that this one is the one that fires."""
    future = _POOL.submit(engine.translate, texts, source, target, timeout + 1)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError as exc:
        raise TranslationError(f"{engine.name} did not answer in {allowed or timeout:g} s") from exc
    except TranslationError:
        raise
    except Exception as exc:  # whatever an engine raises costs the gloss, never the alert
        raise TranslationError(f"{engine.name} failed: {type(exc).__name__}: {exc}") from exc


def check(settings: TranslateSettings) -> str:
    """`config check`: translate a test sentence; the translation, or TranslationError naming what is
    missing."""
    engine = engine_for(settings)
    if engine is None:
        return "no translation engine (translate.backend: none)"
    source, sentence = CHECK_SENTENCE
    translated = translate_within(engine, [sentence], source, "en", settings.timeout)[0]
    return f"{engine.name} answers: {sentence!r} -> {translated!r}"


def dress(settings: TranslateSettings, conn: redis.Redis | None, desk: Desk,
          items: list[StoryAlert]) -> list[StoryAlert]:
    """The items with the desk's glosses: a translation into `desk.gloss` of each headline (and with
    `gloss_snippets` the snippets) in another language, and with `transliterate: latin` each Sorani
    headline in Latin letters. One batch per source language, within `settings.timeout` in all. Without
    a connection (`alerts preview`), nothing is cached or counted."""
    target = desk.gloss
    latin = desk.transliterate == "latin"
    if not target and not latin:
        return items
    translated: Found = {}
    missing: dict[str, str] = {}  # language -> why there is no translation
    broken = ""  # why the engine cannot even be built (a model directory gone, a package missing)
    engine: Engine | None = None
    if target:
        try:
            engine = engine_for(settings)
        except TranslationError as exc:
            broken = str(exc)
    if engine is not None and target:
        wanted: dict[str, list[str]] = {}
        for item in items:
            if item.language != target:
                texts = [item.title, *(item.snippets if desk.gloss_snippets else [])]
                wanted.setdefault(item.language, []).extend(t for t in texts if t)
        translated, missing = _translate(settings, engine, conn, wanted, target)
    out = []
    for item in items:
        values: dict[str, Any] = {"latin": to_latin(item.title) if latin and item.language == "ckb" else None}
        if target and item.language != target and (engine is not None or broken):
            values.update(language=target, engine=engine.name if engine else settings.engine_name())
            if broken or item.language in missing:
                values["missing"] = broken or missing[item.language]
            else:
                values["title"] = translated.get((item.language, item.title))
                if desk.gloss_snippets:
                    values["snippets"] = [translated.get((item.language, s), "") for s in item.snippets]
        if values["latin"] or values.get("title") or values.get("missing"):
            # built whole, so that the engine's text is cleaned like a page's (Gloss's validators)
            item = item.model_copy(update={"gloss": Gloss(**values)})
        out.append(item)
    return out


Found = dict[tuple[str, str], str]  # (source language, text) -> translation


def _translate(settings: TranslateSettings, engine: Engine, conn: redis.Redis | None,
               wanted: dict[str, list[str]], target: str) -> tuple[Found, dict[str, str]]:
    """Cached translations first, then one engine call per source language for the rest, all within the
    timeout. Returns ((language, text) -> translation, language -> why none)."""
    deadline = time.monotonic() + settings.timeout
    ident = engine_id(settings)
    count = (lambda name, amount=1: stats.count(conn, name, amount)) if conn is not None else (
        lambda name, amount=1: None)
    found: Found = {}
    missing: dict[str, str] = {}
    for language, texts in wanted.items():
        unique = list(dict.fromkeys(texts))
        cache_keys = [_cache_key(ident, language, target, t) for t in unique]
        try:
            cached = conn.mget(cache_keys) if conn is not None else [None] * len(unique)
        except redis.RedisError:
            cached = [None] * len(unique)
        ask = [t for t, hit in zip(unique, cached) if hit is None]
        found.update({(language, t): hit.decode() for t, hit in zip(unique, cached) if hit is not None})
        count("gloss:cached", len(unique) - len(ask))
        if not ask:
            continue
        left = deadline - time.monotonic()
        started = time.monotonic()
        try:
            if left <= 0:
                raise TranslationError(f"{engine.name} did not answer in {settings.timeout:g} s")
            answers = translate_within(engine, ask, language, target, left, settings.timeout)
        except TranslationError as exc:
            missing[language] = str(exc)
            count("gloss:failed", len(ask))
            log.warning("no gloss %s->%s for %d texts: %s", language, target, len(ask), exc)
            continue
        finally:
            count("gloss:ms", round((time.monotonic() - started) * 1000))
            count("gloss:calls")
        count("gloss:translated", len(ask))
        found.update({(language, text): answer for text, answer in zip(ask, answers)})
        if conn is not None:
            pipe = conn.pipeline()
            for text, answer in zip(ask, answers):
                pipe.set(_cache_key(ident, language, target, text), answer,
                         ex=round(settings.cache_days * 86400))
            pipe.execute()
    return found, missing


def page_glosses(config: Any, conn: redis.Redis, stories: list[dict[str, Any]]) -> list[list[str]]:
    """For the web page: per story, the glosses its desks read under its title (a cached translation into
    each language a desk glosses into, labelled; Sorani in Latin letters when a desk transliterates). Read
    from the cache only: the page never waits for an engine; a title no alert has glossed yet has none."""
    desks = config.alerts.all_desks().values()
    targets = sorted({d.gloss for d in desks if d.gloss})
    latin = any(d.transliterate == "latin" for d in desks)
    settings = config.pipeline.translate
    wanted = [(i, t, _cache_key(engine_id(settings), st["language"], t, st["title"]))
              for i, st in enumerate(stories) for t in targets if st["language"] != t]
    found = conn.mget([k for _, _, k in wanted]) if wanted and settings.backend != "none" else []
    lines: list[list[str]] = [[] for _ in stories]
    for (i, target, _key), text in zip(wanted, found):
        if text is not None:
            lines[i].append(f"{clean_line(text.decode())} [{gloss_label(target, settings.engine_name())}]")
    for i, st in enumerate(stories):
        if latin and st["language"] == "ckb":
            lines[i].append(f"{to_latin(st['title'])} [in Latin letters]")
    return lines


def _cache_key(ident: str, source: str, target: str, text: str) -> str:
    return f"{GLOSS_PREFIX}:{ident}:{source}:{target}:{hashlib.sha1(text.encode()).hexdigest()}"
