"""What is due for whom (skills/nudges.py), the manager digest (skills/digest.py) and their Block Kit."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.render_nudges import MAX_NUDGES_PER_MESSAGE, digest_message, nudge_message
from knowledge.quality import quality
from skills.digest import build_digest
from skills.nudges import (
    Nudge,
    StateView,
    _birthday_in,
    account_checks,
    apply_state,
    batches,
    due_on,
    latest_weekday,
    nudges_between,
)
from tests.fakes.mock_slack import assert_valid_blocks

# the sample accounts' intended tiers (examples/accounts: "# intended tier")
INTENDED = {
    "Hanshan Packaging Co.": "key", "江南乳业": "key", "Borealis Beverage": "key", "Siam Meridian Auto Parts": "key",
    "Acme Industrial": "strategic", "康源制药": "strategic", "Pacific Rim Logistics": "strategic",
    "Helvetia Pharma": "strategic", "Northwind Foods": "maintenance", "Cascade Labels": "maintenance",
    "锐芯电子": "maintenance", "Kiwi Fresh": "maintenance", "Lakeside Brewing": "opportunity",
    "Orion Circuit": "opportunity", "天府化工": "opportunity", "Bayview Cold Chain": "opportunity",
}


def intended_tiers(store) -> dict[str, str]:
    """account id -> intended tier, matched on the name or an alias."""
    out = {}
    for s in store.summaries():
        names = [s.name, *s.aliases]
        tier = next((t for key, t in INTENDED.items() if any(key.casefold() in n.casefold() for n in names)), None)
        assert tier, f"no intended tier for {s.name}"
        out[s.id] = tier
    return out


@pytest.fixture()
def kb(sample_kb):
    settings, store, _ = sample_kb
    return settings, store, intended_tiers(store)


def test_key_dates_at_their_offsets_and_kind_defaults(kb):
    settings, store, tiers = kb
    acme = store.find_account("Acme Industrial")
    # renewal 2027-01-10 with its own remind [60, 30, 7]
    on = due_on(store, settings, dt.date(2026, 12, 11), tiers=tiers, recipient="bob@example.com")
    renewal = [n for n in on if n.kind == "renewal"]
    assert [(n.account_id, n.due, n.days_left) for n in renewal] == [(acme, dt.date(2027, 1, 10), 30)]
    assert not [n for n in due_on(store, settings, dt.date(2026, 12, 12), tiers=tiers) if n.kind == "renewal"
                and n.account_id == acme]
    # the visit 2027-05-05 has no remind: the visit defaults (7 and 1 days before)
    visits = nudges_between(store, settings, dt.date(2027, 4, 1), dt.date(2027, 5, 31), tiers)
    acme_visits = sorted(n.remind_on for n in visits if n.kind == "visit" and n.account_id == acme)
    assert acme_visits == [dt.date(2027, 5, 4)]  # within one range only the latest step of a cycle
    days = {d for d in (dt.date(2027, 4, 28), dt.date(2027, 5, 4))
            for n in due_on(store, settings, d, tiers=tiers) if n.kind == "visit" and n.account_id == acme}
    assert days == {dt.date(2027, 4, 28), dt.date(2027, 5, 4)}
    # a settings change moves the defaults
    settings.kam_remind_visit = [3]
    assert [n.remind_on for n in due_on(store, settings, dt.date(2027, 5, 2), tiers=tiers)
            if n.kind == "visit" and n.account_id == acme] == [dt.date(2027, 5, 2)]


def test_birthdays_of_decision_makers_and_economic_buyers(kb):
    settings, store, tiers = kb
    assert settings.kam_birthday_roles == ["decision_maker", "economic_buyer"]  # the default (KAM_BIRTHDAY_ROLES)
    items = nudges_between(store, settings, dt.date(2026, 11, 23), dt.date(2027, 11, 22), tiers)
    birthdays = [n for n in items if n.kind == "birthday"]
    profiles = store.load_profiles(store.account_ids())
    expected = {(aid, c.name) for aid, p in profiles.items() for c in p.contacts
                if c.role in ("decision_maker", "economic_buyer") and c.birthday}
    assert {(n.account_id, n.contact) for n in birthdays} == expected
    assert {"陈静", "Sofia Berg"} <= {n.contact for n in birthdays}  # economic buyers, 采购决策人
    assert "Priya Nair" not in {n.contact for n in birthdays}  # an influencer
    rachel = next(n for n in birthdays if n.contact == "Rachel Tan")
    assert rachel.due == dt.date(2026, 12, 5) and rachel.remind_on == dt.date(2026, 12, 2)
    assert rachel.recipient == "dave@example.com" and rachel.days_left == 3
    assert _birthday_in(2027, 2, 29) == dt.date(2027, 2, 28) and _birthday_in(2028, 2, 29) == dt.date(2028, 2, 29)


def test_overdue_contact_fires_when_overdue_then_weekly(kb):
    settings, store, tiers = kb
    acme = store.find_account("Acme Industrial")  # strategic (45 days); last contact 2026-09-08
    became = dt.date(2026, 9, 8) + dt.timedelta(days=46)

    def overdue_on(day: dt.date) -> list[Nudge]:
        return [n for n in due_on(store, settings, day, tiers=tiers) if n.kind == "overdue_contact"
                and n.account_id == acme]

    assert not overdue_on(became - dt.timedelta(days=1))
    first = overdue_on(became)
    assert len(first) == 1 and first[0].recipient == "bob@example.com" and not first[0].escalate
    assert not overdue_on(became + dt.timedelta(days=1))
    again = overdue_on(became + dt.timedelta(days=7))
    assert again and again[0].cycle == first[0].cycle and again[0].occurrence != first[0].occurrence
    assert overdue_on(dt.date(2026, 12, 12))[0].escalate  # > 90 days
    assert not [n for n in nudges_between(store, settings, became, became, {}) if n.kind == "overdue_contact"]


def test_weekly_coverage_and_freshness(kb):
    settings, store, tiers = kb
    monday, tuesday = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
    cov = [n for n in due_on(store, settings, monday, tiers=tiers) if n.kind == "coverage_risk"]
    names = {n.account for n in cov}
    assert "Siam Meridian Auto Parts" in names  # key, single contact
    assert all(tiers[n.account_id] in ("key", "strategic") for n in cov)
    assert not [n for n in due_on(store, settings, tuesday, tiers=tiers) if n.kind in ("coverage_risk", "stale")]
    assert not [n for n in due_on(store, settings, monday, tiers={}) if n.kind == "coverage_risk"]
    assert latest_weekday(tuesday, tuesday + dt.timedelta(days=6), "mon") == dt.date(2026, 11, 30)


def test_freshness_matches_profile_quality(kb):
    settings, store, _ = kb
    today = dt.date(2026, 11, 23)
    checks = account_checks(store, settings, today)
    for aid, profile in store.load_profiles(store.account_ids()).items():
        q = quality(profile, settings.kam_required_fields, today, settings.kam_stale_days)
        assert sorted(checks[aid].stale) == sorted(q.stale), aid
        assert sorted(checks[aid].missing) == sorted(q.missing), aid


def test_batches_most_urgent_first_and_state(kb):
    settings, store, tiers = kb
    monday = dt.date(2026, 11, 30)
    mine = batches(nudges_between(store, settings, monday, monday, tiers))["dave@example.com"]
    urg = [n.urgency for n in mine]
    assert urg == sorted(urg) and len(mine) >= 2
    first = mine[0]
    key = (first.recipient, first.kind, first.subject)
    done = {key: StateView(first.cycle, "done", None, first.to_json())}
    assert first.subject not in {n.subject for n in apply_state(mine, done, monday, monday)}
    until = monday + dt.timedelta(days=1)
    snoozed = {key: StateView(first.cycle, "snoozed", until, first.to_json())}
    assert first.subject not in {n.subject for n in apply_state(mine, snoozed, monday, monday)}
    back = [n for n in apply_state([], snoozed, until, until) if n.subject == first.subject]
    assert back and back[0].resurfaced and back[0].remind_on == until and back[0].occurrence != first.occurrence
    # JSON round trip, as stored in the ledger
    assert Nudge.from_json(json.loads(json.dumps(first.to_json()))) == first


def test_nudge_message_within_slack_limits(kb):
    settings, store, tiers = kb
    items = nudges_between(store, settings, dt.date(2026, 11, 23), dt.date(2027, 3, 23), tiers)
    assert len(items) > MAX_NUDGES_PER_MESSAGE
    rows = list(enumerate(sorted(items, key=Nudge.sort_key)[:MAX_NUDGES_PER_MESSAGE], start=1))
    rows[0][1].late = True
    text, blocks = nudge_message(rows, dt.date(2026, 11, 23))
    assert_valid_blocks(blocks)
    assert text and "late" in json.dumps(blocks)
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == len(rows)
    ids = {e["action_id"].split(":")[0] for b in actions for e in b["elements"]}
    assert {"nudge_done", "nudge_snooze_1d", "nudge_snooze_1w", "nudge_reschedule"} <= ids
    with pytest.raises(ValueError):
        nudge_message(list(enumerate(items, 1)), dt.date(2026, 11, 23))


def test_digest_per_manager(kb):
    settings, store, tiers = kb
    on = dt.date(2026, 12, 28)
    mia = build_digest(store, settings, "mia@example.com", on, tiers=tiers)
    noah = build_digest(store, settings, "noah@example.com", on, tiers=tiers)
    assert mia.totals["accounts"] == 16  # alice, bob and (through noah) carol and dave
    # noah sees only carol's and dave's accounts
    assert {k.rep for k in noah.key_dates} <= {"carol@example.com", "dave@example.com"}
    assert set(noah.overdue) <= {"carol@example.com", "dave@example.com"}
    assert noah.totals["accounts"] == 8
    assert all(on <= k.date <= on + dt.timedelta(days=14) for k in mia.key_dates)
    esc = {o.account for _, o in mia.escalations}
    assert "Pacific Rim Logistics" in esc and all(o.days_since is None or o.days_since > 2 * o.cadence_days
                                                  for _, o in mia.escalations)
    assert "Siam Meridian Auto Parts" in {c.account for c in mia.coverage}
    assert "birthday" not in json.dumps(mia.to_json(), default=str).lower()
    text, blocks = digest_message(mia, late=True)
    assert_valid_blocks(blocks)
    assert "Pacific Rim Logistics" in json.dumps(blocks, ensure_ascii=False) and "late" in text


def test_digest_lists_tier_changes_since_last(kb):
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review, set_override

    settings, store, _ = kb
    review(store, load_config(config_path(settings)), by="test")
    mia = store.person("mia@example.com")
    acme = store.find_account("Acme Industrial")
    set_override(store, acme, "key", "board-level program", mia)
    today = dt.date.today()
    d = build_digest(store, settings, "mia@example.com", today, since=today - dt.timedelta(days=1))
    assert [(c.account, c.new_tier) for c in d.tier_changes if c.account_id == acme] == [("Acme Industrial", "key")]
    assert not build_digest(store, settings, "mia@example.com", today, since=today).tier_changes


def test_kam_nudges_and_digest_json_contract(kb):
    from typer.testing import CliRunner

    from cli.context import reset_context
    from cli.main import app as cli_app

    settings, store, _ = kb
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review

    review(store, load_config(config_path(settings)), by="test", today=dt.date(2026, 11, 22))
    reset_context(settings)
    try:
        runner = CliRunner()
        out = runner.invoke(cli_app, ["nudges", "--on", "2026-12-02", "--json"])
        assert out.exit_code == 0, out.output
        items = json.loads(out.stdout)
        bday = next(i for i in items if i["kind"] == "birthday")
        assert {"recipient", "kind", "account", "contact", "due"} <= set(bday)
        assert bday["contact"] == "Rachel Tan" and bday["recipient"] == "dave@example.com"
        mine = json.loads(runner.invoke(cli_app, ["nudges", "--on", "2026-12-11", "--for", "bob@example.com",
                                                  "--json"]).stdout)
        assert mine and {i["recipient"] for i in mine} == {"bob@example.com"}
        assert "renewal" in {i["kind"] for i in mine}
        bad = runner.invoke(cli_app, ["nudges", "--on", "2026-13-02"])
        assert bad.exit_code == 1 and "--on" in bad.output
        d = json.loads(runner.invoke(cli_app, ["digest", "--manager", "noah@example.com", "--on", "2026-12-28",
                                               "--json"]).stdout)
        assert {"tier_changes", "key_dates", "overdue", "coverage", "stale", "totals", "totals_line"} <= set(d)
        assert d["totals"]["accounts"] == 8
        unknown = runner.invoke(cli_app, ["digest", "--manager", "nobody@example.com"])
        assert unknown.exit_code == 1 and "nobody@example.com" in unknown.output
    finally:
        reset_context(None)


DIGEST_SECTIONS = ("tier_changes", "key_dates", "overdue", "coverage", "stale")
DIGEST_TITLES = {"tier_changes": "Tier changes since", "key_dates": "Key dates in the next",
                 "overdue": "Overdue for contact", "coverage": "Coverage risks", "stale": "Stale profiles"}


@pytest.mark.parametrize("empty", [(), ("tier_changes",), ("tier_changes", "key_dates"), ("coverage", "stale"),
                                   DIGEST_SECTIONS])
def test_empty_digest_sections_are_left_out(kb, empty, capsys, monkeypatch):
    """Slack and the console show a digest's sections that have something in them, and no empty ones."""
    from cli.context import reset_context
    from cli.schedule_cmds import digest
    from skills.digest import DigestTierChange

    settings, store, tiers = kb
    on = dt.date(2026, 12, 28)
    d = build_digest(store, settings, "mia@example.com", on, tiers=tiers)
    d.tier_changes = [DigestTierChange("acme-industrial", "Acme Industrial", "bob@example.com", "strategic", "key",
                                       dt.datetime(2026, 12, 27), "board-level program")]
    assert all(getattr(d, name) for name in DIGEST_SECTIONS)  # the sample has something in every section
    for name in empty:
        setattr(d, name, {} if name == "overdue" else [])
    _, blocks = digest_message(d)
    assert_valid_blocks(blocks)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    for name in DIGEST_SECTIONS:
        shown = [s for s in sections if s.startswith("*" + DIGEST_TITLES[name])]
        assert len(shown) == (name not in empty), (name, sections)
    assert not any(s.rstrip().endswith("nothing") for s in sections)
    assert ("Nothing needs your attention." in sections) == (len(empty) == len(DIGEST_SECTIONS))

    monkeypatch.setattr("skills.digest.build_digest", lambda *args, **kwargs: d)
    reset_context(settings)
    try:
        digest(manager="mia@example.com", on=on.isoformat(), as_json=False)
    finally:
        reset_context()
    out = capsys.readouterr().out
    for name in DIGEST_SECTIONS:
        assert (DIGEST_TITLES[name] in out) == (name not in empty), (name, out)
