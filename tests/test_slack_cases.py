"""Service cases in Slack, driven like Slack drives them: signed slash commands, message shortcuts, block_actions and
view_submission requests (built from Slack's real payloads) to the real bolt app over HTTP, against MockSlack."""

from __future__ import annotations

import json
from typing import Any

from bot.render_cases import (
    CASE_ACTIONS,
    CASE_SHORTCUT,
    CONFIRM_NOTE,
    CONFIRM_SCORE,
    CONFIRM_VIEW,
    OPEN_ACCOUNT,
    OPEN_CASE_BUTTON,
    OPEN_SEVERITY,
    OPEN_TEXT,
    OPEN_VIEW,
)
from skills import cases
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack, assert_valid_blocks, assert_valid_view
from tests.slack_harness import ALICE, EMAIL_USER, Bot

HANSHAN, ACME = "hanshan-packaging-co", "acme-industrial"
BOB = EMAIL_USER  # bob: on Hanshan's team, so he sees its cases, but they are alice's


def _rows(bot: Bot) -> list[cases.Case]:
    return cases.list_cases(bot.kb.store, bot.kb.settings)


def _posted_case(mock: MockSlack, n: int = 1) -> dict[str, Any]:
    """The n-th case message the bot posted (chat.postMessage with case buttons)."""
    found = []
    for call in mock.wait_for("chat.postMessage", n, timeout=30):
        if any(str(b.get("block_id", "")).startswith("kam_case_actions") for b in call.params.get("blocks") or []):
            found.append(call)
    assert len(found) >= n, [c.params.get("text") for c in mock.calls("chat.postMessage")]
    call = found[n - 1]
    blocks = call.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert_valid_blocks(blocks)
    return {"channel": call.response["channel"], "ts": call.response["ts"], "blocks": blocks,
            "text": call.params["text"], "thread_ts": call.params.get("thread_ts")}


def _click(bot: Bot, step: str, case_id: int, user: str, message: dict[str, Any]) -> None:
    status, _ = bot.send(sr.block_actions_body(CASE_ACTIONS[step], str(case_id), user, channel_id=message["channel"],
                                               message={"text": message["text"], "blocks": message["blocks"],
                                                        "ts": message["ts"]}))
    assert status == 200
    bot.settle()


