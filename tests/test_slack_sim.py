"""`kam slack-sim`: the local Slack stand-in drives the real bot over HTTP (signed mentions, DMs, /kam, clicks) and
shows what it posts."""

from __future__ import annotations

import pytest

from bot.slack_sim import SlackSim
from tests.slack_harness import SECRET, bot_settings, start_bot

ALICE = "alice@example.com"


@pytest.fixture()
def sim(sample_kb):
    settings, store, index = sample_kb
    s = SlackSim("", SECRET, {p.email: p.slack_id for p in store.people()}).start()
    # no "looking it up" placeholder on a loaded machine: the answer is the first post, as the tests expect
    bot = start_bot(bot_settings(settings.kam_home, s.mock, kam_slack_placeholder_after=60), store, index, s.mock)
    s.bot_url = bot.url
    yield s
    bot.stop()
    s.stop()


def test_a_mention_is_answered_and_its_buttons_can_be_clicked(sim):
    status, _ = sim.mention(ALICE, "who is the decision maker at hanshan?")
    assert status == 200
    posts = sim.wait(until=lambda p: "Li Wei" in p.text)
    answer = next(p for p in posts if "Li Wei" in p.text)
    assert answer.method == "chat.postMessage" and "thread" in answer.where
    helpful = [n for n, b in answer.buttons if b.action_id == "kam_feedback_up"]
    assert helpful
    status, _ = sim.click(ALICE, helpful[0])
    assert status == 200
    sim.wait(timeout=10)
    assert sim.mock.calls("chat.update") or sim.mock.calls("response_url") or sim.mock.calls("chat.postEphemeral")


def test_a_slash_command_and_a_direct_message(sim):
    status, _ = sim.slash(ALICE, "account hanshan suppliers")
    assert status == 200
    shown = sim.wait(until=lambda p: "Tetra Pak" in p.text)
    assert any("Tetra Pak" in p.text for p in shown), [p.text for p in shown]
    status, _ = sim.dm(ALICE, "寒山包装的决策人是谁?")
    assert status == 200
    assert any("决策人" in p.text for p in sim.wait(until=lambda p: "Li Wei" in p.text))


def test_a_wrong_signing_secret_is_refused(sim):
    sim.secret = "not-the-secret"
    status, _ = sim.mention(ALICE, "hello")
    assert status == 401


def test_the_console_sends_what_is_typed_and_prints_what_the_bot_posts(sample_kb, capsys):
    """`kam slack-sim` as a person uses it: its console, beside a bot pointed at it with SLACK_API_URL."""
    import socket
    import time

    from cli.context import reset_context
    from cli.slack_sim_cmd import run_sim

    settings, store, index = sample_kb
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Api:  # what bot_settings reads of a mock: where the Web API is
        base_url = f"http://127.0.0.1:{port}/api/"

    bot = start_bot(bot_settings(settings.kam_home, Api()), store, index, None,  # type: ignore[arg-type]
                    token_verification_enabled=False)  # the stand-in starts after the bot here
    script = [("@kam who is the decision maker at hanshan?", "Li Wei"), ("/kam account hanshan suppliers", "Tetra Pak"),
              ("click 999", "no button [999]"), ("quit", "")]
    seen = ""

    steps = iter(script)
    sent: list[str] = []

    def reader(prompt: str) -> str:
        nonlocal seen
        if sent:  # wait for what the previous line should show
            expect = sent[-1]
            deadline = time.monotonic() + 60
            while expect not in seen and time.monotonic() < deadline:
                time.sleep(0.1)
                seen += capsys.readouterr().out
        line, expect = next(steps)
        sent.append(expect)
        return line

    reset_context(settings)
    try:
        run_sim(port, bot.url, SECRET, ALICE, read=reader)
    finally:
        reset_context()
        bot.stop()
    seen += capsys.readouterr().out
    assert f"SLACK_API_URL=http://127.0.0.1:{port}/api/" in seen
    assert "Li Wei" in seen and "**" not in seen and "<@" not in seen
    assert "Tetra Pak" in seen and "no button [999]" in seen
    assert "[1]" in seen  # buttons are numbered for `click`
