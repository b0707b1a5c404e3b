"""One bad value costs its own item only, failures carry the right name, and operator templates are
sandboxed (the smaller findings of the second hostile campaign)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2.sandbox import SecurityError

from newsmon.alerts.render import render_delivery
from newsmon.crawler.feeds import parse_feed
from newsmon.crawler.health import transport_failure
from tests.test_render import make_delivery

GOOD = [{"id": str(i), "url": f"https://x.example/{i}", "title": f"K-1 story {i}", "content_text": "text"}
        for i in range(3)]
DEEP = '{"a":' * 50_000 + "1" + "}" * 50_000


def json_feed(items: list[str], extra: str = "") -> bytes:
    return ('{"version": "https://jsonfeed.org/version/1.1", "title": "T \\"quoted]}\\" feed"' + extra
            + ', "items": [' + ", ".join(items) + "]}").encode()


def test_one_item_nested_50000_deep_costs_that_item_only() -> None:
    bad = ('{"id": "bad", "url": "https://x.example/bad", "title": "a [tricky] \\"}{\\" title", "x": '
           + DEEP + "}")
    parsed = parse_feed(json_feed([json.dumps(GOOD[0]), bad, json.dumps(GOOD[1]), json.dumps(GOOD[2])]),
                        "https://x.example/feed.json")
    assert parsed.problem is None
    assert [e.link for e in parsed.entries] == [f"https://x.example/{i}" for i in range(3)]
    assert parsed.skipped == ["entry 1: ValueError: JSON nested too deeply"]


def test_a_feed_nested_too_deeply_outside_its_items_names_that() -> None:
    parsed = parse_feed(json_feed([json.dumps(GOOD[0])], extra=', "meta": ' + DEEP), "https://x.example/f.json")
    assert parsed.entries == [] and parsed.problem == "JSON nested too deeply outside its items"


def test_an_oversized_body_is_too_large_not_connection() -> None:
    named = transport_failure("DownloadCancelledError", "Expected to receive 99999999 bytes which is larger "
                              "than download max size (16777216) in request <GET https://x.example/feed>.")
    assert named.kind == "too-large"
    assert transport_failure("IgnoreRequest", "refused: 10.0.0.1 is a private address").kind == "refused"
    assert transport_failure("ConnectionRefusedError", "Connection was refused").kind == "connection"


def test_an_operator_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        render_delivery(make_delivery(), tmp_path)
    (tmp_path / "email.txt.j2").write_text("{{ subject }} / {{ items[0].title }}")
    assert render_delivery(make_delivery(), tmp_path).text.startswith("[newsmon] K-1 air base: ")