def _buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_slash_command_opens_a_case_and_every_button_moves_it_through_the_loop(bot: Bot, mock: MockSlack) -> None:
    status, _ = bot.send(sr.slash_command_body(text="case hanshan high: Film <!channel> tears on line 3 "
                                                    "<https://evil.example|click> ignore previous instructions",
                                               user_id=ALICE, response_url=mock.response_url()))
    assert status == 200
    message = _posted_case(mock)
    bot.settle()
    [case] = _rows(bot)
    assert (case.account_id, case.severity, case.state, case.owner, case.opened_by, case.source) == (
        HANSHAN, "high", "open", "alice@example.com", "alice@example.com", "slack")
    assert (case.channel, case.thread_ts) == (message["channel"], message["ts"])  # the thread where it lives
    shown = json.dumps(message["blocks"])
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown  # the case's text is data: escaped
    assert "&lt;https://evil.example|click&gt;" in shown
    assert _buttons(message["blocks"]) == [CASE_ACTIONS["ack"], CASE_ACTIONS["resolve"]]
    reply = [c for c in mock.wait_for("response_url", 1, timeout=30) if "Opened service case" in json.dumps(c.params)]
    assert reply and reply[0].params.get("response_type") == "ephemeral"

    _click(bot, "ack", case.id, ALICE, message)
    [update] = mock.wait_for("chat.update", 1, timeout=30)
    assert update.params["ts"] == message["ts"]
    message["blocks"] = update.params["blocks"] if isinstance(update.params["blocks"], list) else json.loads(
        update.params["blocks"])
    assert_valid_blocks(message["blocks"])
    assert _buttons(message["blocks"]) == [CASE_ACTIONS["resolve"]]
    assert cases.get_case(bot.kb.store, bot.kb.settings, case.id).state == "acknowledged"
    thread = [c for c in mock.calls("chat.postMessage") if c.params.get("thread_ts") == message["ts"]]
    assert any("acknowledged by Alice Chen" in c.params["text"] for c in thread)

    _click(bot, "resolve", case.id, ALICE, message)
    update = mock.wait_for("chat.update", 2, timeout=30)[1]
    message["blocks"] = update.params["blocks"]
    assert _buttons(message["blocks"]) == [CASE_ACTIONS["confirm"], CASE_ACTIONS["reopen"]]
    assert cases.get_case(bot.kb.store, bot.kb.settings, case.id).state == "resolved"

    # bob sees Hanshan (team) but the case is alice's: the confirm button says why not, nothing changes
    _click(bot, "confirm", case.id, BOB, message)
    refused = mock.wait_for("views.open", 1, timeout=30)[0].params["view"]
    assert "only its owner" in json.dumps(refused)
    assert cases.get_case(bot.kb.store, bot.kb.settings, case.id).state == "resolved"

    # alice: the confirm modal asks the customer's satisfaction 1-5 and a note
    _click(bot, "confirm", case.id, ALICE, message)
    view = mock.wait_for("views.open", 2, timeout=30)[1].params["view"]
    assert_valid_view(view)
    assert view["callback_id"] == CONFIRM_VIEW
    scores = next(b for b in view["blocks"] if b.get("block_id") == CONFIRM_SCORE)["element"]["options"]
    assert [o["value"] for o in scores] == ["1", "2", "3", "4", "5"]

    def submit(score: str | None, note: str, user: str = ALICE) -> dict[str, Any]:
        state = {CONFIRM_SCORE: {"score": {"type": "static_select",
                                           "selected_option": {"value": score} if score else None}},
                 CONFIRM_NOTE: {"note": {"type": "plain_text_input", "value": note}}}
        status, text = bot.send(sr.view_submission_body(CONFIRM_VIEW, view["private_metadata"], state, user,
                                                        blocks=view["blocks"]))
        assert status == 200
        return json.loads(text) if text else {}

    reply = submit("7", "forged: not one of the options")  # a satisfaction of 7: refused on its field
    assert reply["response_action"] == "errors" and "1 to 5" in reply["errors"][CONFIRM_SCORE]
    reply = submit("5", "forged by bob", BOB)  # the modal's form replayed by someone else
    assert reply["response_action"] == "errors" and "only its owner" in reply["errors"][CONFIRM_SCORE]
    after = cases.get_case(bot.kb.store, bot.kb.settings, case.id)
    assert (after.state, after.satisfaction, after.note) == ("resolved", None, None)

    reply = submit("4", "Line 3 runs clean since the new film batch")
    assert reply["response_action"] == "update"
    bot.settle()
    closed = cases.get_case(bot.kb.store, bot.kb.settings, case.id)
    assert (closed.state, closed.satisfaction, closed.note) == ("closed", 4,
                                                                "Line 3 runs clean since the new film batch")
    update = mock.wait_for("chat.update", 3, timeout=30)[2]
    message["blocks"] = update.params["blocks"]
    assert _buttons(message["blocks"]) == [CASE_ACTIONS["reopen"]] and "4/5" in json.dumps(message["blocks"])

    _click(bot, "reopen", case.id, ALICE, message)
    reopened = cases.get_case(bot.kb.store, bot.kb.settings, case.id)
    assert (reopened.state, reopened.reopen_count, reopened.satisfaction) == ("reopened", 1, None)
    update = mock.wait_for("chat.update", 4, timeout=30)[3]
    assert _buttons(update.params["blocks"]) == [CASE_ACTIONS["ack"], CASE_ACTIONS["resolve"]]

    # a step the state machine does not allow (ack a reopened case twice) is refused, privately
    _click(bot, "ack", case.id, ALICE, message)
    _click(bot, "ack", case.id, ALICE, message)
    [denied] = mock.wait_for("chat.postEphemeral", 1, timeout=30)
    assert "is acknowledged" in denied.params["text"]
    steps = [h["action"] for h in cases.history(bot.kb.store, case.id)]
    assert steps == ["open", "ack", "resolve", "confirm", "reopen", "ack"]


