"""Editing in Slack, driven like Slack drives it: signed slash commands, block_actions and view_submission requests
(built from Slack's real payloads) to the real bolt app over HTTP, modals opened in MockSlack."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode

from bot.render_edit import EDIT_VIEW, FIELD_BLOCK
from knowledge.history import changes_of
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack, assert_valid_blocks, assert_valid_view
from tests.slack_harness import ALICE, EMAIL_USER, TODAY, Bot

HANSHAN, ACME = "hanshan-packaging-co", "acme-industrial"
ADMIN = "U0ADA00001"  # ada, role admin (by users.info email)


def _state(element: dict[str, Any], value: str | None) -> dict[str, Any]:
    kind = element["type"]
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    if kind == "static_select":
        return {"type": kind, "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}
                if value is not None else None}
    return {"type": kind, "value": value}


def _initial(element: dict[str, Any]) -> str | None:
    return (element.get("initial_value") or element.get("initial_date")
            or (element.get("initial_option") or {}).get("value"))


def submission(view: dict[str, Any], changes: dict[str, str | None] | None = None, user: str = ALICE,
               metadata: str | None = None) -> bytes:
    """The view_submission Slack sends when `user` presses Save on `view` after typing `changes` (field: text)."""
    changes = changes or {}
    state: dict[str, dict[str, Any]] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        name = block["block_id"][len(FIELD_BLOCK):]
        value = changes[name] if name in changes else _initial(block["element"])
        state[block["block_id"]] = {block["element"]["action_id"]: _state(block["element"], value)}
    return sr.view_submission_body(view["callback_id"], metadata if metadata is not None else
                                   view["private_metadata"], state, user, blocks=view["blocks"])


def open_modal(bot: Bot, mock: MockSlack, text: str, user: str = ALICE, n: int = 1) -> dict[str, Any]:
    status, _ = bot.send(sr.slash_command_body(text=text, user_id=user, response_url=mock.response_url()))
    assert status == 200
    call = mock.wait_for("views.open", n, timeout=30)[n - 1]
    assert call.response["ok"], call.response
    assert_valid_view(call.params["view"])
    return call.params["view"]


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"][len(FIELD_BLOCK):]: b for b in view["blocks"] if b["type"] == "input"}


def test_kam_edit_dimension_modal_saves_only_valid_changes(bot: Bot, mock: MockSlack) -> None:
    view = open_modal(bot, mock, "edit hanshan finance")
    assert view["callback_id"] == EDIT_VIEW
    fields = inputs(view)
    assert {"revenue", "budget", "summary", "updated", "market_share"} <= set(fields)
    assert fields["revenue"]["element"]["initial_value"].startswith("CNY 2.1B")  # the current value, filled in
    assert fields["revenue"]["label"]["text"].endswith("*") and fields["budget"]["label"]["text"].endswith("*")
    assert not fields["market_share"]["label"]["text"].endswith("*")  # not a required field
    assert fields["updated"]["element"]["type"] == "datepicker"
    before = bot.kb.store.load_profile(HANSHAN)

    # an invalid date: the error is shown on that field, and nothing is stored (not even the valid revenue)
    status, text = bot.send(submission(view, {"revenue": "CNY 2.4B (FY2026)", "updated": "2026-02-31"}))
    assert status == 200
    reply = json.loads(text)
    assert reply["response_action"] == "errors" and set(reply["errors"]) == {f"{FIELD_BLOCK}updated"}
    assert bot.kb.store.load_profile(HANSHAN) == before

    status, text = bot.send(submission(view, {"revenue": "CNY 2.4B (FY2026)", "market_share": None}))
    assert status == 200 and json.loads(text)["response_action"] == "update"
    after = bot.kb.store.load_profile(HANSHAN)
    assert after.finance.revenue == "CNY 2.4B (FY2026)" and after.finance.market_share is None
    assert after.finance.budget == before.finance.budget  # untouched fields stay
    assert after.finance.updated == TODAY  # an edited dimension is dated today, no longer stale
    with bot.kb.store.session() as s:
        changes = [c for c in changes_of(s, HANSHAN) if c.source == "slack"]
    assert {c.path for c in changes} == {"finance.revenue", "finance.market_share", "finance.updated"}
    assert {c.actor for c in changes} == {"alice@example.com"}


def test_unchanged_fields_do_not_overwrite_a_concurrent_edit(bot: Bot, mock: MockSlack) -> None:
    view = open_modal(bot, mock, "edit hanshan finance")
    bot.kb.store.edit_profile(HANSHAN, {"finance.budget": "CNY 60M"}, source="cli", actor="bob@example.com")
    status, text = bot.send(submission(view, {"revenue": "CNY 2.5B"}))
    assert json.loads(text)["response_action"] == "update"
    after = bot.kb.store.load_profile(HANSHAN)
    assert after.finance.revenue == "CNY 2.5B" and after.finance.budget == "CNY 60M"


def test_kam_edit_usage_and_unknown_account(bot: Bot, mock: MockSlack) -> None:
    bot.send(sr.slash_command_body(text="edit", user_id=ALICE, response_url=mock.response_url()))
    bot.send(sr.slash_command_body(text="edit Nowhere Ltd finance", user_id=ALICE, response_url=mock.response_url()))
    replies = [json.dumps(c.params) for c in mock.wait_for("response_url", 2, timeout=30)]
    assert any("Usage: `/kam edit" in r for r in replies) and any("Nowhere Ltd" in r for r in replies)
    bot.settle()
    assert not mock.calls("views.open")


def test_someone_outside_the_account_cannot_edit(bot: Bot, mock: MockSlack) -> None:
    acme_view = open_modal(bot, mock, "edit acme finance", user=EMAIL_USER)  # bob owns Acme
    before = bot.kb.store.load_profile(ACME)
    # alice (not on Acme's team, not a manager) replays bob's modal: refused on the form, nothing stored
    status, text = bot.send(submission(acme_view, {"revenue": "USD 1"}, user=ALICE))
    reply = json.loads(text)
    assert status == 200 and reply["response_action"] == "errors"
    assert "owner and team" in " ".join(reply["errors"].values())
    assert set(reply["errors"]) <= set(f"{FIELD_BLOCK}{n}" for n in inputs(acme_view))  # on a block of the form
    assert bot.kb.store.load_profile(ACME) == before
    # and she cannot open it either: /kam edit does not find it among her accounts; a forged button says why not
    bot.send(sr.slash_command_body(text="edit acme finance", user_id=ALICE, response_url=mock.response_url()))
    [reply_call] = [c for c in mock.wait_for("response_url", 1, timeout=30) if "couldn't find" in json.dumps(
        c.params)]
    button = {"type": "button", "action_id": "kam_edit_open_0", "value": json.dumps({"a": ACME, "t": "finance"})}
    bot.send(sr.block_actions_body(button["action_id"], button["value"], ALICE, message={"text": "x", "blocks": []}))
    modal = mock.wait_for("views.open", 2, timeout=30)[1].params["view"]
    assert "owner and team" in json.dumps(modal) and "input" not in json.dumps(modal["blocks"])
    # an admin may edit any account
    status, text = bot.send(submission(acme_view, {"revenue": "USD 40M"}, user=ADMIN))
    assert json.loads(text)["response_action"] == "update"
    assert bot.kb.store.load_profile(ACME).finance.revenue == "USD 40M"


def test_contact_key_date_and_metrics_forms(bot: Bot, mock: MockSlack) -> None:
    # the menu of forms; a new contact: name required, birthday validated on its field
    bot.send(sr.slash_command_body(text="edit hanshan", user_id=ALICE, response_url=mock.response_url()))
    [menu] = mock.wait_for("response_url", 1, timeout=30)
    assert_valid_blocks(menu.params["blocks"])
    buttons = {e["text"]["text"]: e for b in menu.params["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert {"Add contact", "Add key date", "Metrics", "Zhang Min"} <= set(buttons)

    def click(label: str, n: int) -> dict[str, Any]:
        b = buttons[label]
        bot.send(sr.block_actions_body(b["action_id"], b["value"], ALICE, message=menu.params))
        call = mock.wait_for("views.open", n, timeout=30)[n - 1]
        assert_valid_view(call.params["view"])
        return call.params["view"]

    view = click("Add contact", 1)
    assert set(inputs(view)) >= {"name", "title", "role", "influence", "birthday", "email", "notes"}
    status, text = bot.send(submission(view, {"name": "Wang Lei", "title": "Purchasing director",
                                              "role": "economic_buyer", "birthday": "1980-02-30"}))
    reply = json.loads(text)
    assert reply["response_action"] == "errors" and list(reply["errors"]) == [f"{FIELD_BLOCK}birthday"]
    assert "out of range" in reply["errors"][f"{FIELD_BLOCK}birthday"]
    assert all(c.name != "Wang Lei" for c in bot.kb.store.load_profile(HANSHAN).contacts)
    status, text = bot.send(submission(view, {"name": "Wang Lei", "title": "Purchasing director",
                                              "role": "economic_buyer", "birthday": "--03-14"}))
    assert json.loads(text)["response_action"] == "update"
    wang = next(c for c in bot.kb.store.load_profile(HANSHAN).contacts if c.name == "Wang Lei")
    assert wang.role == "economic_buyer" and wang.birthday == "--03-14"
    # a second one of the same name is refused on the name field
    reply = json.loads(bot.send(submission(view, {"name": "Wang Lei"}))[1])
    assert list(reply["errors"]) == [f"{FIELD_BLOCK}name"]

    # an existing contact: its values filled in; a change touches only that contact
    view = click("Zhang Min", 2)
    assert inputs(view)["title"]["element"]["initial_value"]
    json.loads(bot.send(submission(view, {"influence": "medium"}))[1])
    zhang = next(c for c in bot.kb.store.load_profile(HANSHAN).contacts if c.name == "Zhang Min")
    assert zhang.influence == "medium" and zhang.title

    # `/kam edit <account> contact <name>`: that contact's form, or a new one with the name filled in
    view = open_modal(bot, mock, "edit hanshan contact zhang min", n=3)
    assert json.loads(view["private_metadata"])["t"] == "contacts[Zhang Min]"
    view = open_modal(bot, mock, "edit hanshan contact Chen Jie", n=4)
    assert inputs(view)["name"]["element"]["initial_value"] == "Chen Jie"

    # a key date: kind, date, reminder offsets
    view = click("Add key date", 5)
    reply = json.loads(bot.send(submission(view, {"date": "2027-03-01", "title": "Plant audit",
                                                  "kind": "review", "remind": "30, -7"}))[1])
    assert list(reply["errors"]) == [f"{FIELD_BLOCK}remind"]
    reply = json.loads(bot.send(submission(view, {"date": "2027-03-01", "title": "Plant audit", "kind": "review",
                                                  "remind": "30, 7"}))[1])
    assert reply["response_action"] == "update"
    [audit] = [d for d in bot.kb.store.load_profile(HANSHAN).key_dates if d.title == "Plant audit"]
    assert audit.kind == "review" and audit.remind == [30, 7] and str(audit.date) == "2027-03-01"

    # a rule over several fields (the suppliers' shares add up to at most 1) lands on the field it names
    supplier = json.dumps({"a": HANSHAN, "t": "suppliers.items"})
    bot.send(sr.block_actions_body("kam_edit_open_9", supplier, ALICE, message=menu.params))
    view = mock.wait_for("views.open", 6, timeout=30)[5].params["view"]
    reply = json.loads(bot.send(submission(view, {"name": "Big Film Co", "share": "0.99"}))[1])
    assert list(reply["errors"]) == [f"{FIELD_BLOCK}share"] and "1 (100%)" in reply["errors"][f"{FIELD_BLOCK}share"]

    # metrics: numbers within the model's bounds
    view = click("Metrics", 7)
    assert inputs(view)["potential"]["element"]["type"] == "number_input"
    before = bot.kb.store.load_profile(HANSHAN).metrics
    reply = json.loads(bot.send(submission(view, {"potential": "9", "growth": "lots"}))[1])
    assert set(reply["errors"]) == {f"{FIELD_BLOCK}potential", f"{FIELD_BLOCK}growth"}
    assert bot.kb.store.load_profile(HANSHAN).metrics == before
    reply = json.loads(bot.send(submission(view, {"potential": "4", "complaints": "2"}))[1])
    assert reply["response_action"] == "update"
    metrics = bot.kb.store.load_profile(HANSHAN).metrics
    assert metrics.potential == 4 and metrics.complaints == 2 and metrics.revenue == before.revenue
    assert metrics.as_of == TODAY


def test_edit_buttons_on_answers_and_on_the_home_account(bot: Bot, mock: MockSlack) -> None:
    from bot.render_edit import EDIT_BLOCK

    # an answer citing Hanshan's profile carries Edit buttons for what it cites
    bot.send(sr.slash_command_body(text="ask who decides at Hanshan and what is their strategy?", user_id=ALICE,
                                   response_url=mock.response_url()))
    answer = next(c for c in mock.wait_for("response_url", 1, timeout=60) if c.params.get("blocks"))
    assert_valid_blocks(answer.params["blocks"])
    [edits] = [b for b in answer.params["blocks"] if b.get("block_id") == EDIT_BLOCK]
    assert all(json.loads(e["value"])["a"] == HANSHAN for e in edits["elements"])
    first = edits["elements"][0]
    bot.send(sr.block_actions_body(first["action_id"], first["value"], ALICE, message=answer.params))
    [opened] = mock.wait_for("views.open", 1, timeout=30)
    assert opened.response["ok"] and opened.params["view"]["callback_id"] == EDIT_VIEW
    assert json.loads(opened.params["view"]["private_metadata"])["t"] == json.loads(first["value"])["t"]

    # a contact it cites: Edit opens that contact
    bot.send(sr.slash_command_body(text="ask who is the champion at Hanshan?", user_id=ALICE,
                                   response_url=mock.response_url()))
    answer = [c for c in mock.wait_for("response_url", 2, timeout=60) if c.params.get("blocks")][-1]
    [edits] = [b for b in answer.params["blocks"] if b.get("block_id") == EDIT_BLOCK]
    assert "contacts[Zhang Min]" in [json.loads(e["value"])["t"] for e in edits["elements"]]

    # the Home tab's account modal: an Edit button per dimension, pushed on top of it
    bot.send(sr.event_body("app_home_opened", user=ALICE))
    [pub] = mock.wait_for("views.publish", timeout=30)
    home_open = next(b["accessory"] for b in pub.params["view"]["blocks"]
                     if b.get("accessory", {}).get("value") == HANSHAN)
    bot.send(sr.block_actions_body(home_open["action_id"], HANSHAN, ALICE, view=pub.response["view"]))
    account_modal = mock.wait_for("views.open", 2, timeout=30)[1]
    assert account_modal.response["ok"], account_modal.response
    edit_buttons = [b["accessory"] for b in account_modal.params["view"]["blocks"]
                    if b.get("accessory", {}).get("action_id", "").startswith("kam_edit_open")]
    finance = next(e for e in edit_buttons if json.loads(e["value"])["t"] == "finance")
    bot.send(sr.block_actions_body(finance["action_id"], finance["value"], ALICE,
                                   view=account_modal.response["view"]))
    [pushed] = mock.wait_for("views.push", 1, timeout=30)
    assert pushed.response["ok"] and "revenue" in json.dumps(pushed.params["view"])
    status, text = bot.send(submission(pushed.params["view"], {"budget": "CNY 50M capex"}))
    assert json.loads(text)["response_action"] == "update"
    assert bot.kb.store.load_profile(HANSHAN).finance.budget == "CNY 50M capex"

    # the Home tab's "Edit an account" select: the menu of that account's forms; a form is pushed on top
    [select] = [b["elements"][0] for b in pub.params["view"]["blocks"] if b.get("block_id") == "kam_home_edit"]
    assert HANSHAN in {o["value"] for o in select["options"]} and ACME not in {o["value"] for o in select["options"]}

    def choose(account_id: str) -> dict[str, Any]:
        body = sr.block_actions_body(select["action_id"], "", ALICE, view=pub.response["view"],
                                     action_type="static_select")
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        payload["actions"][0]["selected_option"] = {"text": {"type": "plain_text", "text": "x"}, "value": account_id}
        n = len(mock.calls("views.open")) + 1
        bot.send(urlencode({"payload": json.dumps(payload)}).encode())
        return mock.wait_for("views.open", n, timeout=30)[n - 1].params["view"]

    menu = choose(HANSHAN)
    assert_valid_view(menu)
    metrics = next(e for b in menu["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if json.loads(e["value"])["t"] == "metrics")
    bot.send(sr.block_actions_body(metrics["action_id"], metrics["value"], ALICE, view={**menu, "id": "V9"}))
    pushed = mock.wait_for("views.push", 2, timeout=30)[1]
    assert pushed.response["ok"] and "potential" in inputs(pushed.params["view"])
    publishes = len(mock.calls("views.publish"))
    assert json.loads(bot.send(submission(pushed.params["view"], {"potential": "3"}))[1])["response_action"] == \
        "update"
    mock.wait_for("views.publish", publishes + 1, timeout=30)  # the Home tab it came from is republished
    assert "owner and team" in json.dumps(choose(ACME))  # a forged choice: a refusal, no menu


def test_save_to_account_shortcut_turns_a_message_into_a_dated_note(bot: Bot, mock: MockSlack) -> None:
    from bot.render_edit import NOTE_ACCOUNT, NOTE_DIM, NOTE_TEXT, NOTE_VIEW, SAVE_SHORTCUT

    sent = ("<@U0BOB00001> heard today: Hanshan will move 30% of its film volume to a second supplier next year "
            "&amp; wants &lt;3 week lead times, see <https://example.com/q|the quote>")
    text = ("@Bob Miller heard today: Hanshan will move 30% of its film volume to a second supplier next year "
            "& wants <3 week lead times, see the quote (https://example.com/q)")
    ts = "1795019400.000100"  # 2026-11-18 16:30 UTC: 2026-11-19 00:30 in Shanghai, alice's time zone
    status, _ = bot.send(sr.message_shortcut_body(SAVE_SHORTCUT, sent, ALICE, channel_name="general",
                                                  message_user=EMAIL_USER, message_ts=ts))
    assert status == 200
    [opened] = mock.wait_for("views.open", 1, timeout=30)
    view = opened.params["view"]
    assert opened.response["ok"] and view["callback_id"] == NOTE_VIEW
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[NOTE_ACCOUNT]["element"]["initial_option"]["value"] == HANSHAN  # guessed from the text
    assert blocks[NOTE_DIM]["element"]["initial_option"]["value"] == "suppliers"  # the note guesser's proposal
    assert blocks[NOTE_TEXT]["element"]["initial_value"] == text
    options = {o["value"] for o in blocks[NOTE_ACCOUNT]["element"]["options"]}
    assert ACME not in options  # only accounts alice may edit

    def submit(account: str, dimension: str, note: str, user: str = ALICE) -> dict[str, Any]:
        state = {NOTE_ACCOUNT: {"account": {"type": "static_select", "selected_option": {"value": account}}},
                 NOTE_DIM: {"dimension": {"type": "static_select", "selected_option": {"value": dimension}}},
                 NOTE_TEXT: {"text": {"type": "plain_text_input", "value": note}}}
        body = sr.view_submission_body(NOTE_VIEW, view["private_metadata"], state, user, blocks=view["blocks"])
        status, reply = bot.send(body)
        assert status == 200
        return json.loads(reply) if reply else {}

    notes_before = len(bot.kb.store.load_profile(ACME).notes)
    reply = submit(ACME, "suppliers", text)  # a forged choice of an account alice may not edit
    assert reply["response_action"] == "errors" and NOTE_ACCOUNT in reply["errors"]
    assert len(bot.kb.store.load_profile(ACME).notes) == notes_before
    reply = submit(HANSHAN, "suppliers", "   ")
    assert reply["response_action"] == "errors" and NOTE_TEXT in reply["errors"]

    reply = submit(HANSHAN, "organisation", text)  # the dimension changed in the modal
    assert reply["response_action"] == "update"
    [note] = [n for n in bot.kb.store.load_profile(HANSHAN).notes if n.text == text]
    assert note.dimension == "organisation" and note.by == "alice@example.com" and str(note.date) == "2026-11-19"

    # no name in the text: the channel's name gives the account
    bot.send(sr.message_shortcut_body(SAVE_SHORTCUT, "They want a quote by Friday", EMAIL_USER,
                                      channel_name="acct-acme"))
    second = mock.wait_for("views.open", 2, timeout=30)[1].params["view"]
    account = next(b for b in second["blocks"] if b.get("block_id") == NOTE_ACCOUNT)
    assert account["element"]["initial_option"]["value"] == ACME


def test_fill_in_buttons_on_the_home_tab_and_in_the_freshness_nudge(bot: Bot, mock: MockSlack) -> None:
    import datetime as dt

    from bot.slack_notifier import SlackNotifier
    from scheduler.sweep import run_sweep

    store = bot.kb.store
    store.edit_profile(HANSHAN, {"finance.budget": None}, source="cli", actor="alice@example.com")
    # Home: "Profile gaps" has a Fill in button per missing required field; it opens the form that holds it
    bot.send(sr.event_body("app_home_opened", user=ALICE))
    [pub] = mock.wait_for("views.publish", timeout=30)
    assert_valid_view(pub.params["view"])
    fills = [e for b in pub.params["view"]["blocks"] if b["type"] == "actions" for e in b["elements"]
             if e["type"] == "button" and e["text"]["text"].startswith("Fill in")]
    budget = next(e for e in fills if e["text"]["text"] == "Fill in Hanshan Packaging Co.: finance.budget")
    bot.send(sr.block_actions_body(budget["action_id"], budget["value"], ALICE, view=pub.response["view"]))
    [opened] = mock.wait_for("views.open", 1, timeout=30)
    view = opened.params["view"]
    assert json.loads(view["private_metadata"])["t"] == "finance" and "budget" in inputs(view)
    reply = json.loads(bot.send(submission(view, {"budget": "CNY 52M capex"}))[1])
    assert reply["response_action"] == "update" and store.load_profile(HANSHAN).finance.budget == "CNY 52M capex"
    republished = mock.wait_for("views.publish", 2, timeout=30)[1].params["view"]  # the Home tab, up to date
    assert "Fill in Hanshan Packaging Co.: finance.budget" not in json.dumps(republished)

    # the weekly freshness nudge (Monday 10:00 in Los Angeles) to bob: Fill in for Acme's missing fields
    store.edit_profile(ACME, {"organisation.power": None}, source="cli", actor="bob@example.com")
    now = dt.datetime(2026, 11, 23, 18, tzinfo=dt.UTC)
    run_sweep(store, bot.kb.settings, SlackNotifier(bot.kb.settings, store), now, tiers={},
              only={"bob@example.com"})
    nudge = next(c for c in mock.calls("chat.postMessage") if "Fill in" in json.dumps(c.params.get("blocks")))
    assert_valid_blocks(nudge.params["blocks"])
    message = mock.messages[nudge.response["channel"]][nudge.response["ts"]]
    power = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["type"] == "button" and e["text"]["text"] == "Fill in organisation.power")
    assert json.loads(power["value"])["a"] == ACME
    bot.send(sr.block_actions_body(power["action_id"], power["value"], EMAIL_USER, message=message,
                                   channel_id=nudge.response["channel"]))
    view = mock.wait_for("views.open", 2, timeout=30)[1].params["view"]
    assert json.loads(view["private_metadata"])["t"] == "organisation"
    assert inputs(view)["power"]["label"]["text"].endswith("*")
    # alice, not on Acme's team, clicking bob's button gets a refusal, not the form
    bot.send(sr.block_actions_body(power["action_id"], power["value"], ALICE, message=message,
                                   channel_id=nudge.response["channel"]))
    refusal = mock.wait_for("views.open", 3, timeout=30)[2].params["view"]
    assert "owner and team" in json.dumps(refusal) and not inputs(refusal)


def test_forged_and_malformed_submissions_store_nothing(bot: Bot, mock: MockSlack) -> None:
    from bot.render_edit import NOTE_VIEW

    view = open_modal(bot, mock, "edit hanshan finance")
    before = bot.kb.store.load_profile(HANSHAN)
    for metadata in ("not json", json.dumps({"a": HANSHAN, "t": "finance[x"}), json.dumps({"a": "nope", "t": "x"}),
                     json.dumps([1, 2]), json.dumps({"a": HANSHAN, "t": "contacts[Nobody]"})):
        status, text = bot.send(submission(view, {"revenue": "forged"}, metadata=metadata))
        reply = json.loads(text)
        assert status == 200 and reply["response_action"] == "errors", metadata
        assert set(reply["errors"]) <= set(f"{FIELD_BLOCK}{n}" for n in inputs(view)), metadata
    weird_state = {f"{FIELD_BLOCK}revenue": {"a": {"type": "plain_text_input", "value": ["x"]}},
                   f"{FIELD_BLOCK}budget": {"a": {"type": "plain_text_input", "value": {}}},
                   f"{FIELD_BLOCK}updated": {"a": {"type": "datepicker", "selected_option": "x"}}}
    body = sr.view_submission_body(EDIT_VIEW, view["private_metadata"], weird_state, ALICE, blocks=view["blocks"])
    assert bot.send(body)[0] == 200
    after = bot.kb.store.load_profile(HANSHAN).finance
    assert (after.revenue, after.budget) == (before.finance.revenue, before.finance.budget)
    empty = {"kam_n:account": {"account": {"type": "static_select", "selected_option": None}}}
    body = sr.view_submission_body(NOTE_VIEW, "{}", empty, ALICE)
    status, text = bot.send(body)
    assert status == 200 and json.loads(text)["response_action"] == "errors"
    for value in ("not json", json.dumps({"a": HANSHAN, "t": "finance", "p": {"budget": 5, "revenue": ["x"]}})):
        bot.send(sr.block_actions_body("kam_edit_open_0", value, ALICE, message={"text": "x", "blocks": []}))
    opened = mock.wait_for("views.open", 3, timeout=30)
    assert all(c.response["ok"] for c in opened)
    assert bot.send(sr.slash_command_body(text="help"))[0] == 200  # still serving
