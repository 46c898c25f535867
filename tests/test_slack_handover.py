"""Handover in Slack, driven like Slack drives it: signed `/kam handover` commands, the App Home button and the
modal's view_submission to the real bolt app over HTTP; the briefs and the summary must reach MockSlack as DMs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.render_handover import (
    ACCOUNTS_ACTION,
    ACCOUNTS_BLOCK,
    FROM_ACTION,
    FROM_BLOCK,
    HANDOVER_OPEN,
    HANDOVER_VIEW,
    TO_ACTION,
    TO_BLOCK,
)
from knowledge.history import changes_of
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack, assert_valid_blocks, assert_valid_view
from tests.slack_harness import ALICE, Bot

MIA, BOB = "U0MIA00001", "U0BOB00001"  # in people.yaml by slack_id; mia manages alice and bob
ACME = "acme-industrial"


@pytest.fixture()
def mia(mock: MockSlack) -> str:
    mock.add_user(MIA, email="mia@example.com")
    mock.add_user(BOB, email="bob@example.com")
    return MIA


def _dms(mock: MockSlack, user: str) -> list[dict[str, Any]]:
    return [c.params for c in mock.calls("chat.postMessage") if c.params.get("channel") == f"D{user}"]


def _submission(view: dict[str, Any], user: str, old: str | None, new: str | None,
                accounts: list[str]) -> bytes:
    state = {
        FROM_BLOCK: {FROM_ACTION: {"type": "users_select", "selected_user": old}},
        TO_BLOCK: {TO_ACTION: {"type": "users_select", "selected_user": new}},
        ACCOUNTS_BLOCK: {ACCOUNTS_ACTION: {"type": "multi_static_select", "selected_options": [
            {"text": {"type": "plain_text", "text": a}, "value": a} for a in accounts]}},
    }
    return sr.view_submission_body(HANDOVER_VIEW, view["private_metadata"], state, user, blocks=view["blocks"])


def _open_from_home(bot: Bot, mock: MockSlack, user: str) -> dict[str, Any]:
    bot.send(sr.event_body("app_home_opened", user=user))
    [pub] = mock.wait_for("views.publish", timeout=30)
    home = pub.params["view"]
    assert_valid_view(home)
    [button] = [e for b in home["blocks"] if b.get("block_id") == HANDOVER_OPEN for e in b["elements"]]
    assert "Lifetime value" in json.dumps(home, ensure_ascii=False)  # the manager's accounts' value, on the Home
    bot.send(sr.block_actions_body(button["action_id"], button["value"], user, view=pub.response["view"]))
    [opened] = mock.wait_for("views.open", timeout=30)
    assert opened.response["ok"], opened.response
    view = opened.params["view"]
    assert_valid_view(view) and view["callback_id"] == HANDOVER_VIEW
    return view


def test_home_button_modal_submission_sends_briefs_and_summary(bot: Bot, mock: MockSlack, mia: str) -> None:
    store = bot.kb.store
    view = _open_from_home(bot, mock, mia)
    options = {o["value"] for b in view["blocks"] if b.get("block_id") == ACCOUNTS_BLOCK
               for o in b["element"]["options"]}
    assert ACME in options  # mia sees her reps' accounts

    # bob to himself: refused on the form, nothing changed
    status, body = bot.send(_submission(view, mia, BOB, BOB, []))
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    assert TO_BLOCK in json.loads(body)["errors"]
    assert store.summaries([ACME])[0].owner == "bob@example.com"

    status, body = bot.send(_submission(view, mia, BOB, ALICE, [ACME]))
    assert status == 200 and not body.strip()  # accepted: the modal closes
    bot.settle()
    assert store.summaries([ACME])[0].owner == "alice@example.com"
    with store.session() as s:
        [change] = [c for c in changes_of(s, ACME) if c.path == "owner"][-1:]
    assert (change.source, change.actor, change.new) == ("handover", "mia@example.com", "alice@example.com")

    [brief] = _dms(mock, ALICE)
    assert_valid_blocks(brief["blocks"])
    text = json.dumps(brief["blocks"], ensure_ascii=False)
    assert "Handover: Acme Industrial" in text and "Karen Doyle" in text and "Siemens" in text
    assert "Open key dates" in text and "2027-01-10" in text and "Gaps to fill" in text
    [summary] = _dms(mock, mia)
    assert_valid_blocks(summary["blocks"])
    assert "Handover done: 1 account from" in summary["text"]
    assert "Acme Industrial" in json.dumps(summary["blocks"], ensure_ascii=False)


def test_modal_refuses_a_rep(bot: Bot, mock: MockSlack, mia: str) -> None:
    view = _open_from_home(bot, mock, mia)
    status, body = bot.send(_submission(view, ALICE, BOB, ALICE, []))  # alice submits a form she cannot open
    errors = json.loads(body)["errors"]
    assert status == 200 and "only an admin or a manager" in errors[FROM_BLOCK]
    assert bot.kb.store.summaries([ACME])[0].owner == "bob@example.com" and not _dms(mock, ALICE)


def test_rep_has_no_button_and_cannot_open_it(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.event_body("app_home_opened", user=ALICE))
    [pub] = mock.wait_for("views.publish", timeout=30)
    assert HANDOVER_OPEN not in json.dumps(pub.params["view"])
    bot.send(sr.block_actions_body(HANDOVER_OPEN, "open", ALICE, view=pub.response["view"]))  # a forged click
    bot.settle()
    assert not mock.calls("views.open") and "Only managers" in _dms(mock, ALICE)[0]["text"]


def test_slash_command_opens_the_modal_or_hands_over(bot: Bot, mock: MockSlack, mia: str) -> None:
    status, _ = bot.send(sr.slash_command_body(text="handover", user_id=mia, response_url=mock.response_url()))
    assert status == 200
    [opened] = mock.wait_for("views.open", timeout=30)
    assert opened.params["view"]["callback_id"] == HANDOVER_VIEW

    text = f"handover <@{BOB}|bob> to <mailto:alice@example.com|alice@example.com> Acme, Lakeside"
    status, _ = bot.send(sr.slash_command_body(text=text, user_id=mia, response_url=mock.response_url()))
    assert status == 200
    bot.settle()
    store = bot.kb.store
    owners = {s.id: s.owner for s in store.summaries()}
    assert owners[ACME] == owners["lakeside-brewing-co"] == "alice@example.com"
    assert owners["bayview-cold-chain-logistics"] == "bob@example.com"  # not named
    assert len(_dms(mock, ALICE)) == 2
    [reply] = [c for c in mock.calls("response_url") if "Handover done" in c.params.get("text", "")]
    assert reply.params["response_type"] == "ephemeral"

    # a refusal is one clear line, nothing changes
    status, _ = bot.send(sr.slash_command_body(text=f"handover <@{BOB}> <@{ALICE}> Nowhere Ltd", user_id=mia,
                                               response_url=mock.response_url()))
    bot.settle()
    assert any("no account named 'Nowhere Ltd'" in c.params.get("text", "") for c in mock.calls("response_url"))
    assert len(_dms(mock, ALICE)) == 2


def test_slash_command_refuses_a_rep(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.slash_command_body(text="handover <@U0BOB00001> <@U0ALICE001>", user_id=ALICE,
                                   response_url=mock.response_url()))
    bot.settle()
    assert any("Only managers" in c.params.get("text", "") for c in mock.calls("response_url"))
    assert bot.kb.store.summaries([ACME])[0].owner == "bob@example.com"


def test_a_new_owner_without_slack_is_reported_not_lost(bot: Bot, mock: MockSlack, mia: str) -> None:
    """dave has no Slack account: the handover stands, and the summary says which brief did not go out."""
    bot.send(sr.slash_command_body(text="handover bob@example.com dave@example.com acme", user_id=mia,
                                   response_url=mock.response_url()))
    bot.settle()
    assert bot.kb.store.summaries([ACME])[0].owner == "dave@example.com"
    [reply] = [c for c in mock.calls("response_url") if "Handover done" in c.params.get("text", "")]
    text = json.dumps(reply.params["blocks"])
    assert "Not delivered" in text and "brief:acme-industrial -> dave@example.com" in text


def test_modal_with_more_accounts_than_a_select_holds_takes_names() -> None:
    from bot.render_handover import handover_modal, modal_values

    many = [(f"acct-{i}", f"Account {i}") for i in range(150)]
    view = handover_modal(many)
    assert_valid_view(view)
    [acc] = [b for b in view["blocks"] if b.get("block_id") == ACCOUNTS_BLOCK]
    assert acc["element"]["type"] == "plain_text_input" and acc["optional"]
    few = handover_modal(many[:3])
    assert_valid_view(few)
    state = {"values": {FROM_BLOCK: {FROM_ACTION: {"type": "users_select", "selected_user": BOB}},
                        TO_BLOCK: {TO_ACTION: {"type": "users_select", "selected_user": ALICE}},
                        ACCOUNTS_BLOCK: {ACCOUNTS_ACTION: {"type": "plain_text_input",
                                                           "value": " Acme , Lakeside Brewing,, "}}}}
    assert modal_values({**view, "state": state}) == (BOB, ALICE, ["Acme", "Lakeside Brewing"])