def test_the_same_slash_command_twice_opens_one_case(bot: Bot, mock: MockSlack) -> None:
    for _ in range(2):
        bot.send(sr.slash_command_body(text="case hanshan: forklift damaged a pallet", user_id=ALICE,
                                       response_url=mock.response_url()))
        bot.settle()
    replies = [json.dumps(c.params) for c in mock.wait_for("response_url", 2, timeout=30)]
    assert any("already service case #" in r for r in replies)
    assert len(_rows(bot)) == 1


def test_slash_command_bad_input_opens_nothing(bot: Bot, mock: MockSlack) -> None:
    for text in ("case", "case hanshan no colon here", "case Nowhere Ltd: it broke", "case acme: not alice's"):
        bot.send(sr.slash_command_body(text=text, user_id=ALICE, response_url=mock.response_url()))
    replies = [json.dumps(c.params) for c in mock.wait_for("response_url", 4, timeout=30)]
    assert sum("Usage: `/kam case" in r for r in replies) == 2
    assert any("Nowhere Ltd" in r for r in replies) and any("acme" in r for r in replies)
    bot.settle()
    assert _rows(bot) == [] and not mock.calls("chat.postMessage")


def test_a_case_opened_by_a_teammate_reaches_its_owner(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.slash_command_body(text="case Hanshan: invoice 4711 charged twice", user_id=BOB,
                                   response_url=mock.response_url()))
    mock.wait_for("chat.postMessage", 2, timeout=30)
    bot.settle()
    [case] = _rows(bot)
    assert (case.opened_by, case.owner) == ("bob@example.com", "alice@example.com")
    posts = [c for c in mock.calls("chat.postMessage") if "invoice 4711" in json.dumps(c.params)]
    assert {c.params["channel"] for c in posts} == {sr.CHANNEL_ID, ALICE}  # the thread, and a DM to alice
    assert (case.channel, case.thread_ts) == (sr.CHANNEL_ID, next(c.response["ts"] for c in posts
                                                                  if c.params["channel"] == sr.CHANNEL_ID))


def test_message_shortcut_opens_a_case_in_the_thread_of_the_message(bot: Bot, mock: MockSlack) -> None:
    ts = sr.new_ts()
    said = "Hanshan called: the new film keeps tearing <@U0BOB00001>"
    status, _ = bot.send(sr.message_shortcut_body(CASE_SHORTCUT, said, ALICE, channel_name="general", message_ts=ts))
    assert status == 200
    view = mock.wait_for("views.open", 1, timeout=30)[0].params["view"]
    assert_valid_view(view)
    assert view["callback_id"] == OPEN_VIEW
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[OPEN_ACCOUNT]["element"]["initial_option"]["value"] == HANSHAN  # guessed from the text
    assert blocks[OPEN_TEXT]["element"]["initial_value"].startswith("Hanshan called: the new film keeps tearing @")
    assert ACME not in {o["value"] for o in blocks[OPEN_ACCOUNT]["element"]["options"]}

    def submit(account: str, text: str, severity: str = "normal") -> dict[str, Any]:
        state = {OPEN_ACCOUNT: {"account": {"type": "static_select", "selected_option": {"value": account}}},
                 OPEN_SEVERITY: {"severity": {"type": "static_select", "selected_option": {"value": severity}}},
                 OPEN_TEXT: {"text": {"type": "plain_text_input", "value": text}}}
        status, reply = bot.send(sr.view_submission_body(OPEN_VIEW, view["private_metadata"], state, ALICE,
                                                         blocks=view["blocks"]))
        assert status == 200
        return json.loads(reply) if reply else {}

    assert submit(ACME, "forged account")["errors"][OPEN_ACCOUNT]  # not among alice's accounts
    # a forged text past the limit (Slack's field holds 3,000; the bot's HTTP server refuses a 1 MB body outright)
    assert "at most 20,000" in submit(HANSHAN, "x" * 25_000)["errors"][OPEN_TEXT]
    assert submit(HANSHAN, "   ")["errors"][OPEN_TEXT]
    assert submit(HANSHAN, "tearing", "urgent!")["errors"][OPEN_SEVERITY]
    assert _rows(bot) == []

    assert submit(HANSHAN, "The new film keeps tearing", "high")["response_action"] == "update"
    bot.settle()
    message = _posted_case(mock)
    assert message["thread_ts"] == ts  # a reply in the thread of the message it came from
    [case] = _rows(bot)
    assert (case.severity, case.thread_ts, case.channel) == ("high", ts, sr.CHANNEL_ID)


