"""Pure crawler logic: dates, failure naming, backoff, private addresses, parsers on odd input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsmon.crawler import health
from newsmon.crawler.dates import parse_date
from newsmon.crawler.entries import parse_listing, parse_sitemap, parse_telegram
from newsmon.crawler.middlewares import is_private


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("١٦ تشرين الثاني ٢٠١٧", "2017-11-15T21:00"),
        ("16 نوفمبر 2017 الساعة 10:30 م", "2017-11-16T19:30"),
        ("الخميس ١٦ تشرين الثاني ٢٠١٧ - ١٠:٣٠", "2017-11-16T07:30"),
        ("١٦ی تشرینی دووەمی ٢٠١٧", "2017-11-15T21:00"),
        ("16ی تشرینی دووەمی 2017 کاتژمێر 14:05", "2017-11-16T11:05"),
        ("16ê Mijdara 2017", "2017-11-15T21:00"),
        ("3 كانون الأول 2026 12:30 ص", "2026-12-02T21:30"),
        ("16 November 2017, 3:05 pm", "2017-11-16T12:05"),
        ("Thu, 16 Nov 2017 08:30:00 GMT", "2017-11-16T08:30"),
        ("2017-11-16T08:30:00+03:00", "2017-11-16T05:30"),
        ("16/11/2017 09:15", "2017-11-16T06:15"),
    ],
)
def test_dates_in_outlets_languages(text: str, expected: str) -> None:
    parsed = parse_date(text, "Asia/Baghdad")
    assert parsed is not None and parsed.tzinfo is not None
    assert parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") == expected


@pytest.mark.parametrize("text", ["", "no date here", "32 تشرين الثاني 2017", "عاجل"])
def test_no_date(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind"),
    [
        (403, b"Forbidden", {}, "blocked"),
        (
            200,
            b"<html><title>Just a moment...</title><script src='/cdn-cgi/challenge-platform/x'></script>",
            {},
            "challenge",
        ),
        (503, b"<html>Attention Required! | Cloudflare</html>", {}, "challenge"),
        (429, b"", {"Retry-After": "120"}, "rate-limited"),
        (502, b"bad gateway", {}, "server-error"),
        (410, b"gone", {}, "not-found"),
    ],
)
def test_http_failures_are_named(status: int, body: bytes, headers: dict, kind: str) -> None:
    failure = health.http_failure(status, body, headers)
    assert failure is not None and failure.kind == kind
    if kind == "rate-limited":
        assert failure.retry_after == 120


def test_sucuri_fixture_is_a_challenge() -> None:
    from tests.conftest import FIXTURES

    body = (FIXTURES / "real" / "nrttv.com" / "sucuri_cloudproxy_challenge_2018.html").read_bytes()
    assert health.challenge_vendor(body) == "Sucuri"
    assert health.http_failure(200, b"<rss></rss>", {}) is None


def test_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    assert [health.backoff_seconds(300, n, 3600) for n in range(5)] == [0, 300, 600, 1200, 2400]
    assert health.backoff_seconds(300, 10, 3600) == 3600
    assert health.backoff_seconds(60, 1, 3600, retry_after=900) == 900


@pytest.mark.parametrize(
    ("address", "private"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("10.1.2.3", True), ("172.16.0.1", True),
     ("192.168.1.1", True), ("169.254.169.254", True), ("fd00:ec2::254", True), ("fe80::1", True),
     ("100.64.0.1", True), ("0.0.0.0", True), ("::ffff:127.0.0.1", True), ("8.8.8.8", False),
     ("2a00:1450:4001::200e", False)],
)
def test_private_addresses(address: str, private: bool) -> None:
    assert is_private(address) is private


def test_parsers_name_what_they_cannot_use() -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_sitemap(b"<html><body>hi</body></html>", "https://x/", 3, 50, None, now).problem
    assert parse_sitemap(b"", "https://x/", 3, 50, None, now).problem
    assert parse_telegram("<html><body>nothing</body></html>", "https://t.me/s/x", 3, 50, now).problem
    assert parse_listing("just text", "https://x/", None, None, None, 50).problem
    assert (
        parse_listing(
            "<a href='/a/1'>one</a><a href='/a/1'>again</a>", "https://x/", None, None, r"/a/\d", 50
        )
        .entries[0]
        .link
        == "https://x/a/1"
    )


def test_the_pipelines_know_nothing_of_the_spider_or_a_dry_run() -> None:
    """The dry run is a crawler without the enqueue pipeline whose runner collects what passes; the
    pipelines read no spider state, and the spider imports no pipeline (it announces a poll's end through
    crawler/signals.py and hears of dropped stories through Scrapy's item_dropped)."""
    import ast

    from tests.conftest import ROOT

    pipelines = ast.parse((ROOT / "crawler" / "pipelines.py").read_text(encoding="utf-8"))
    touched = {node.attr for node in ast.walk(pipelines) if isinstance(node, ast.Attribute)}
    assert not touched & {"spider", "dry_run", "collected", "oneshot"}, touched & {"spider", "dry_run"}
    spider = (ROOT / "crawler" / "spiders" / "base.py").read_text(encoding="utf-8")
    assert "newsmon.crawler.pipelines" not in spider and "import pipelines" not in spider
