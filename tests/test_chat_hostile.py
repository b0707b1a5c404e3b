"""What each chat format receives for a hostile headline, outlet and snippet: no active link but the
story's own, no live mass mention. Mattermost and the JSON webhook post to real local receivers; the
Telegram, Discord and Slack services live at fixed hosts that cannot be reached here, so their HTTP
requests are captured at `requests.post`, after Apprise has built them."""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests
from pydantic import SecretStr

from newsmon.alerts.channels import send_apprise
from newsmon.alerts.render import render_delivery
from newsmon.settings import AppriseChannel
from tests.test_render import make_alert, make_delivery

STORY_URL = "https://k24.example/ar/story/1"
HOSTILE_TITLE = "K-1: [click me](http://evil.example/) @everyone @here <@&1234> <!here> <!channel> @channel"
HOSTILE_SNIPPET = "قاعدة كيه-1 visit www.evil.example or evil.example/x [x](https://evil.example) @all <#99>"
MENTIONS = ("@everyone", "@here", "@channel", "@all", "<@&", "<!here>", "<!channel>", "<#99>")


def rendered():
    alert = make_alert(title=HOSTILE_TITLE, snippet=HOSTILE_SNIPPET, words=("كيه-1",))
    alert = alert.model_copy(update={"outlet": "Evil [outlet](http://evil.example) @everyone"})
    return render_delivery(make_delivery(alert, channel="chat"))


APPRISE_ICON = "https://github.com/caronc/apprise/raw/"  # Apprise's own avatar field, not message text


def links_in(payload: str) -> set[str]:
    """Every URL or domain a chat client could make a link of (a zero-width space breaks one)."""
    stop = "\\s\"'<>)\\]\\\\\u200b"
    found = set(re.findall(rf"(?:https?://|www\.)[^{stop}]+", payload))
    found |= set(re.findall(r"\b[a-z0-9-]+\.(?:example|com|net|org)\b", payload))
    return {f for f in found if not f.startswith(APPRISE_ICON) and f != "github.com"}


def check(payload: str) -> None:
    for mention in MENTIONS:
        assert mention not in payload, f"live mention {mention!r} in {payload[:500]}"
    found = links_in(payload)
    assert found <= {STORY_URL, "k24.example"}, found
    assert STORY_URL in payload


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                receiver.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.mark.parametrize("scheme", ["json", "mmost"])
def test_local_receivers_get_no_hostile_markup(receiver: Receiver, scheme: str) -> None:
    url = (f"json://127.0.0.1:{receiver.port}/hook" if scheme == "json"
           else f"mmost://127.0.0.1:{receiver.port}/abcdefghijklmnopqrstuvwxyz")
    send_apprise(AppriseChannel(type="apprise", url=SecretStr(url)), rendered())
    assert len(receiver.bodies) == 1
    payload = json.loads(receiver.bodies[0])
    check(json.dumps(payload, ensure_ascii=False))


class _Answer:
    status_code = 200
    ok = True
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, body: dict[str, Any] | str) -> None:
        self.content = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.text = self.content.decode()

    def json(self) -> Any:
        return json.loads(self.content)


@pytest.mark.parametrize(("url", "answer"), [
    ("tgram://123456789:abcdefghijklmnopqrstuvwxyz0123456789/-1001234567890/", {"ok": True, "result": {}}),
    ("discord://1234567890/abcdefghijklmnopqrstuvwxyz0123456789", {}),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "ok"),
])
def test_fixed_host_services_get_no_hostile_markup(monkeypatch: pytest.MonkeyPatch, url: str,
                                                   answer: dict[str, Any] | str) -> None:
    sent: list[str] = []

    def capture(target: str, data: Any = None, **kwargs: Any) -> _Answer:
        body = data if data is not None else kwargs.get("json")
        sent.append(
            body.decode() if isinstance(body, bytes) else body if isinstance(body, str) else json.dumps(body)
        )
        return _Answer(answer)

    def capture_request(method: str, target: str, **kwargs: Any) -> _Answer:
        return capture(target, **kwargs)

    monkeypatch.setattr(requests, "post", capture)
    monkeypatch.setattr(requests, "request", capture_request)
    send_apprise(AppriseChannel(type="apprise", url=SecretStr(url)), rendered())
    assert sent, "nothing was sent"
    payload = json.dumps(
        [json.loads(s) if s.lstrip().startswith("{") else s for s in sent], ensure_ascii=False
    )
    check(payload)
