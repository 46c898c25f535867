"""The scheduler end to end: sweeps on an injected clock, through the real Slack client to the mock Slack server.

Tiers come from the real tiering review. Exactly-once is checked against the messages the mock Slack received.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient

from bot.notifier import Sent
from knowledge.settings import Settings
from knowledge.store import Store
from scheduler import ledger
from scheduler.clock import ManualClock
from scheduler.sweep import run_digests, run_sweep
from skills.nudges import due_on, load_tiers
from tests.conftest import make_settings
from tests.fakes.mock_slack import MockSlack

UTC = dt.UTC
ZONES = {"alice@example.com": "Asia/Shanghai", "bob@example.com": "America/Los_Angeles",
         "carol@example.com": "Europe/Berlin", "dave@example.com": "Pacific/Auckland"}
SLACK_IDS = {"alice@example.com": "U0ALICE001", "bob@example.com": "U0BOB00001", "carol@example.com": "U0CAROL001",
             "dave@example.com": "U0DAVE0001", "mia@example.com": "U0MIA00001", "noah@example.com": "U0NOAH0001"}


class WebClientNotifier:
    """Test-only fallback while bot.slack_notifier is absent: DMs over slack_sdk's WebClient."""

    def __init__(self, settings: Settings, store: Store, client: WebClient):
        self.client, self.store = client, store

    def send_dm(self, person: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        user = person if person.startswith("U") else self.client.users_lookupByEmail(email=person)["user"]["id"]
        channel = self.client.conversations_open(users=user)["channel"]["id"]
        return self.post_channel(channel, text, blocks)

    def post_channel(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        resp = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return Sent(resp["channel"], resp["ts"])


def slack_notifier(settings: Settings, store: Store, mock: MockSlack):
    client = WebClient(token="xoxb-test", base_url=mock.base_url)
    try:
        from bot.slack_notifier import SlackNotifier
    except ImportError:
        return WebClientNotifier(settings, store, client)
    return SlackNotifier(settings, store, client=client)


class Recording:
    """Wraps a notifier; remembers the simulated instant of each send."""

    def __init__(self, inner: Any, clock: ManualClock):
        self.inner, self.clock = inner, clock
        self.sends: list[tuple[dt.datetime, str, str]] = []

    def send_dm(self, person: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        sent = self.inner.send_dm(person, text, blocks)
        self.sends.append((self.clock.now(), person, sent.channel))
        return sent

    def post_channel(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Sent:
        sent = self.inner.post_channel(channel, text, blocks)
        self.sends.append((self.clock.now(), channel, sent.channel))
        return sent


@pytest.fixture()
def mock():
    with MockSlack() as m:
        for email, uid in SLACK_IDS.items():
            m.add_user(uid, email=email, tz=ZONES.get(email, "UTC"))
        yield m


@pytest.fixture()
def env(sample_kb, mock):
    """(settings, store, tiers) over the sample accounts, tiered by the real tiering review."""
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review

    base, store, _ = sample_kb
    settings = make_settings(base.home, slack_bot_token="xoxb-test", slack_api_url=mock.base_url,
                             kam_slack_channel_interval=0.0)
    review(store, load_config(config_path(settings)), by="test", today=dt.date(2026, 11, 22))
    tiers = load_tiers(store)
    assert tiers, "the tiering review placed no account"
    return settings, store, tiers


def ledger_ids(call) -> list[int]:
    return [int(b["block_id"].split(":")[1]) for b in call.params.get("blocks") or []
            if b.get("type") == "actions" and str(b.get("block_id", "")).startswith("nudge:")]


def expected_nudges(store: Store, settings: Settings, tiers: dict[str, str], first: dt.date, last: dt.date
                    ) -> set[tuple[str, str, str, str, dt.date]]:
    """(recipient, kind, subject, occurrence, local day) for every day: key dates and birthdays straight from the
    profiles; the cadence and weekly checks from the skill."""
    out = set()
    profiles = store.load_profiles(store.account_ids())
    owner_email = {p.slack_id: p.email for p in store.people() if p.slack_id}
    for aid, p in profiles.items():
        rcpt = owner_email.get(p.owner, p.owner)
        for k in p.key_dates:
            for off in k.remind if k.remind is not None else settings.remind_days(k.kind):
                day = k.date - dt.timedelta(days=off)
                if first <= day <= last:
                    out.add((rcpt, k.kind, None, f"{k.date.isoformat()}/-{off}d", day, aid, k.title))
        for c in p.contacts:
            if c.role in settings.kam_birthday_roles and c.birthday_month_day:
                m, d = c.birthday_month_day
                for year in (first.year, first.year + 1):
                    bday = dt.date(year, m, d)
                    day = bday - dt.timedelta(days=settings.kam_birthday_days)
                    if first <= day <= last:
                        out.add((rcpt, "birthday", None, f"{year}/-{settings.kam_birthday_days}d", day, aid, c.name))
    keyed = {(r, k, o, d, a) for r, k, _, o, d, a, _ in out}
    day = first
    while day <= last:
        for n in due_on(store, settings, day, tiers=tiers):
            if n.kind in ("overdue_contact", "coverage_risk", "stale"):
                keyed.add((n.recipient, n.kind, n.occurrence, day, n.account_id))
        day += dt.timedelta(days=1)
    return keyed


def test_120_days_of_sweeps_exactly_once_on_the_local_day(env, mock):
    settings, store, tiers = env
    start = dt.datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    clock = ManualClock(start)
    notifier = Recording(slack_notifier(settings, store, mock), clock)
    days = 120
    while clock.now() < start + dt.timedelta(days=days):
        run_sweep(store, settings, notifier, clock.now(), tiers=tiers)
        run_digests(store, settings, notifier, clock.now(), tiers=tiers)
        clock.advance(hours=3)

    posts = mock.calls("chat.postMessage")
    assert len(posts) == len(notifier.sends) and all(p.response.get("ok") for p in posts)
    sent: list[tuple[str, str, str, dt.date, str]] = []
    digests: list[tuple[str, dt.date]] = []
    dm_of = {f"D{uid}": email for email, uid in SLACK_IDS.items()}
    for call, (when, _person, channel) in zip(posts, notifier.sends, strict=True):
        assert call.params["channel"].startswith("D"), "nudges and digests go by DM only"
        rcpt = dm_of[channel]
        local_day = when.astimezone(ZoneInfo(ZONES.get(rcpt, "UTC") if rcpt in ZONES else
                                             store.person(rcpt).timezone)).date()
        ids = ledger_ids(call)
        if not ids:
            digests.append((rcpt, local_day))
            continue
        for lid in ids:
            row = ledger.delivery(store, lid)
            assert row.status == "sent" and row.recipient == rcpt
            p = row.payload
            assert dt.date.fromisoformat(p["remind_on"]) == local_day, (p, when)
            assert not p["late"]
            sent.append((rcpt, p["kind"], p["occurrence"], local_day, p["account_id"]))
    dupes = [k for k, n in Counter(sent).items() if n > 1]
    assert not dupes
    first, last = start.date(), (start + dt.timedelta(days=days - 1)).date()
    expected = expected_nudges(store, settings, tiers, first, last)
    # reps east of UTC see their day 1 begin before the start and west ones see day 120 end after it
    sent_set = {s for s in sent if first <= s[3] <= last}
    assert sent_set == expected and len(expected) > 100, (len(sent_set), len(expected))
    print(f"{len(posts)} messages, {len(sent)} nudges, {len(digests)} digests")
    kinds = {s[1] for s in sent}
    assert {"renewal", "review", "birthday", "coverage_risk", "stale"} <= kinds
    assert all(s[0] in ZONES for s in sent)
    # the weekly digest: each manager once per local Monday
    for manager in ("mia@example.com", "noah@example.com"):
        mine = [d for r, d in digests if r == manager]
        assert mine and len(mine) == len(set(mine)) and all(d.weekday() == 0 for d in mine)
        assert len(mine) >= days // 7
    # birthdays never reach a channel
    assert not [c for c in posts if not c.params["channel"].startswith("D")]


def test_date_line_each_rep_gets_their_own_local_day(env, mock):
    settings, store, tiers = env
    notifier = slack_notifier(settings, store, mock)
    # 18:00 UTC on 1 Dec: Auckland is 07:00 on 2 Dec (not yet its sweep hour), Los Angeles 10:00 on 1 Dec
    r = run_sweep(store, settings, notifier, dt.datetime(2026, 12, 1, 18, tzinfo=UTC), tiers=tiers,
                  only={"dave@example.com", "bob@example.com"})
    assert {(who, day) for who, day, _ in r.sent} <= {("bob@example.com", dt.date(2026, 12, 1)),
                                                      ("dave@example.com", dt.date(2026, 12, 1))}
    progress = ledger.sweep_progress(store, "nudges")
    assert progress == {"bob@example.com": dt.date(2026, 12, 1), "dave@example.com": dt.date(2026, 12, 1)}
    # two hours later it is 09:00 on 2 Dec in Auckland: Rachel Tan's birthday (5 Dec) reminder goes to dave
    r = run_sweep(store, settings, notifier, dt.datetime(2026, 12, 1, 20, tzinfo=UTC), tiers=tiers,
                  only={"dave@example.com", "bob@example.com"})
    assert [(who, day) for who, day, _ in r.sent] == [("dave@example.com", dt.date(2026, 12, 2))]
    row = [d for d in ledger.deliveries(store, recipient="dave@example.com") if d.kind == "birthday"]
    assert [(d.payload["contact"], d.local_day) for d in row] == [("Rachel Tan", dt.date(2026, 12, 2))]
    assert mock.calls("chat.postMessage")[-1].params["channel"] == "DU0DAVE0001"


def test_dst_change_keeps_the_local_hour(env, mock):
    settings, store, tiers = env
    notifier = slack_notifier(settings, store, mock)
    bob = {"bob@example.com"}
    ledger.set_progress(store, "nudges", "bob@example.com", dt.date(2027, 3, 12))
    # 15:30 UTC is 07:30 PST on Saturday 13 March: before 08:00, nothing is due yet
    run_sweep(store, settings, notifier, dt.datetime(2027, 3, 13, 15, 30, tzinfo=UTC), tiers=tiers, only=bob)
    assert ledger.sweep_progress(store, "nudges")["bob@example.com"] == dt.date(2027, 3, 12)
    run_sweep(store, settings, notifier, dt.datetime(2027, 3, 13, 16, 30, tzinfo=UTC), tiers=tiers, only=bob)
    assert ledger.sweep_progress(store, "nudges")["bob@example.com"] == dt.date(2027, 3, 13)
    # clocks spring forward on 14 March: 15:30 UTC on the 15th is 08:30 PDT, due
    run_sweep(store, settings, notifier, dt.datetime(2027, 3, 14, 14, 30, tzinfo=UTC), tiers=tiers, only=bob)
    assert ledger.sweep_progress(store, "nudges")["bob@example.com"] == dt.date(2027, 3, 13)  # 07:30 PDT
    run_sweep(store, settings, notifier, dt.datetime(2027, 3, 15, 15, 30, tzinfo=UTC), tiers=tiers, only=bob)
    assert ledger.sweep_progress(store, "nudges")["bob@example.com"] == dt.date(2027, 3, 15)


def test_downtime_catch_up_sends_once_and_says_late(env, mock):
    settings, store, tiers = env
    notifier = slack_notifier(settings, store, mock)
    t0 = dt.datetime(2026, 11, 23, 12, tzinfo=UTC)
    run_sweep(store, settings, notifier, t0, tiers=tiers)
    before = len(mock.calls("chat.postMessage"))
    # down for 12 days
    t1 = t0 + dt.timedelta(days=12)
    report = run_sweep(store, settings, notifier, t1, tiers=tiers)
    assert report.late > 0
    posts = mock.calls("chat.postMessage")[before:]
    per_rep = Counter(c.params["channel"] for c in posts)
    assert all(n == 1 for n in per_rep.values()), per_rep  # one message per rep, not one per missed day
    late_rows = [r for r in ledger.deliveries(store) if r.late]
    assert late_rows and all(dt.date.fromisoformat(r.payload["remind_on"]) < r.local_day for r in late_rows)
    assert any("late" in (c.params.get("text") or "") for c in posts)
    # every nudge of the missed days (latest step per cycle) went out
    bob_missed = {n.occurrence for d in range(1, 13) for n in due_on(store, settings, t0.date() + dt.timedelta(days=d),
                                                                    tiers=tiers, recipient="bob@example.com")
                  if n.kind not in ("overdue_contact", "coverage_risk", "stale")}
    bob_sent = {r.occurrence for r in ledger.deliveries(store, recipient="bob@example.com")}
    assert bob_missed <= bob_sent
    again = run_sweep(store, settings, notifier, t1 + dt.timedelta(hours=3), tiers=tiers)
    assert again.messages == 0 and len(mock.calls("chat.postMessage")) == before + len(posts)


def test_send_failure_is_retried_never_duplicated(env, mock):
    settings, store, tiers = env
    notifier = slack_notifier(settings, store, mock)
    now = dt.datetime(2026, 12, 11, 18, tzinfo=UTC)  # bob's renewal reminder day in Los Angeles
    mock.fail("chat.postMessage", error="fatal_error", times=1)
    first = run_sweep(store, settings, notifier, now, tiers=tiers, only={"bob@example.com"})
    assert first.failed == ["bob@example.com"] and first.messages == 0
    claimed = ledger.deliveries(store, recipient="bob@example.com", status="claimed")
    assert claimed and not ledger.deliveries(store, recipient="bob@example.com")
    assert "bob@example.com" not in ledger.sweep_progress(store, "nudges")
    second = run_sweep(store, settings, notifier, now + dt.timedelta(hours=1), tiers=tiers, only={"bob@example.com"})
    assert second.messages == 1 and second.retried == len(claimed)
    sent = ledger.deliveries(store, recipient="bob@example.com")
    assert sorted(r.id for r in sent) == sorted(r.id for r in claimed)
    assert all(r.attempts == 2 for r in sent)
    third = run_sweep(store, settings, notifier, now + dt.timedelta(hours=2), tiers=tiers, only={"bob@example.com"},
                      force=True)
    assert third.messages == 0
    ok_posts = [c for c in mock.calls("chat.postMessage") if c.response.get("ok")]
    assert len(ok_posts) == 1


def test_snoozed_nudge_comes_back_once_done_one_does_not(env, mock):
    settings, store, tiers = env
    notifier = slack_notifier(settings, store, mock)
    day = dt.datetime(2026, 12, 11, 18, tzinfo=UTC)
    run_sweep(store, settings, notifier, day, tiers=tiers, only={"bob@example.com"})
    rows = ledger.deliveries(store, recipient="bob@example.com")
    renewal = next(r for r in rows if r.kind == "renewal")
    ledger.set_state(store, renewal.payload, "snoozed", dt.date(2026, 12, 13), by="bob@example.com")
    others = [r for r in rows if r.id != renewal.id]
    for r in others:
        ledger.set_state(store, r.payload, "done", None, by="bob@example.com")
    run_sweep(store, settings, notifier, day + dt.timedelta(days=1), tiers=tiers, only={"bob@example.com"})
    r2 = run_sweep(store, settings, notifier, day + dt.timedelta(days=2), tiers=tiers, only={"bob@example.com"})
    back = [r for r in ledger.deliveries(store, recipient="bob@example.com") if r.local_day == dt.date(2026, 12, 13)]
    assert r2.messages == 1 and [(r.kind, r.payload["subject"]) for r in back if r.payload.get("resurfaced")] == \
        [("renewal", renewal.payload["subject"])]
    assert not [r for r in back if r.payload["subject"] in {o.payload["subject"] for o in others}
                and r.payload["cycle"] == next(o for o in others if o.payload["subject"] ==
                                              r.payload["subject"]).payload["cycle"]]
    assert ledger.open_nudges(store, "bob@example.com", dt.date(2026, 12, 13))


def test_digest_once_per_week_and_late_after_downtime(env, mock):
    settings, store, tiers = env
    notifier = slack_notifier(settings, store, mock)
    monday = dt.datetime(2026, 11, 23, 2, tzinfo=UTC)  # 10:00 in Singapore (mia), 02:00 in London (noah)
    r = run_digests(store, settings, notifier, monday, tiers=tiers)
    assert [w for w, *_ in r.sent] == ["mia@example.com"]
    assert run_digests(store, settings, notifier, monday + dt.timedelta(hours=1), tiers=tiers).messages == 0
    r = run_digests(store, settings, notifier, monday + dt.timedelta(hours=8), tiers=tiers)  # 10:00 London
    assert [w for w, *_ in r.sent] == ["noah@example.com"]
    # down from Sunday to Wednesday: the Monday digest goes out late, once
    wed = dt.datetime(2026, 12, 2, 12, tzinfo=UTC)
    r = run_digests(store, settings, notifier, wed, tiers=tiers)
    assert sorted(w for w, *_ in r.sent) == ["mia@example.com", "noah@example.com"] and r.late == 2
    assert run_digests(store, settings, notifier, wed + dt.timedelta(hours=5), tiers=tiers).messages == 0
    posts = mock.calls("chat.postMessage")
    assert len(posts) == 4 and "(late)" in posts[-1].params["text"]
    assert all("birthday" not in str(c.params.get("blocks")).lower() for c in posts)
