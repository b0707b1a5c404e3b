"""Glosses with no real engine: a loopback LibreTranslate-compatible server and a stub `command`, written
for these tests; a slow stub proves that a gloss never holds an alert past `translate.timeout`."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from rq import Queue

from newsmon import keys, stats
from newsmon.alerts import translate
from newsmon.alerts.jobs import enqueue_deliveries
from newsmon.alerts.render import render_delivery
from newsmon.errors import ConfigError
from newsmon.serializer import JobSerializer
from newsmon.settings import Desk, load_config
from newsmon.settings.pipeline import TranslateSettings
from tests.conftest import feed_source, write_config
from tests.test_render import make_alert, make_delivery

ARABIC = make_alert(title="قوات التحالف تصل إلى قاعدة كيه-1", language="ar", story_id="a1")
SORANI = make_alert(title="هێزەکانی هاوپەیمانی لە کەرکووک", language="ckb", story_id="c1",
                    snippet="هێزەکانی هاوپەیمانی گەیشتنە کەرکووک")
ENGLISH = make_alert(title="Coalition forces reach K-1", language="en", story_id="e1",
                     snippet="Forces arrived.")


class LibreStub:
    """A LibreTranslate-compatible server: POST /translate answers "[target] text" for each `q`."""

    def __init__(self, delay: float = 0.0, key: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.closed = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                # the slow stub answers after `delay` unless the test is over: its client has gone by then,
                # and a write to it would raise SIGPIPE (which the in-process CLI tests leave at default)
                if delay and stub.closed.wait(delay):
                    return
                if key is not None and body.get("api_key") != key:
                    self.send_response(403)
                    self.end_headers()
                    self.wfile.write(b'{"error": "Invalid API key"}')
                    return
                texts = body["q"] if isinstance(body["q"], list) else [body["q"]]
                answer = {"translatedText": [f"[{body['target']}] {t}" for t in texts]}
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def libre():
    stub = LibreStub(key="k3y")
    yield stub
    stub.close()


def settings(**values: Any) -> TranslateSettings:
    return TranslateSettings.model_validate(values)


def desk(**values: Any) -> Desk:
    return Desk.model_validate({"channels": ["c"], "topics": ["*"], **values})


def test_headlines_get_a_gloss_once_and_from_the_cache_after(libre: LibreStub,
                                                             redis_conn: redis.Redis) -> None:
    engine = settings(backend="libretranslate", url=libre.url, api_key="k3y", name="LT stub")
    items = translate.dress(engine, redis_conn, desk(gloss="en"), [ARABIC, SORANI, ENGLISH])
    assert items[0].gloss.title == "[en] قوات التحالف تصل إلى قاعدة كيه-1"
    assert items[0].gloss.engine == "LT stub"
    assert items[1].gloss.title == "[en] هێزەکانی هاوپەیمانی لە کەرکووک"
    assert items[2].gloss is None  # already in the desk's language
    assert [r["source"] for r in libre.requests] == ["ar", "ckb"]  # one batch per source language
    # another desk, another job: the cache answers, the engine is not asked again
    again = translate.dress(engine, redis_conn, desk(gloss="en", gloss_snippets=True), [ARABIC])
    assert again[0].gloss.title == items[0].gloss.title
    assert len(libre.requests) == 3 and libre.requests[2]["q"] == [ARABIC.snippets[0]]  # only the snippet
    assert stats.total(redis_conn, "gloss:translated", 5) == 3
    assert stats.total(redis_conn, "gloss:cached", 5) == 1


def test_a_slow_engine_never_holds_the_alert_past_the_timeout(redis_conn: redis.Redis) -> None:
    slow = LibreStub(delay=3)
    try:
        started = time.monotonic()
        items = translate.dress(settings(backend="libretranslate", url=slow.url, timeout=0.5), redis_conn,
                                desk(gloss="en"), [ARABIC])
        assert time.monotonic() - started < 2
    finally:
        slow.close()
    assert items[0].gloss.title is None and "did not answer in 0.5 s" in items[0].gloss.missing
    assert stats.total(redis_conn, "gloss:failed", 5) == 1
    text = render_delivery(make_delivery(items[0])).text
    assert "[no machine translation this time: LibreTranslate did not answer in 0.5 s]" in text


def test_the_engines_own_language_codes(libre: LibreStub, redis_conn: redis.Redis, tmp_path: Path) -> None:
    engine = settings(backend="libretranslate", url=libre.url, api_key="k3y", languages={"kmr": "ku"})
    kurmanji = make_alert(title="Hêzên hevpeymaniyê li Kerkûkê", language="kmr", story_id="k1")
    assert translate.dress(engine, redis_conn, desk(gloss="en"), [kurmanji])[0].gloss.title.startswith("[en]")
    assert (libre.requests[-1]["source"], libre.requests[-1]["target"]) == ("ku", "en")
    script = tmp_path / "engine.py"
    script.write_text(STUB_COMMAND)
    command = settings(backend="command", command=[sys.executable, str(script)], languages={"en": "eng"})
    assert translate.dress(command, redis_conn, desk(gloss="ar"), [ENGLISH])[0].gloss.title.endswith("<eng>")


def test_a_refusing_engine_says_why(libre: LibreStub, redis_conn: redis.Redis) -> None:
    items = translate.dress(settings(backend="libretranslate", url=libre.url, api_key="wrong"), redis_conn,
                            desk(gloss="en"), [ARABIC])
    assert "HTTP 403" in items[0].gloss.missing and "Invalid API key" in items[0].gloss.missing


STUB_COMMAND = """
import json, sys
for line in sys.stdin:
    row = json.loads(line)
    print(json.dumps({"id": row["id"], "translation": row["text"].upper() + " <" + row["source"] + ">"}))
