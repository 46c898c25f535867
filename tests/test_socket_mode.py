"""`kam run` in Socket Mode (SLACK_APP_TOKEN set, the default for self-hosted teams) as a real process against the
mock Slack's Socket Mode (bot/mock_socket.py): the same mention, retry, command and button scenarios as HTTP mode."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.render_answer import FEEDBACK_BLOCK, FEEDBACK_UP
from tests.deployed import Proc, kam_env
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import EMAIL_USER

QUESTION = "who decides at Acme?"


def _text(call: Any) -> str:
    return call.params.get("text", "") + json.dumps(call.params.get("blocks", []), ensure_ascii=False)


def _form(body: bytes) -> dict[str, Any]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


@pytest.fixture()
def socket_bot(sample_kb, mock: MockSlack):  # noqa: ANN001, ANN201
    settings, store, index = sample_kb
    index.close()  # the bot process owns the data directory
    store.engine.dispose()
    home = settings.kam_home
    env = kam_env(home, mock, SLACK_APP_TOKEN="xapp-1-test", KAM_SLACK_PLACEHOLDER_AFTER="60")
    env.pop("SLACK_SIGNING_SECRET")  # Socket Mode needs no public endpoint, so no signing secret
    bot = Proc("socket-bot", ["run"], env, home.parent).start(wait=None)
    try:
        assert mock.socket_mode.wait_connected(180), f"kam run did not connect over Socket Mode:\n{bot.log()}"
        yield bot
    finally:
        bot.stop()


@pytest.mark.slow
def test_socket_mode_answers_mentions_once_commands_and_buttons(socket_bot: Proc, mock: MockSlack) -> None:
    sm = mock.socket_mode
    event = json.loads(sr.event_body("app_mention", text=QUESTION, user=EMAIL_USER))
    first = sm.send("events_api", event)
    assert sm.wait_ack(first, timeout=10) is not None, "the mention was not acknowledged"
    [answer] = mock.wait_for("chat.postMessage", timeout=120)
    assert "Karen Doyle" in _text(answer) and answer.params["thread_ts"] == event["event"]["ts"]

    # Slack's retry of the same event (as after a missed ack): acknowledged, not answered again
    retry = sm.send("events_api", event, retry_attempt=1, retry_reason="timeout")
    assert sm.wait_ack(retry, timeout=10) is not None
    time.sleep(2)
    assert len([c for c in mock.calls("chat.postMessage") if c.response.get("ok")]) == 1

    # a slash command: acknowledged at once, the answer through its response_url (or the ack's payload)
    response_url = mock.response_url()
    command = _form(sr.slash_command_body("/kam", f"ask {QUESTION}", user_id=EMAIL_USER, response_url=response_url))
    ack = sm.wait_ack(sm.send("slash_commands", command), timeout=10)
    assert ack is not None, "the command was not acknowledged within Slack's 3 s (10 s here)"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        replied = json.dumps(ack.get("payload") or {}) + "".join(
            _text(c) for c in mock.calls("response_url") if c.path in response_url)
        if "Karen Doyle" in replied:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no answer to the command: {ack}, {mock.calls('response_url')}")

    # the feedback button under the answer
    message = mock.messages[answer.params["channel"]][answer.response["ts"]]
    answer_id = next(el["value"] for b in message["blocks"] if b.get("block_id") == FEEDBACK_BLOCK
                     for el in b["elements"] if el["action_id"] == FEEDBACK_UP)
    click = json.loads(_form(sr.block_actions_body(FEEDBACK_UP, answer_id, EMAIL_USER, block_id=FEEDBACK_BLOCK,
                                                   channel_id=answer.params["channel"], message=message))["payload"])
    assert sm.wait_ack(sm.send("interactive", click), timeout=10) is not None
    [update] = mock.wait_for("chat.update", timeout=30)
    assert "helpful" in json.dumps(update.params.get("blocks", [])).lower()


@pytest.mark.slow
def test_slack_sim_drives_a_socket_mode_bot(sample_kb) -> None:  # noqa: ANN001
    """`kam slack-sim` beside `kam run` in Socket Mode: a mention and a slash command go over the WebSocket."""
    from bot.slack_sim import SlackSim

    settings, store, index = sample_kb
    people = {p.email: p.slack_id for p in store.people()}
    index.close()
    store.engine.dispose()
    sim = SlackSim("http://127.0.0.1:9/unused", "unused", people).start()
    env = kam_env(settings.kam_home, sim.mock, SLACK_APP_TOKEN="xapp-sim", KAM_SLACK_PLACEHOLDER_AFTER="60")
    bot = Proc("sim-socket-bot", ["run"], env, settings.kam_home.parent).start(wait=None)
    try:
        assert sim.mock.socket_mode.wait_connected(180), bot.log()
        assert sim.mention("alice@example.com", "who is the decision maker at hanshan?")[0] == 200
        assert any("Li Wei" in p.text for p in sim.wait(until=lambda p: "Li Wei" in p.text, timeout=120))
        assert sim.slash("alice@example.com", "help")[0] == 200
        assert sim.wait(until=lambda p: "/kam" in p.text, timeout=60)
    finally:
        bot.stop()
        sim.stop()
