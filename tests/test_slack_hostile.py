"""Hostile Slack bodies (issue 11), signed with the real secret and sent over real HTTP to the bot and to the
front: malformed shapes get a 400 naming the problem (never a 500, never an ack that is then dropped), and a
replayed signed slash command is refused."""

from __future__ import annotations

import json
import time

import pytest

from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import ALICE, EMAIL_USER, SECRET, Bot
from tests.test_slack_front import RunningFront

DEEP = 100_000


def _mention(**changes: object) -> bytes:
    data = json.loads(sr.event_body("app_mention", text="who decides at Acme?", user=EMAIL_USER))
    for key, value in changes.items():
        if key.startswith("event."):
            if value is None:
                data["event"].pop(key[6:], None)
            else:
                data["event"][key[6:]] = value
        else:
            data[key] = value
    return json.dumps(data).encode()


BAD_BODIES = [
    ("deep JSON", b'{"type": "event_callback", "event": ' + b"[" * DEEP + b"]" * DEEP + b"}", "nested"),
    ("deep payload", b"payload=" + b"%5B" * 5000 + b"%5D" * 5000, "nested"),
    ("event is a list", _mention(event=[1, 2]), "event must be an object"),
    ("event is a string", _mention(event="app_mention"), "event must be an object"),
    ("event beside another type", _mention(type="x", event="s"), "event must be an object"),
    ("type is a list", _mention(type=["event_callback"]), "type must be a string"),
    ("event type is a number", _mention(**{"event.type": 5}), "event.type must be a string"),
    ("no channel", _mention(**{"event.channel": None}), "event.channel is missing"),
    ("user is a list", _mention(**{"event.user": ["U1"]}), "event.user is missing or not a string"),
    ("text is a number", _mention(**{"event.text": 42}), "event.text must be a string"),
    ("event id is a number", _mention(event_id=7), "event_id must be a string"),
    ("command without user", sr.slash_command_body(text="help").replace(b"user_id=", b"uid="), "user_id"),
]


@pytest.mark.parametrize(("body", "problem"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_hostile_bodies_get_400_naming_the_problem(bot: Bot, mock: MockSlack, body: bytes, problem: str) -> None:
    status, text = bot.send(body)
    assert status == 400 and problem in text, (status, text)
    front = RunningFront(bot.url)
    try:
        status, text = front.send(body)
        assert status == 400 and problem in text, (status, text)
        front.settle(bot)
        assert front.app.forwarded == 0
    finally:
        front.stop()
    bot.settle()
    assert mock.calls("chat.postMessage") == []
    assert bot.send(sr.slash_command_body(text="help"))[0] == 200  # still serving


def test_a_replayed_signed_slash_command_is_refused(bot: Bot, mock: MockSlack) -> None:
    body = sr.slash_command_body(text="tiers", user_id=ALICE, response_url=mock.response_url())
    headers = sr.signed_headers(SECRET, body)  # captured once, sent again within Slack's 5 minutes
    assert sr.post(bot.url, body, headers)[0] == 200
    for _ in range(3):
        status, text = sr.post(bot.url, body, headers)
        assert status == 401 and "replayed" in text
    bot.settle()
    assert len(mock.wait_for("response_url", 1, timeout=30)) == 1
    time.sleep(0.3)
    assert len(mock.calls("response_url")) == 1  # answered once, not once per replay


def test_a_replay_through_the_front_is_refused_too(bot: Bot) -> None:
    front = RunningFront(bot.url)
    try:
        body = sr.slash_command_body(text="help", user_id=ALICE)
        headers = sr.signed_headers(SECRET, body)
        assert sr.post(front.url, body, headers)[0] == 200
        assert sr.post(front.url, body, headers)[0] == 401
    finally:
        front.stop()
