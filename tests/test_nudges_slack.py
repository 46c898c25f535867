"""Nudge buttons round trips: signed block_actions / view_submission requests through the real bolt App over HTTP."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlencode

import pytest

from knowledge.history import changes_of
from scheduler import ledger
from scheduler.sweep import run_sweep
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack

harness = pytest.importorskip("tests.slack_harness")
BOB, ALICE = "U0BOB00001", "U0ALICE001"
DAY = dt.date(2026, 12, 11)  # bob's renewal reminder (30 days before 10 Jan) in Los Angeles


def _with_selected_date(body: bytes, day: str) -> bytes:
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload["actions"][0].pop("value", None)
    payload["actions"][0]["selected_date"] = day
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.fixture()
def bot(sample_kb, tmp_path):
    from bot.slack_notifier import SlackNotifier

    _, store, index = sample_kb
    with MockSlack(users={**harness.mock_users(), BOB: {"email": "bob@example.com", "tz": "America/Los_Angeles"}}) \
            as mock:
        settings = harness.bot_settings(store.settings.home, mock)
        today = {"day": DAY}
        b = harness.start_bot(settings, store, index, mock, today=lambda: today["day"])
        b.today = today  # type: ignore[attr-defined]
        b.notifier = SlackNotifier(settings, store)  # type: ignore[attr-defined]
        try:
            yield b
        finally:
            b.stop()


def _sweep(bot, day: dt.date, tiers: dict[str, str]):
    now = dt.datetime.combine(day, dt.time(18), tzinfo=dt.UTC)  # 10:00 in Los Angeles
    return run_sweep(bot.kb.store, bot.kb.settings, bot.notifier, now, tiers=tiers, only={"bob@example.com"})


def _click(bot, action: str, ledger_id: int, message: dict, user: str = BOB, picked: str | None = None) -> None:
    body = sr.block_actions_body(f"{action}:{ledger_id}", str(ledger_id), user, block_id=f"nudge:{ledger_id}",
                                 channel_id="DU0BOB00001", message=message,
                                 action_type="datepicker" if picked else "button")
    if picked:
        body = _with_selected_date(body, picked)
    status, _ = bot.send(body)
    assert status == 200
    bot.settle()


def test_done_snooze_reschedule_and_log_visit_round_trips(bot):
    store = bot.kb.store
    acme = store.find_account("Acme Industrial")
    tiers = {acme: "key"}  # last contact 8 Sep, key cadence 30: overdue since 9 Oct, weekly: due again on 11 Dec
    report = _sweep(bot, DAY, tiers)
    assert report.messages == 1
    post = bot.mock.calls("chat.postMessage")[-1]
    channel, ts = post.response["channel"], post.response["ts"]
    message = bot.mock.messages[channel][ts]
    rows = {r.kind: r for r in ledger.deliveries(store, recipient="bob@example.com")}
    renewal, overdue = rows["renewal"], rows["overdue_contact"]

    # somebody else's click changes nothing
    _click(bot, "nudge_done", renewal.id, message, user=ALICE)
    assert not ledger.states(store) and bot.mock.calls("chat.postEphemeral")

    # Done on the renewal: state kept, the message shows it
    _click(bot, "nudge_done", renewal.id, message)
    st = ledger.states(store)[("bob@example.com", "renewal", renewal.payload["subject"])]
    assert st.status == "done"
    updated = bot.mock.messages[channel][ts]
    assert "Done" in json.dumps(updated["blocks"]) and not [
        b for b in updated["blocks"] if b.get("block_id") == f"nudge:{renewal.id}" and b["type"] == "actions"]

    # Log a visit on the overdue account: a modal, then its submission logs the interaction
    opened_before = len(bot.mock.calls("views.open"))
    body = sr.block_actions_body(f"nudge_log_visit:{overdue.id}", str(overdue.id), BOB,
                                 block_id=f"nudge:{overdue.id}", channel_id=channel, message=message)
    assert bot.send(body)[0] == 200
    bot.settle()
    opened = bot.mock.calls("views.open")
    assert len(opened) == opened_before + 1
    view = opened[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    future = sr.view_submission_body(
        view["callback_id"], view["private_metadata"],
        {"visit_date": {"date": {"type": "datepicker", "selected_date": "2026-12-30"}},
         "visit_summary": {"summary": "Toured the Ohio hub"}}, BOB)
    status, text = bot.send(future)
    assert status == 200 and "errors" in text and "visit_date" in text  # a future visit is refused
    sub = sr.view_submission_body(
        view["callback_id"], view["private_metadata"],
        {"visit_date": {"date": {"type": "datepicker", "selected_date": "2026-12-10"}},
         "visit_summary": {"summary": "Toured the Ohio hub with Karen Doyle"}}, BOB)
    assert bot.send(sub)[0] == 200
    bot.settle()
    visits = [i for i in store.load_profile(acme).interactions if i.date == dt.date(2026, 12, 10)]
    assert [(i.kind, i.by, i.summary) for i in visits] == [("visit", "bob@example.com",
                                                           "Toured the Ohio hub with Karen Doyle")]
    with store.session() as s:  # the "Log a visit" button writes through the profile history
        logged = [c for c in changes_of(s, acme) if c.path == "interactions[2026-12-10 visit by bob@example.com]"]
    assert [(c.source, c.actor, c.old, c.new["summary"]) for c in logged] == [
        ("slack", "bob@example.com", None, "Toured the Ohio hub with Karen Doyle")]
    assert ledger.states(store)[("bob@example.com", "overdue_contact", overdue.payload["subject"])].status == "done"

    # Snooze / reschedule the rest
    others = [r for r in ledger.deliveries(store, recipient="bob@example.com") if r.kind not in
              ("renewal", "overdue_contact")]
    snoozed = {}
    for i, r in enumerate(others):
        if i % 2:
            _click(bot, "nudge_snooze_1d", r.id, message)
            snoozed[r.payload["subject"]] = DAY + dt.timedelta(days=1)
        else:
            _click(bot, "nudge_reschedule", r.id, message, picked="2026-12-20")
            snoozed[r.payload["subject"]] = dt.date(2026, 12, 20)
    st = ledger.states(store)
    for subject, until in snoozed.items():
        assert next(v for k, v in st.items() if k[2] == subject).until == until

    # the next days: snoozed ones come back on their day, done ones never
    seen: dict[str, list[dt.date]] = {}
    for d in range(1, 25):
        day = DAY + dt.timedelta(days=d)
        bot.today["day"] = day
        _sweep(bot, day, tiers)
    for r in ledger.deliveries(store, recipient="bob@example.com"):
        seen.setdefault(r.payload["subject"], []).append(r.local_day)
    assert seen[renewal.payload["subject"]] == [DAY]  # its 7-day reminder (3 Jan) is done too
    assert seen[overdue.payload["subject"]] == [DAY]  # a visit was logged: no longer overdue
    for subject, until in snoozed.items():
        assert until in seen[subject] and seen[subject].count(until) == 1


def test_reschedule_to_the_past_is_refused(bot):
    store = bot.kb.store
    _sweep(bot, DAY, {})
    post = bot.mock.calls("chat.postMessage")[-1]
    message = bot.mock.messages[post.response["channel"]][post.response["ts"]]
    row = ledger.deliveries(store, recipient="bob@example.com")[0]
    _click(bot, "nudge_reschedule", row.id, message, picked="2026-12-01")
    assert not ledger.states(store)
    assert "after today" in bot.mock.calls("chat.postEphemeral")[-1].params["text"]


def test_a_nudge_slack_took_before_the_sender_heard_back_is_not_sent_again(bot):
    """Slack accepted the message, but its reply never came back (the connection dropped, the scheduler was
    killed): the rows stay claimed, and the next sweep finds the message in the DM instead of nudging twice."""
    store = bot.kb.store
    tiers = {store.find_account("Acme Industrial"): "key"}

    def accepted_then_lost(params: dict) -> dict:
        bot.mock._m_chat_postMessage(params)
        return {"ok": False, "error": "internal_error"}  # what the sender sees: a failure

    bot.mock.on("chat.postMessage", accepted_then_lost)
    first = _sweep(bot, DAY, tiers)
    assert first.messages == 0 and first.failed == ["bob@example.com"]
    assert {r.status for r in ledger.deliveries(store, status=None)} == {"claimed"}
    bot.mock.on("chat.postMessage", None)
    _sweep(bot, DAY, tiers)
    rows = ledger.deliveries(store, status=None)
    assert rows and {r.status for r in rows} == {"sent"}
    in_dm = [m for m in bot.mock.messages["DU0BOB00001"].values()
             if any(b.get("block_id") == f"nudge:{rows[0].id}" for b in m.get("blocks") or [])]
    assert len(in_dm) == 1 and rows[0].ts == in_dm[0]["ts"]