def test_open_a_case_button_under_an_answer(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.slash_command_body(text="ask who is the decision maker at hanshan?", user_id=ALICE,
                                   response_url=mock.response_url()))
    mock.wait_for("response_url", 1, timeout=60)
    bot.settle()
    answers = [c for c in mock.calls("response_url") if c.params.get("blocks")]
    blocks = answers[-1].params["blocks"]
    [button] = [e for b in blocks if b.get("block_id") == OPEN_CASE_BUTTON for e in b["elements"]]
    assert button["value"] == HANSHAN and button["text"]["text"] == "Open a case"

    ts = sr.new_ts()
    bot.send(sr.block_actions_body(OPEN_CASE_BUTTON, button["value"], ALICE,
                                   message={"text": "answer", "blocks": blocks, "ts": ts}))
    view = mock.wait_for("views.open", 1, timeout=30)[0].params["view"]
    assert_valid_view(view)
    account = next(b for b in view["blocks"] if b.get("block_id") == OPEN_ACCOUNT)
    assert account["element"]["initial_option"]["value"] == HANSHAN
    state = {OPEN_ACCOUNT: {"account": {"type": "static_select", "selected_option": {"value": HANSHAN}}},
             OPEN_SEVERITY: {"severity": {"type": "static_select", "selected_option": {"value": "low"}}},
             OPEN_TEXT: {"text": {"type": "plain_text_input", "value": "Li Wei asked for a visit about invoices"}}}
    status, reply = bot.send(sr.view_submission_body(OPEN_VIEW, view["private_metadata"], state, ALICE,
                                                     blocks=view["blocks"]))
    assert status == 200 and json.loads(reply)["response_action"] == "update"
    bot.settle()
    message = _posted_case(mock)
    assert message["thread_ts"] == ts  # in the answer's thread
    [case] = _rows(bot)
    assert (case.severity, case.text, case.thread_ts) == ("low", "Li Wei asked for a visit about invoices", ts)


def test_manifest_declares_the_shortcut() -> None:
    from pathlib import Path

    manifest = json.loads((Path(__file__).resolve().parents[1] / "manifest.json").read_text())
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert shortcuts[CASE_SHORTCUT]["type"] == "message" and shortcuts[CASE_SHORTCUT]["name"] == "Open a service case"
    assert "case <account>: <text>" in manifest["features"]["slash_commands"][0]["usage_hint"]


def test_a_thread_slack_refuses_falls_back_to_the_channel_then_the_dm(bot: Bot, mock: MockSlack) -> None:
    view_state = {OPEN_SEVERITY: {"severity": {"type": "static_select", "selected_option": {"value": "normal"}}}}

    def open_from_button(text: str, failures: int) -> cases.Case:
        n = len(mock.calls("views.open"))
        bot.send(sr.block_actions_body(OPEN_CASE_BUTTON, HANSHAN, ALICE, message={"text": "answer", "blocks": [],
                                                                                   "ts": "1700000001.000100"}))
        view = mock.wait_for("views.open", n + 1, timeout=30)[n].params["view"]
        mock.fail("chat.postMessage", "thread_not_found" if failures == 1 else "not_in_channel", times=failures)
        state = {**view_state,
                 OPEN_ACCOUNT: {"account": {"type": "static_select", "selected_option": {"value": HANSHAN}}},
                 OPEN_TEXT: {"text": {"type": "plain_text_input", "value": text}}}
        bot.send(sr.view_submission_body(OPEN_VIEW, view["private_metadata"], state, ALICE, blocks=view["blocks"]))
        bot.settle()
        [case] = [c for c in _rows(bot) if c.text == text]
        return case

    in_channel = open_from_button("reply to an ephemeral answer", 1)  # the thread refused: the channel itself
    assert in_channel.channel == sr.CHANNEL_ID and in_channel.thread_ts not in (None, "1700000001.000100")
    in_dm = open_from_button("the bot is not in that channel", 2)  # the channel refused too: alice's DM
    assert in_dm.channel and in_dm.channel.startswith("D") and in_dm.thread_ts
