"""WebSub: push where a feed offers it. A loopback hub written for these tests (subscribe, verify intent,
sign and deliver notifications, grant leases), newsmon's web role serving the callback on a real
socket, a real Redis; the whole system (scheduler, crawler, worker, web) for a ping that ends in an
alert."""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from werkzeug.serving import make_server

from newsmon import keys, websub
from newsmon.app.replay import Article, Feed, ReplaySite
from newsmon.app.web import create_app
from newsmon.crawler.feeds import parse_feed
from newsmon.scheduler.clock import Clock, LeaderLock, _Fixed, build_scheduler
from newsmon.settings import Config, load_config
from tests.conftest import (
    Roles,
    SmtpServer,
    feed_source,
    make_article,
    polls_total,
    start_web_process,
    wait_for,
    write_config,
)

ALERTS = {"channels": {"c": {"type": "console"}}, "routes": []}


class Hub:
    """A WebSub hub on loopback: takes subscription and unsubscription requests (202), verifies each intent
    with a GET on the callback from another thread, and delivers signed notifications to verified
    subscribers."""

    def __init__(self, lease: int = 3600) -> None:
        self.lease = lease
        self.requests: list[dict[str, str]] = []  # every subscription request, as posted
        self.verified: dict[str, dict[str, Any]] = {}  # callback -> topic, secret, lease
        self.failed_verifications: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                hub.requests.append(form)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _verify(self, form: dict[str, str]) -> None:
        challenge = secrets.token_urlsafe(16)
        query = urllib.parse.urlencode({"hub.mode": form["hub.mode"], "hub.topic": form["hub.topic"],
                                        "hub.challenge": challenge, "hub.lease_seconds": self.lease})
        try:
            with urllib.request.urlopen(f"{form['hub.callback']}?{query}", timeout=10) as response:
                ok = response.status == 200 and response.read().decode() == challenge
        except urllib.error.HTTPError:
            ok = False
        if ok and form["hub.mode"] == "unsubscribe":
            self.verified.pop(form["hub.callback"], None)
        elif ok:
            self.verified[form["hub.callback"]] = {"topic": form["hub.topic"], "secret": form["hub.secret"],
                                                   "lease": self.lease}
        else:
            self.failed_verifications.append(form["hub.callback"])

    def publish(self, topic: str, body: bytes = b"<rss/>", secret: str | None = None,
                method: str = "sha256", signed: bool = True) -> list[int]:
        """Deliver a notification to every verified subscriber of `topic` (signed with `secret` instead of
        the subscription's, to forge one); returns the HTTP statuses."""
        statuses = []
        for callback, sub in self.verified.items():
            if sub["topic"] != topic:
                continue
            key = (secret or sub["secret"]).encode()
            headers = {"Content-Type": "application/rss+xml"}
            if signed:
                headers["X-Hub-Signature"] = f"{method}={hmac.new(key, body, method).hexdigest()}"
            request = urllib.request.Request(callback, data=body, method="POST", headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                statuses.append(response.status)
        return statuses

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    found = Hub()
    yield found
    found.stop()


class Web:
    """newsmon's web app on a real loopback socket, in this process."""

    def __init__(self, config: Config, conn: redis.Redis) -> None:
        self.app = create_app(config, conn, recent_stories=lambda n: [])
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def config_with(tmp_path: Path, public_url: str, feed_url: str, **websub_settings: Any) -> Config:
    config_dir = write_config(tmp_path / "config", [feed_source("s1", feed_url, interval=300)], ALERTS)
    (config_dir / "newsmon.yaml").write_text(yaml.safe_dump(
        {"web": {"public_url": public_url}, "websub": websub_settings}))
    return load_config(config_dir)


@pytest.fixture
def subscribed(tmp_path: Path, redis_conn: redis.Redis, hub: Hub) -> Iterator[tuple[Config, Web, str]]:
    """A config whose source s1's feed names `hub`, the web role serving the callback, and the subscription
    verified by the hub."""
    web = Web(config_with(tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:9/feed"), redis_conn)
    config = config_with(tmp_path, web.url, "http://127.0.0.1:9/feed")  # the callbacks' address, now known
    topic = "http://127.0.0.1:9/feed"
    websub.record_discovery(redis_conn, "s1", hub.url, topic)
    done = websub.maintain(redis_conn, config)
    assert done == {"s1": "pending (new)"}
    wait_for(lambda: f"{web.url}/websub/s1" in hub.verified, timeout=10, what="the hub to verify")
    yield config, web, topic
    web.stop()


def state(conn: redis.Redis) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in conn.hgetall(keys.websub("s1")).items()}


# --- discovery -------------------------------------------------------------------------------------------


def test_a_hub_is_found_in_atom_rss_json_feed_and_the_link_header() -> None:
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            b'<link rel="hub" href="https://hub.example/"/><link rel="self" href="/atom.xml"/>'
            b'<entry><title>a</title><link href="http://x.example/a"/><id>1</id></entry></feed>')
    parsed = parse_feed(atom, "http://x.example/atom.xml")
    assert websub.discover(parsed.links, "http://x.example/atom.xml") == (
        "https://hub.example/", "http://x.example/atom.xml")
    site = ReplaySite()
    rss = site.render_feed(Feed("/rss", "T", "ar", "O", [], hub="https://hub.example/h"), "http://x.example")
    parsed = parse_feed(rss, "http://x.example/rss")
    assert websub.discover(parsed.links, "http://x.example/rss") == ("https://hub.example/h",
                                                                     "http://x.example/rss")
    json_feed = (b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "feed_url": '
                 b'"https://x.example/feed.json", "hubs": [{"type": "WebSub", "url": "https://hub.example/j"}],'
                 b' "items": []}')
    parsed = parse_feed(json_feed, "https://x.example/feed.json")
    assert websub.discover(parsed.links, "https://x.example/feed.json") == ("https://hub.example/j",
                                                                           "https://x.example/feed.json")
    header = '<https://hub.example/l>; rel="hub", </self>; rel="self alternate"'
    assert websub.link_header(header) == [("https://hub.example/l", {"hub"}),
                                          ("/self", {"self", "alternate"})]
    assert websub.discover(websub.link_header(header), "https://x.example/f") == (
        "https://hub.example/l", "https://x.example/self")
    # what is not an http(s) address is no hub
    for bad in ('<javascript:alert(1)>; rel="hub"', '<http://h\r\nX: 1>; rel=hub',
                '<http://h:port>; rel=hub'):
        assert websub.discover(websub.link_header(bad), "https://x.example/f") == (None, None), bad


def test_discovery_is_kept_and_forgotten_with_the_feed(redis_conn: redis.Redis) -> None:
    websub.record_discovery(redis_conn, "s1", "https://hub.example/", "https://x.example/f")
    assert state(redis_conn)["hub"] == "https://hub.example/"
    websub.record_discovery(redis_conn, "s1", None, None)
    assert "hub" not in state(redis_conn)


# --- subscribing, verifying, notifications ----------------------------------------------------------------


def test_subscribe_verify_and_a_signed_ping_is_a_poll_request(subscribed: tuple[Config, Web, str], hub: Hub,
                                                              redis_conn: redis.Redis) -> None:
    config, web, topic = subscribed
    request = hub.requests[0]
    assert request["hub.mode"] == "subscribe" and request["hub.topic"] == topic
    assert request["hub.callback"] == f"{web.url}/websub/s1" and len(request["hub.secret"]) == 64
    assert request["hub.lease_seconds"] == str(config.pipeline.websub.lease_seconds)
    found = state(redis_conn)
    assert found["state"] == "active" and found["secret"] == request["hub.secret"]
    assert websub.alive_sources(redis_conn, ["s1"], time.time()) == {"s1"}
    assert hub.publish(topic) == [202]
    assert websub.take_pushes(redis_conn) == ["s1"] and state(redis_conn)["pushes"] == "1"
    for method in ("sha1", "sha512"):  # every method the recommendation names
        assert hub.publish(topic, method=method) == [202]
    assert websub.take_pushes(redis_conn) == ["s1"]  # two pings before a look: one poll
    assert websub.take_pushes(redis_conn) == []


def test_a_forged_or_unsigned_ping_is_refused_and_counted(subscribed: tuple[Config, Web, str], hub: Hub,
                                                          redis_conn: redis.Redis) -> None:
    _, web, topic = subscribed
    assert hub.publish(topic, secret="not the subscription's secret") == [202]  # the sender learns nothing
    assert websub.take_pushes(redis_conn) == []
    assert state(redis_conn)["rejected"] == "1" and state(redis_conn)["rejected_reason"] == "bad signature"
    assert hub.publish(topic, signed=False) == [202]
    assert state(redis_conn)["rejected"] == "2" and state(redis_conn)["rejected_reason"] == "unsigned"
    assert websub.take_pushes(redis_conn) == []
    # a callback for a source that takes no pushes, and a verification newsmon did not ask for
    other = urllib.request.Request(f"{web.url}/websub/nope", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(other, timeout=10)
    assert refused.value.code == 404
    for mode in ("unsubscribe", "subscribe"):
        query = urllib.parse.urlencode({"hub.mode": mode, "hub.topic": "http://elsewhere.example/",
                                        "hub.challenge": "c"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{web.url}/websub/s1?{query}", timeout=10)
        assert refused.value.code == 404
    assert state(redis_conn)["state"] == "active"  # nobody else cancels or moves newsmon's subscription
    from newsmon.status import collect

    row = next(r for r in collect(subscribed[0], redis_conn)["sources"] if r["id"] == "s1")
    assert row["websub"]["rejected"] == 2 and row["websub"]["pushed"] and row["websub"]["pushes"] == 0


def test_a_source_that_no_longer_takes_pushes_is_unsubscribed(
        subscribed: tuple[Config, Web, str], hub: Hub, redis_conn: redis.Redis, tmp_path: Path) -> None:
    _config, web, topic = subscribed
    callback = f"{web.url}/websub/s1"
    secret = state(redis_conn)["secret"]
    # its pushes turned off (as when the source is removed or disabled): newsmon asks the hub to end them
    source = {**feed_source("s1", topic, interval=300), "websub": False}
    off = write_config(tmp_path / "off", [source], ALERTS)
    (off / "newsmon.yaml").write_text(yaml.safe_dump({"web": {"public_url": web.url}}))
    assert websub.maintain(redis_conn, load_config(off)) == {"s1": "unsubscribing"}
    assert hub.requests[-1] == {"hub.mode": "unsubscribe", "hub.topic": topic, "hub.callback": callback}
    wait_for(lambda: callback not in hub.verified, timeout=10, what="the hub to verify the end")
    wait_for(lambda: not redis_conn.exists(keys.websub("s1")), timeout=10, what="newsmon to forget s1")
    assert not redis_conn.sismember(keys.WEBSUB_SOURCES, "s1")
    assert websub.maintain(redis_conn, load_config(off)) == {}  # nothing left to end
    # a ping that still comes, signed with the old secret, polls nothing (the sender learns nothing)
    body = b"<rss/>"
    ping = urllib.request.Request(callback, data=body, method="POST", headers={
        "X-Hub-Signature": "sha256=" + hmac.new(secret.encode(), body, "sha256").hexdigest()})
    with urllib.request.urlopen(ping, timeout=10) as answer:
        assert answer.status == 202
    assert websub.take_pushes(redis_conn) == [] and state(redis_conn)["rejected_reason"] == "no subscription"


def test_an_end_the_hub_never_verifies_is_forgotten(tmp_path: Path, redis_conn: redis.Redis) -> None:
    now = 1_000_000.0
    redis_conn.hset(keys.websub("gone"), mapping={"state": "active", "hub": "http://hub.example/",
                                                  "sub_hub": "http://hub.example/", "sub_topic": "t",
                                                  "expires_at": now + 3600, "secret": "s"})
    redis_conn.sadd(keys.WEBSUB_SOURCES, "gone")
    config = config_with(tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:9/feed")
    asked: list[dict[str, str]] = []

    def post(hub: str, fields: dict[str, str]) -> tuple[int, str]:  # the hub accepts, and never verifies
        asked.append(fields)
        return 202, ""

    assert websub.maintain(redis_conn, config, now=now, post=post)["gone"] == "unsubscribing"
    assert websub.maintain(redis_conn, config, now=now + 60, post=post).get("gone") is None  # waiting
    assert websub.maintain(redis_conn, config, now=now + websub.PENDING_TIMEOUT, post=post)["gone"] == \
        "forgotten (the hub did not verify the end)"
    assert len(asked) == 1 and not redis_conn.exists(keys.websub("gone"))


def test_the_lease_is_renewed_before_it_ends(tmp_path: Path, redis_conn: redis.Redis) -> None:
    hub = Hub(lease=120)  # the hub grants two minutes, whatever newsmon asked for
    try:
        web = Web(config_with(tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:9/feed"), redis_conn)
        config = config_with(tmp_path, web.url, "http://127.0.0.1:9/feed")
        websub.record_discovery(redis_conn, "s1", hub.url, "http://127.0.0.1:9/feed")
        websub.maintain(redis_conn, config)
        wait_for(lambda: state(redis_conn).get("state") == "active", timeout=10, what="verified")
        verified = float(state(redis_conn)["verified_at"])
        assert float(state(redis_conn)["expires_at"]) == pytest.approx(verified + 120)
        assert websub.maintain(redis_conn, config, now=verified + 50) == {}  # 70 s left: not yet
        old_secret = state(redis_conn)["secret"]
        assert websub.maintain(redis_conn, config, now=verified + 61) == {"s1": "pending (renewal)"}
        assert len(hub.requests) == 2
        wait_for(lambda: float(state(redis_conn)["verified_at"]) > verified, timeout=10, what="re-verified")
        assert state(redis_conn)["secret"] == hub.requests[1]["hub.secret"] != old_secret
        assert state(redis_conn)["state"] == "active"
        web.stop()
    finally:
        hub.stop()


def test_with_the_hub_gone_polling_goes_on_at_the_sources_own_interval(
        subscribed: tuple[Config, Web, str], hub: Hub, redis_conn: redis.Redis) -> None:
    config, _, _ = subscribed
    leader = LeaderLock(redis_conn)
    scheduler = build_scheduler(config, redis_conn, leader)
    clock = Clock(redis_conn, _Fixed(config), leader, scheduler=scheduler)
    now = time.time()

    def interval() -> float:
        return scheduler.get_job("poll:s1").trigger.interval.total_seconds()

    assert clock.replan(now=now) == {"s1": config.pipeline.websub.fallback_interval}
    assert interval() == config.pipeline.websub.fallback_interval  # pushed: polled every 30 minutes
    hub.stop()
    lease_over = float(state(redis_conn)["expires_at"]) + 1
    done = websub.maintain(redis_conn, config, now=lease_over)
    assert done == {"s1": "failed (lease over)"}
    found = state(redis_conn)
    assert found["state"] == "failed" and found["error"].startswith("hub unreachable: URLError")
    assert clock.replan(now=lease_over) == {}
    assert interval() == 300  # its own interval again
    # retried after websub.retry_after, not at every look
    assert websub.maintain(redis_conn, config, now=lease_over + 60) == {}
    assert websub.maintain(redis_conn, config, now=lease_over + config.pipeline.websub.retry_after + 1) == {
        "s1": "failed (retry after failed)"}


def test_without_public_url_nothing_is_subscribed(tmp_path: Path, redis_conn: redis.Redis, hub: Hub) -> None:
    config_dir = write_config(tmp_path / "config", [feed_source("s1", "http://127.0.0.1:9/f")], ALERTS)
    websub.record_discovery(redis_conn, "s1", hub.url, None)
    assert websub.maintain(redis_conn, load_config(config_dir)) == {} and hub.requests == []


# --- the whole system -------------------------------------------------------------------------------------


K1 = ["A rocket landed inside the K-1 base west of Kirkuk late on Friday, a security source said.",
      "Coalition troops left the base in 2017; Iraqi forces have held it since."]


@pytest.mark.e2e
def test_a_signed_ping_leads_to_a_poll_and_an_alert_within_5_s(
        tmp_path: Path, roles: Roles, redis_conn: redis.Redis, replay: ReplaySite, hub: Hub,
        smtp_server: SmtpServer) -> None:
    replay.add_feed(Feed("/k24/rss", "K24", "en", "Kurdistan24", [
        make_article("/k24/old", "Oil exports rise", ["Iraq's oil exports rose in November."])], hub=hub.url))
    source = feed_source("k24", f"{replay.base_url}/k24/rss", interval=3600, outlet="Kurdistan24")
    alerts = {"smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "newsmon@test", "timeout": 5},
              "channels": {"mail": {"type": "email", "to": ["desk@test"]}},
              "routes": [{"id": "kirkuk", "topics": ["k1_base"], "channels": ["mail"]}]}
    config_dir = write_config(tmp_path / "config", [source], alerts)
    env = {"REDIS_URL": roles.redis_url, "NEWSMON_DATA_DIR": str(tmp_path / "data")}
    web, port = start_web_process(["--config-dir", str(config_dir), "web"], {**os.environ, **env},
                                  tmp_path / "web.log")
    try:
        # the web role reads the directory at each callback: public_url is the address it listens on
        (config_dir / "newsmon.yaml").write_text(yaml.safe_dump(
            {"web": {"public_url": f"http://127.0.0.1:{port}"}}))
        for role in ("scheduler", "crawler", "worker"):
            roles.start(role, config_dir, role)
        callback = f"http://127.0.0.1:{port}/websub/k24"
        wait_for(lambda: callback in hub.verified, timeout=60, what="the subscription verified")
        # the first poll, which found the hub, is over; the next is an hour away
        wait_for(lambda: polls_total(redis_conn, "k24") == 1, timeout=30, what="the first poll done")
        replay.publish("/k24/rss", Article(path="/k24/k1", title="Rocket lands inside K-1 base",
                                           paragraphs=K1, language="en", outlet="Kurdistan24",
                                           published=datetime.now(UTC)))
        pinged = time.monotonic()
        assert hub.publish(f"{replay.base_url}/k24/rss") == [202]
        wait_for(lambda: len(smtp_server.messages) == 1, timeout=5, interval=0.05,
                 what="the alert within 5 s")
        took = time.monotonic() - pinged
        assert "Rocket lands inside K-1 base" in smtp_server.messages[0]["Subject"], took
        assert polls_total(redis_conn, "k24") == 2
        status = {k.decode(): v.decode() for k, v in redis_conn.hgetall(keys.websub("k24")).items()}
        assert status["pushes"] == "1" and status["state"] == "active"
    finally:
        web.terminate()
        web.wait(timeout=30)
