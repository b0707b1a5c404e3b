"""Each chat service gets the message in its own markup, escaped for that markup and nothing else: the
exact text fields of the payloads Apprise sends, for a hostile headline (markup characters of every
service, mass mentions, an RTL override) and an ordinary Arabic one with parentheses.

Mattermost and the JSON webhook post to a real local receiver; Telegram, Discord and Slack live at fixed
hosts that cannot be reached here, so their requests are captured at `requests.post`, after Apprise has
built them (as in tests/test_chat_hostile.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from newsmon.alerts.channels import chat_dialect, send_apprise
from newsmon.alerts.render import render_delivery
from newsmon.settings import AppriseChannel
from tests.conftest import WebhookReceiver
from tests.test_chat_hostile import _Answer
from tests.test_render import make_alert, make_delivery

Z = "\u200b"  # the zero-width space that breaks a mention or a link
HOSTILE_TITLE = "K-1 *b* _i_ ~s~ `c` |t| [x](http://evil.example) <b>&amp; \\( #tag @everyone \u202egnp.exe"
HOSTILE_SNIPPET = "1. عاجل *نجمة* <!here> <@U1> > quote _x_ (القوات)"
ARABIC_TITLE = "قاعدة كيه-1 (كركوك): وصول قوات التحالف"
ARABIC_SNIPPET = "وصلت قوة (التحالف) الى قاعدة كيه-1 غرب كركوك"
TAIL = "Kurdistan24 · 2026-11-20 11:00 +03 · Arabic\n\n"
LINK = "https://k24.example/ar/story/1"

FIXED_HOSTS = {
    "tgram": ("tgram://123456789:abcdefghijklmnopqrstuvwxyz0123456789/-1001234567890/",
              {"ok": True, "result": {}}),
    "discord": ("discord://1234567890/abcdefghijklmnopqrstuvwxyz0123456789", {}),
    "slack": ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "ok"),
}

# what page text becomes: markdown escaped with backslashes, Telegram's HTML with entities, plain text as
# written; everywhere the mentions and the page's own links broken and the RTL override gone
H_MD = (f"K-1 \\*b\\* \\_i\\_ \\~s\\~ \\`c\\` \\|t\\| \\[x\\](http:{Z}//evil.{Z}example) \\<b\\>&amp; \\\\( "
        f"#tag @{Z}everyone gnp.{Z}exe")
H_HTML = (f"K-1 *b* _i_ ~s~ `c` |t| [x](http:{Z}//evil.{Z}example) &lt;b&gt;&amp;amp; \\( "
          f"#tag @{Z}everyone gnp.{Z}exe")
H_TEXT = f"K-1 *b* _i_ ~s~ `c` |t| [x](http:{Z}//evil.{Z}example) <b>&amp; \\( #tag @{Z}everyone gnp.{Z}exe"
H_SLACK = H_TEXT.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # Slack's own three

EXPECTED = {
    ("hostile", "tgram"): {
        "parse_mode": "HTML",
        "text": f"<b>K-1 air base: {H_HTML} (Kurdistan24)</b>\r\n<b>{H_HTML}</b>\r\n"
        + TAIL.replace("\n\n", "\r\n\r\n")
        + f"1. عاجل <b>*نجمة*</b> &lt;{Z}!here&gt; &lt;{Z}@U1&gt; &gt; quote _x_ (القوات)\r\n\r\n"
        + f"Matched: K-1 air base (كيه-1, *نجمة*)\r\n{LINK}",
    },
    ("hostile", "discord"): {
        "content": f"K-1 air base: {H_MD} (Kurdistan24)\r\n**{H_MD}**\n{TAIL}"
        + f"1\\. عاجل **\\*نجمة\\*** \\<{Z}!here\\> \\<{Z}@U1\\> \\> quote \\_x\\_ (القوات)\n\n"
        + f"Matched: K-1 air base (كيه-1, \\*نجمة\\*)\n{LINK}",
    },
    ("hostile", "slack"): {
        "mrkdwn": False,
        "title": f"K-1 air base: {H_SLACK} (Kurdistan24)",
        "text": f"{H_SLACK}\n{TAIL}1. عاجل *نجمة* &lt;{Z}!here&gt; &lt;{Z}@U1&gt; &gt; quote _x_ (القوات)\n\n"
        f"Matched: K-1 air base (كيه-1, *نجمة*)\n{LINK}",
    },
    ("hostile", "json"): {
        "title": f"K-1 air base: {H_TEXT} (Kurdistan24)",
        "message": f"{H_TEXT}\n{TAIL}1. عاجل *نجمة* <{Z}!here> <{Z}@U1> > quote _x_ (القوات)\n\n"
        f"Matched: K-1 air base (كيه-1, *نجمة*)\n{LINK}",
    },
    ("arabic", "tgram"): {
        "parse_mode": "HTML",
        "text": f"<b>K-1 air base: {ARABIC_TITLE} (Kurdistan24)</b>\r\n<b>{ARABIC_TITLE}</b>\r\n"
        f"{TAIL}".replace("\n\n", "\r\n\r\n") + "وصلت قوة (التحالف) الى قاعدة <b>كيه-1</b> غرب كركوك\r\n\r\n"
        f"Matched: K-1 air base (كيه-1, *نجمة*)\r\n{LINK}",
    },
    ("arabic", "discord"): {
        "content": f"K-1 air base: {ARABIC_TITLE} (Kurdistan24)\r\n**{ARABIC_TITLE}**\n{TAIL}"
        f"وصلت قوة (التحالف) الى قاعدة **كيه-1** غرب كركوك\n\n"
        f"Matched: K-1 air base (كيه-1, \\*نجمة\\*)\n{LINK}",
    },
    ("arabic", "slack"): {
        "mrkdwn": False,
        "title": f"K-1 air base: {ARABIC_TITLE} (Kurdistan24)",
        "text": f"{ARABIC_TITLE}\n{TAIL}{ARABIC_SNIPPET}\n\nMatched: K-1 air base (كيه-1, *نجمة*)\n{LINK}",
    },
    ("arabic", "json"): {
        "title": f"K-1 air base: {ARABIC_TITLE} (Kurdistan24)",
        "message": f"{ARABIC_TITLE}\n{TAIL}{ARABIC_SNIPPET}\n\nMatched: K-1 air base (كيه-1, *نجمة*)\n{LINK}",
    },
}
# Mattermost reads the same Markdown as Discord, in its `text` field
for case in ("hostile", "arabic"):
    EXPECTED[(case, "mmost")] = {"text": EXPECTED[(case, "discord")]["content"]}


def rendered(case: str):
    title, snippet = (HOSTILE_TITLE, HOSTILE_SNIPPET) if case == "hostile" else (ARABIC_TITLE, ARABIC_SNIPPET)
    return render_delivery(make_delivery(make_alert(title=title, snippet=snippet, words=("كيه-1", "*نجمة*")),
                                         channel="chat"))


def fields(payload: dict[str, Any], service: str) -> dict[str, Any]:
    """The payload's text-bearing fields (the rest is Apprise's: avatar, colour, timestamp)."""
    if service == "slack":
        attachment = payload["attachments"][0]
        return {"mrkdwn": payload["mrkdwn"], "title": attachment["title"], "text": attachment["text"]}
    return {key: payload[key] for key in EXPECTED[("arabic", service)]}


@pytest.mark.parametrize("case", ["hostile", "arabic"])
@pytest.mark.parametrize("service", ["mmost", "json"])
def test_local_services_get_their_own_markup(webhook: WebhookReceiver, service: str, case: str) -> None:
    port = webhook.server.server_address[1]
    url = webhook.url if service == "json" else f"mmost://127.0.0.1:{port}/abcdefghijklmnopqrstuvwxyz"
    send_apprise(AppriseChannel(type="apprise", url=SecretStr(url)), rendered(case))
    assert len(webhook.posts) == 1
    assert fields(webhook.posts[0], service) == EXPECTED[(case, service)]


@pytest.mark.parametrize("case", ["hostile", "arabic"])
@pytest.mark.parametrize("service", sorted(FIXED_HOSTS))
def test_fixed_host_services_get_their_own_markup(monkeypatch: pytest.MonkeyPatch, service: str,
                                                  case: str) -> None:
    url, answer = FIXED_HOSTS[service]
    sent: list[Any] = []

    def capture(target: str, data: Any = None, **kwargs: Any) -> _Answer:
        body = data if data is not None else kwargs.get("json")
        sent.append(json.loads(body) if isinstance(body, (str, bytes)) else body)
        return _Answer(answer)

    monkeypatch.setattr(requests, "post", capture)
    monkeypatch.setattr(requests, "request", lambda method, target, **kwargs: capture(target, **kwargs))
    send_apprise(AppriseChannel(type="apprise", url=SecretStr(url)), rendered(case))
    assert len(sent) == 1
    assert fields(sent[0], service) == EXPECTED[(case, service)]


def test_each_service_is_given_the_markup_it_reads() -> None:
    assert chat_dialect(FIXED_HOSTS["tgram"][0]) == "telegram"
    assert chat_dialect(FIXED_HOSTS["slack"][0]) == "text"
    assert chat_dialect(FIXED_HOSTS["discord"][0]) == "markdown"
    assert chat_dialect("mmosts://chat.example/abcdefghijklmnopqrstuvwxyz") == "markdown"
    assert chat_dialect("json://127.0.0.1/hook") == "text"
    assert chat_dialect("rocket://user:pass@rocket.example/#news") == "markdown"  # Markdown is its own format
    assert chat_dialect("ntfy://ntfy.example/topic") == "text"
