"""Tier-change posts and the override modal against the mock Slack server, driven by slack_sdk and slack_bolt."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from sqlalchemy import select, update

from bot import handlers_tiers
from bot.notifier import Sent
from bot.tier_posts import CONFIRM, MODAL, OVERRIDE, PER_MESSAGE, changes_messages, post_tier_changes
from knowledge.db import MetricsRow
from knowledge.importers.profiles import ingest_dir
from knowledge.kb import KnowledgeBase
from knowledge.store import Store
from skills.tiering.changes import TierChange
from skills.tiering.config import load_config
from skills.tiering.history import current_tiers, review
from skills.tiering.models import TierHistoryRow
from tests.conftest import EXAMPLES, make_settings
from tests.fakes.mock_slack import MockSlack, assert_valid_blocks
from tests.fakes.slack_requests import block_actions_body, signed_headers, view_submission_body

SECRET = "test-signing-secret"
TOKEN = "xoxb-test"
MANAGERS = "C0MANAGERS"
USERS = {"U0ALICE001": "alice@example.com", "U0BOB00001": "bob@example.com", "U0MIA00001": "mia@example.com",
         "U0CAROL001": "carol@example.com", "U0ADA00001": "ada@example.com"}


class WebNotifier:
    """A minimal Notifier over slack_sdk (used when the Slack feature's SlackNotifier is not installed)."""

    def __init__(self, client: WebClient):
        self.client = client

    def send_dm(self, person: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        user = self.client.users_lookupByEmail(email=person)["user"]["id"] if "@" in person else person
        return self.post_channel(self.client.conversations_open(users=user)["channel"]["id"], text, blocks)

    def post_channel(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        resp = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return Sent(resp["channel"], resp["ts"])


@pytest.fixture()
def mock():
    with MockSlack(token=TOKEN) as m:
        for uid, email in USERS.items():
            m.add_user(uid, email=email)
        yield m


@pytest.fixture()
def kb(tmp_path: Path, mock: MockSlack):
    settings = make_settings(tmp_path / "kam", slack_bot_token=TOKEN, slack_api_url=mock.base_url,
                             slack_signing_secret=SECRET, kam_managers_channel=MANAGERS,
                             kam_slack_channel_interval=0)
    store = Store(settings)
    ingest_dir(store, EXAMPLES)
    return KnowledgeBase(settings, store, None)  # type: ignore[arg-type]  # tier posts need no index


def notifier_for(kb: KnowledgeBase, mock: MockSlack):
    client = WebClient(token=TOKEN, base_url=mock.base_url)
    try:
        from bot.slack_notifier import SlackNotifier
    except ImportError:
        return WebNotifier(client)
    return SlackNotifier(kb.settings, kb.store, client=client)


def make_changes(store: Store) -> list[TierChange]:
    """A real review after three accounts' metrics moved: Acme up to key, Cascade (owner written as a Slack id)
    down to opportunity, Northwind (carol) up to key."""
    config = load_config()
    review(store, config)
    ids = {s.name: s.id for s in store.summaries()}
    with store.session() as s:
        s.execute(update(MetricsRow).where(MetricsRow.account_id == ids["Acme Industrial"])
                  .values(tech_cooperation=5, satisfaction=4.6, complaints=1))
        s.execute(update(MetricsRow).where(MetricsRow.account_id == ids["Cascade Labels & Print"])
                  .values(tech_cooperation=1, satisfaction=2.0, complaints=9))
        s.execute(update(MetricsRow).where(MetricsRow.account_id == ids["Northwind Foods"])
                  .values(revenue=9_000_000, potential=5, growth=0.3, footprint=5))
    return review(store, config).changes


def test_changes_are_posted_to_managers_and_owners(kb: KnowledgeBase, mock: MockSlack):
    changes = make_changes(kb.store)
    assert {(c.account, c.new_tier) for c in changes} == {("Acme Industrial", "key"),
                                                          ("Cascade Labels & Print", "opportunity"),
                                                          ("Northwind Foods", "key")}
    sent = post_tier_changes(notifier_for(kb, mock), kb, changes)
    posts = mock.calls("chat.postMessage")
    assert len(sent) == len(posts) == 3  # the channel, bob (two accounts, one written as a Slack id), carol
    channel_post = next(c.params for c in posts if c.params["channel"] == MANAGERS)
    blocks = channel_post["blocks"]
    assert_valid_blocks(blocks)
    assert "Acme Industrial: strategic -> key: tech cooperation 2/5 -> 5/5" in channel_post["text"]
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {f"{kind}:{c.account_id}" for c in changes
                                                 for kind in (CONFIRM, OVERRIDE)}
    assert json.loads(buttons[0]["value"])["t"] in ("key", "opportunity")
    dms = [c.params for c in posts if c.params["channel"] != MANAGERS]
    assert {d["channel"] for d in dms} == {"DU0BOB00001", "DU0CAROL001"}  # conversations.open per owner
    bob = next(d for d in dms if d["channel"] == "DU0BOB00001")
    assert "Acme Industrial" in bob["text"] and "Cascade Labels & Print" in bob["text"]
    assert not any(b["type"] == "actions" for d in dms for b in d["blocks"])  # reps get no buttons


def test_long_change_lists_are_split_under_the_block_limit():
    changes = [TierChange(f"acct-{i}", f"Account {i}", "bob@example.com", "maintenance", "key", "scores",
                          f"Account {i}: maintenance -> key: revenue 1M -> 2M", 0.7, 0.6) for i in range(40)]
    messages = changes_messages(changes, True, "Tier changes")
    assert len(messages) == 3 and sum(len(b) for _, b in messages) == 3 + 40 * 3
    for _, blocks in messages:
        assert_valid_blocks(blocks)
    assert messages[0][1][0]["text"]["text"] == f"Tier changes (1-{PER_MESSAGE} of 40)"


def bolt_app(kb: KnowledgeBase, mock: MockSlack) -> App:
    app = App(client=WebClient(token=TOKEN, base_url=mock.base_url), signing_secret=SECRET,
              token_verification_enabled=False, process_before_response=True)
    handlers_tiers.register(app, kb)
    return app


def dispatch(app: App, body: bytes):
    resp = app.dispatch(BoltRequest(body=body.decode(), headers=signed_headers(SECRET, body)))
    return resp.status, resp.body


def posted_change(kb: KnowledgeBase, mock: MockSlack, account: str) -> tuple[dict, dict]:
    """The managers' post and the button value of one account's change in it."""
    changes = make_changes(kb.store)
    post_tier_changes(notifier_for(kb, mock), kb, changes)
    message = next(m for m in mock.messages[MANAGERS].values())
    change = next(c for c in changes if c.account == account)
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == f"{OVERRIDE}:{change.account_id}")
    return message, button


def test_override_modal_round_trip(kb: KnowledgeBase, mock: MockSlack):
    app = bolt_app(kb, mock)
    message, button = posted_change(kb, mock, "Acme Industrial")
    acme = json.loads(button["value"])["a"]
    click = block_actions_body(button["action_id"], button["value"], user_id="U0MIA00001",
                               channel_id=MANAGERS, message=message)
    assert dispatch(app, click)[0] == 200
    opened = mock.calls("views.open")
    assert len(opened) == 1
    view = opened[0].params["view"]
    assert view["callback_id"] == MODAL and {b.get("block_id") for b in view["blocks"]} >= {"tier", "reason", "until"}

    until = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    values = {"tier": {"tier": {"type": "static_select", "selected_option": {
                  "text": {"type": "plain_text", "text": "Strategic"}, "value": "strategic"}}},
              "reason": {"reason": "key status waits for the plant audit"},
              "until": {"until": {"type": "datepicker", "selected_date": until}}}
    submit = view_submission_body(MODAL, view["private_metadata"], values, user_id="U0MIA00001")
    assert dispatch(app, submit) == (200, "")
    assert current_tiers(kb.store)[acme] == "strategic"
    with kb.store.session() as s:
        row = s.scalars(select(TierHistoryRow).where(TierHistoryRow.account_id == acme,
                                                     TierHistoryRow.kind == "override")).one()
        assert (row.old_tier, row.new_tier, row.by, str(row.until)) == ("key", "strategic", "mia@example.com", until)
    updated = mock.calls("chat.update")[-1].params
    note = next(b for b in updated["blocks"] if b.get("block_id") == f"tier_actions:{acme}")
    assert note["type"] == "context" and "overridden to strategic by <@U0MIA00001>" in note["elements"][0]["text"]
    assert sum(b["type"] == "actions" for b in updated["blocks"]) == 2  # the other changes keep their buttons


def test_modal_errors_come_back_in_the_view(kb: KnowledgeBase, mock: MockSlack):
    app = bolt_app(kb, mock)
    _, button = posted_change(kb, mock, "Acme Industrial")
    acme = json.loads(button["value"])["a"]
    meta = json.dumps({"a": acme, "c": MANAGERS, "ts": "1.0"})
    values = {"tier": {"tier": {"type": "static_select", "selected_option": {
                  "text": {"type": "plain_text", "text": "Key"}, "value": "key"}}},
              "reason": {"reason": "  "}}
    status, body = dispatch(app, view_submission_body(MODAL, meta, values, user_id="U0MIA00001"))
    assert status == 200 and json.loads(body) == {"response_action": "errors",
                                                  "errors": {"reason": "an override needs a reason"}}
    assert current_tiers(kb.store)[acme] == "key"


def test_reps_are_refused_and_managers_can_confirm(kb: KnowledgeBase, mock: MockSlack):
    app = bolt_app(kb, mock)
    message, button = posted_change(kb, mock, "Acme Industrial")
    acme = json.loads(button["value"])["a"]
    # bob is a rep: no modal, an ephemeral refusal
    dispatch(app, block_actions_body(button["action_id"], button["value"], user_id="U0BOB00001",
                                     channel_id=MANAGERS, message=message))
    assert mock.calls("views.open") == []
    refusal = mock.calls("chat.postEphemeral")[-1].params
    assert refusal["user"] == "U0BOB00001" and "Only admins, and managers" in refusal["text"]
    # a submission forged by a rep is refused too
    values = {"tier": {"tier": {"type": "static_select", "selected_option": {
                  "text": {"type": "plain_text", "text": "Key"}, "value": "opportunity"}}},
              "reason": {"reason": "I want it"}}
    status, body = dispatch(app, view_submission_body(MODAL, json.dumps({"a": acme}), values, user_id="U0BOB00001"))
    assert "only admins" in json.loads(body)["errors"]["tier"] and current_tiers(kb.store)[acme] == "key"
    # mia confirms
    confirm_id = f"{CONFIRM}:{acme}"
    dispatch(app, block_actions_body(confirm_id, button["value"], user_id="U0MIA00001", channel_id=MANAGERS,
                                     message=message))
    with kb.store.session() as s:
        row = s.scalars(select(TierHistoryRow).where(TierHistoryRow.kind == "confirm")).one()
        assert (row.account_id, row.new_tier, row.by) == (acme, "key", "mia@example.com")
    updated = mock.calls("chat.update")[-1].params
    assert any("key confirmed by <@U0MIA00001>" in json.dumps(b) for b in updated["blocks"])


def test_override_through_the_bots_http_endpoint(sample_kb):  # noqa: ANN001 - (settings, store, index)
    """The same round trip through the Slack feature's app and HTTP server (skipped where it is not installed)."""
    harness = pytest.importorskip("tests.slack_harness")
    settings, store, index = sample_kb
    with MockSlack() as mock:
        for uid, info in harness.mock_users().items():
            mock.add_user(uid, **info)
        mock.add_user("U0MIA00001", email="mia@example.com")
        bot = harness.start_bot(harness.bot_settings(settings.kam_home, mock, kam_managers_channel=MANAGERS),
                                store, index, mock)
        try:
            changes = make_changes(store)
            post_tier_changes(bot.app.kam_notifier, bot.kb, changes)
            message = next(iter(mock.messages[MANAGERS].values()))
            button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                          if e["action_id"].startswith(OVERRIDE) and "acme" in e["action_id"])
            acme = json.loads(button["value"])["a"]
            status, _ = bot.send(block_actions_body(button["action_id"], button["value"], user_id="U0MIA00001",
                                                    channel_id=MANAGERS, message=message))
            assert status == 200
            view = mock.wait_for("views.open")[0].params["view"]
            values = {"tier": {"tier": {"type": "static_select", "selected_option": {
                          "text": {"type": "plain_text", "text": "Strategic"}, "value": "strategic"}}},
                      "reason": {"reason": "waits for the plant audit"}}
            status, body = bot.send(view_submission_body(MODAL, view["private_metadata"], values,
                                                         user_id="U0MIA00001"))
            assert status == 200 and body in ("", "{}")
            bot.settle()
            assert current_tiers(store)[acme] == "strategic"
        finally:
            bot.stop()