"""


def test_a_command_engine(tmp_path: Path, redis_conn: redis.Redis) -> None:
    script = tmp_path / "engine.py"
    script.write_text(STUB_COMMAND)
    engine = settings(backend="command", command=[sys.executable, str(script)], name="stub")
    items = translate.dress(engine, redis_conn, desk(gloss="ar"), [ENGLISH])
    assert items[0].gloss.title == "COALITION FORCES REACH K-1 <en>"
    broken = settings(backend="command", command=[sys.executable, "-c", "import sys; sys.exit('no model')"])
    items = translate.dress(broken, redis_conn, desk(gloss="ar"), [ENGLISH])
    assert items[0].gloss.missing == "command exited with code 1: no model"


def test_sorani_in_latin_letters_needs_no_engine(redis_conn: redis.Redis) -> None:
    items = translate.dress(settings(), redis_conn, desk(transliterate="latin"), [SORANI, ARABIC])
    assert items[0].gloss.latin == "hêzekanî hawpeymanî le kerkûk" and items[1].gloss is None
    rendered = render_delivery(make_delivery(items[0], channel="chat"))
    assert "hêzekanî hawpeymanî le kerkûk  [in Latin letters]" in rendered.text
    assert "hêzekanî hawpeymanî le kerkûk [in Latin letters]" in rendered.chat("text")[1]


def test_glosses_as_rendered_in_email_and_chat(libre: LibreStub, redis_conn: redis.Redis) -> None:
    engine = settings(backend="libretranslate", url=libre.url, api_key="k3y")
    hostile = make_alert(title="عاجل <b>*نجمة*</b> @everyone", language="ar", story_id="h1")
    items = translate.dress(engine, redis_conn, desk(gloss="en", gloss_snippets=True), [ARABIC, hostile])
    rendered = render_delivery(make_delivery(*items, kind="digest", channel="chat"))
    label = "machine translation into English by LibreTranslate"
    title = "قوات التحالف تصل إلى قاعدة كيه-1"
    assert f"{title}\n[en] {title}  [{label}]" in rendered.text
    assert f"[{label}]\n[en] وصلت قوة الى قاعدة كيه-1 غرب كركوك" in rendered.text  # the snippet's gloss
    assert '<p lang="en" dir="ltr"' in rendered.html and f"[{label}]" in rendered.html
    assert "&lt;b&gt;" in rendered.html  # the engine's text is escaped like a page's
    telegram = rendered.chat("telegram")[1]
    assert f"[en] عاجل &lt;b&gt;*نجمة*&lt;/b&gt; @\u200beveryone [{label}]" in telegram
    markdown = rendered.chat("markdown")[1]
    assert f"\\[en\\] عاجل \\<b\\>\\*نجمة\\*\\</b\\> @\u200beveryone [{label}]" in markdown


def test_deliveries_carry_the_desks_gloss(tmp_path: Path, libre: LibreStub, redis_conn: redis.Redis) -> None:
    directory = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                             {"channels": {"c": {"type": "console"}, "d": {"type": "console"}},
                              "desks": {"en": {"channels": ["c", "d"], "topics": ["*"], "gloss": "en"}}})
    (directory / "newsmon.yaml").write_text(yaml.safe_dump(
        {"translate": {"backend": "libretranslate", "url": libre.url, "api_key": "k3y"}}))
    config = load_config(directory)
    assert enqueue_deliveries(config, redis_conn, "en", config.alerts.desks["en"], "instant", [ARABIC]) == 2
    queue = Queue(keys.ALERTS_QUEUE, connection=redis_conn, serializer=JobSerializer)
    glosses = [job.args[0]["items"][0]["gloss"]["title"] for job in queue.get_jobs()]
    assert glosses == ["[en] قوات التحالف تصل إلى قاعدة كيه-1"] * 2
    assert len(libre.requests) == 1  # once for the desk's two channels


def test_config_names_what_a_gloss_needs(tmp_path: Path) -> None:
    directory = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                             {"channels": {"c": {"type": "console"}},
                              "desks": {"en": {"channels": ["c"], "topics": ["*"], "gloss": "en"}}})
    with pytest.raises(ConfigError, match="a gloss needs a translation engine: set translate.backend"):
        load_config(directory)
    with pytest.raises(ValueError, match="backend libretranslate needs `url`"):
        settings(backend="libretranslate")
    with pytest.raises(ValueError, match="backend command needs `command`"):
        settings(backend="command")


def test_config_check_asks_the_engine(tmp_path: Path, libre: LibreStub) -> None:
    assert translate.check(settings(backend="libretranslate", url=libre.url, api_key="k3y")).startswith(
        "LibreTranslate answers: 'قوات التحالف في قاعدة كيه-1 قرب كركوك' -> '[en] ")
    with pytest.raises(translate.TranslationError, match="HTTP 403"):
        translate.check(settings(backend="libretranslate", url=libre.url, api_key="nope"))
    with pytest.raises(translate.TranslationError, match="pip install ctranslate2 sentencepiece|model.bin"):
        translate.check(settings(backend="ctranslate2", model_dir=str(tmp_path)))


def test_the_web_page_shows_cached_glosses_and_never_waits_for_an_engine(
        tmp_path: Path, libre: LibreStub, redis_conn: redis.Redis) -> None:
    from newsmon.app.web import create_app

    directory = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                             {"channels": {"c": {"type": "console"}},
                              "desks": {"en": {"channels": ["c"], "topics": ["*"], "gloss": "en",
                                               "transliterate": "latin"}}})
    (directory / "newsmon.yaml").write_text(yaml.safe_dump(
        {"translate": {"backend": "libretranslate", "url": libre.url, "api_key": "k3y"}}))
    config = load_config(directory)
    translate.dress(config.pipeline.translate, redis_conn, config.alerts.desks["en"], [ARABIC])  # an alert
    rows = [{"id": s.story_id, "title": s.title, "language": s.language, "url": s.url, "outlet": s.outlet,
             "topics": [], "cluster_id": s.story_id, "event_id": None, "processed": None,
             "dedupe_kind": "new"} for s in (ARABIC, SORANI, ENGLISH)]
    asked = len(libre.requests)
    page = create_app(config, redis_conn, lambda n: rows).test_client().get("/").get_data(as_text=True)
    assert len(libre.requests) == asked  # the page read the cache only
    label = "machine translation into English by LibreTranslate"
    assert f'<div class="gloss" dir="auto">[en] قوات التحالف تصل إلى قاعدة كيه-1 [{label}]</div>' in page
    assert '<div class="gloss" dir="auto">hêzekanî hawpeymanî le kerkûk [in Latin letters]</div>' in page
    assert page.count('class="gloss"') == 2  # no alert has glossed the Sorani title yet; English needs none


def test_status_counts_glosses(libre: LibreStub, redis_conn: redis.Redis, tmp_path: Path) -> None:
    from newsmon.status import collect

    directory = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                             {"channels": {"c": {"type": "console"}}})
    (directory / "newsmon.yaml").write_text(yaml.safe_dump(
        {"translate": {"backend": "libretranslate", "url": libre.url, "api_key": "k3y", "name": "LT"}}))
    config = load_config(directory)
    translate.dress(config.pipeline.translate, redis_conn, desk(gloss="en"), [ARABIC, SORANI])
    translate.dress(config.pipeline.translate, redis_conn, desk(gloss="en"), [ARABIC])
    state = collect(config, redis_conn)["translation"]
    assert {k: state[k] for k in ("backend", "engine", "translated_24h", "cached_24h", "failed_24h",
                                  "calls_24h")} == {
        "backend": "libretranslate", "engine": "LT", "translated_24h": 2, "cached_24h": 1, "failed_24h": 0,
        "calls_24h": 2}
    assert state["mean_ms"] is not None and state["mean_ms"] >= 0


def test_config_check_command_reports_the_engine(tmp_path: Path, libre: LibreStub) -> None:
    import subprocess

    directory = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                             {"channels": {"c": {"type": "console"}}})
    refused = "translate: libretranslate does not work: LibreTranslate answered HTTP 403"
    for key, code, said in (("k3y", 0, "translate: LibreTranslate answers: "), ("s3cret-wrong", 1, refused)):
        (directory / "newsmon.yaml").write_text(yaml.safe_dump(
            {"translate": {"backend": "libretranslate", "url": libre.url, "api_key": "${LT_KEY}"}}))
        result = subprocess.run([sys.executable, "-m", "newsmon", "config", "check", "--config-dir",
                                 str(directory)], env={"PATH": "/usr/bin:/bin", "LT_KEY": key},
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == code, result.stderr
        assert said in result.stdout + result.stderr
        assert key not in result.stdout + result.stderr  # the key stays secret


def tiny_nllb_model(directory: Path) -> Path:
    """A CTranslate2 model laid out as an NLLB conversion (model.bin, sentencepiece.bpe.model, the language
    codes in its vocabulary), built here with random weights: no translation model can be fetched on the
    machines the tests run on, so this proves the backend's path (tokenizing, language codes, batching,
    decoding), not the quality of a translation."""
    import io

    import numpy as np
    import sentencepiece
    from ctranslate2.specs import TransformerSpec, model_spec

    directory.mkdir(parents=True)
    corpus = ["قوات التحالف في قاعدة كيه-1 قرب كركوك", "هێزەکانی هاوپەیمانی لە کەرکووک",
              "Coalition forces at K-1 base near Kirkuk", "Hêzên hevpeymaniyê li Kerkûkê"] * 5
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, vocab_size=80, character_coverage=1.0,
        model_type="bpe", bos_id=-1, eos_id=1, unk_id=0, pad_id=-1, hard_vocab_limit=False)
    (directory / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    pieces = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    vocabulary = ["<s>", "<pad>", "</s>", "<unk>"] + [
        pieces.id_to_piece(i) for i in range(pieces.get_piece_size())
        if pieces.id_to_piece(i) not in ("<unk>", "</s>")] + sorted(translate.NLLB_CODES.values())
    depth = 16
    shapes = [("embeddings", (len(vocabulary), depth)), ("projection", (len(vocabulary), depth)),
              ("gamma", (depth,)), ("beta", (depth,)), ("ffn/linear_0", (2 * depth, depth)),
              ("ffn/linear_1", (depth, 2 * depth)), ("self_attention/linear_0", (3 * depth, depth)),
              ("attention/linear_0", (depth, depth)), ("self_attention/linear_1", (depth, depth)),
              ("attention/linear_1", (2 * depth, depth)), ("linear_2", (depth, depth))]
    random = np.random.default_rng(7)

    def fill(layer: Any, path: str) -> None:
        for name, value in list(vars(layer).items()):
            here = f"{path}/{name}"
            if isinstance(value, model_spec.LayerSpec):
                fill(value, here)
            elif isinstance(value, list) and value and isinstance(value[0], model_spec.LayerSpec):
                for i, sub in enumerate(value):
                    fill(sub, f"{here}_{i}")
            elif value is None:
                shape = next(s for key, s in shapes if key in here)
                setattr(layer, name, (np.ones(shape) if name == "gamma" else np.zeros(shape) if name == "beta"
                                      else random.normal(0, 0.3, shape)).astype(np.float32))

    spec = TransformerSpec.from_config((1, 1), 2)
    fill(spec, "")
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.optimize(quantization="float32")
    spec.save(str(directory))
    return directory


def test_a_ctranslate2_model_directory(tmp_path: Path, redis_conn: redis.Redis) -> None:
    model = tiny_nllb_model(tmp_path / "nllb-tiny")
    engine = settings(backend="ctranslate2", model_dir=str(model))
    answer = translate.check(engine)
    assert answer.startswith("CTranslate2 answers: 'قوات التحالف في قاعدة كيه-1 قرب كركوك' -> '")
    items = translate.dress(engine, redis_conn, desk(gloss="en"), [ARABIC, SORANI])
    for item in items:  # random weights: some text in the target's place, the language code taken off
        assert item.gloss.engine == "CTranslate2" and item.gloss.missing is None
        assert isinstance(item.gloss.title, str) and "eng_Latn" not in item.gloss.title
    iraqi = settings(backend="ctranslate2", model_dir=str(model), languages={"ar": "acm_Arab"}, name="NLLB")
    assert translate.CTranslate2Engine(iraqi).codes["ar"] == "acm_Arab"
    outside = translate.dress(engine, redis_conn, desk(gloss="en"),
                              [make_alert(title="x", language="xx", story_id="x1")])
    assert outside[0].gloss.missing == "CTranslate2: no NLLB code for xx->en"
    (model / "sentencepiece.bpe.model").unlink()
    with pytest.raises(translate.TranslationError, match="has no SentencePiece model"):
        translate.CTranslate2Engine(engine)


def test_alerts_preview_shows_the_gloss_as_it_would_be_sent(tmp_path: Path, libre: LibreStub) -> None:
    import subprocess

    directory = write_config(tmp_path / "config", [feed_source("s", "http://127.0.0.1:9/rss")],
                             {"channels": {"c": {"type": "console"}},
                              "desks": {"en": {"channels": ["c"], "topics": ["*"], "gloss": "en"}}})
    (directory / "newsmon.yaml").write_text(yaml.safe_dump(
        {"translate": {"backend": "libretranslate", "url": libre.url, "api_key": "k3y"}}))
    seed = Path(__file__).parent / "fixtures" / "seed" / "000_128dad676d5a1ee3.txt"
    result = subprocess.run([sys.executable, "-m", "newsmon", "--config-dir", str(directory), "alerts",
                             "preview", "--story", str(seed)], capture_output=True, text=True, timeout=120,
                            check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    title = seed.read_text(encoding="utf-8").splitlines()[0].strip()
    assert f"[en] {title}  [machine translation into English by LibreTranslate]" in result.stdout


def test_an_engine_that_cannot_be_built_costs_the_gloss_only(tmp_path: Path, redis_conn: redis.Redis) -> None:
    engine = settings(backend="ctranslate2", model_dir=str(tmp_path / "gone"))
    other = make_alert(title="x", language="ar", story_id="x2")
    items = translate.dress(engine, redis_conn, desk(gloss="en", transliterate="latin"), [other, SORANI])
    assert items[0].gloss.missing.endswith("holds no CTranslate2 model (model.bin)")
    assert items[1].gloss.latin == "hêzekanî hawpeymanî le kerkûk" and items[1].gloss.missing


def test_an_engines_text_is_cleaned_like_a_pages(tmp_path: Path, redis_conn: redis.Redis) -> None:
    script = tmp_path / "engine.py"
    script.write_text("import json, sys\nfor line in sys.stdin:\n    row = json.loads(line)\n"
                      "    print(json.dumps({'id': row['id'], 'translation': 'a\\u202eb\\nc\\x07d'}))\n")
    items = translate.dress(settings(backend="command", command=[sys.executable, str(script)]), redis_conn,
                            desk(gloss="en"), [ARABIC])
    assert items[0].gloss.title == "ab cd"  # bidi override and bell gone, the line break folded
