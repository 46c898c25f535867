"""KAM KPIs on the sample accounts, checked against values worked out by hand from examples/accounts/*.yaml.

The day is 2026-11-29 with the default settings: cadence 30 days for key and 45 for strategic accounts, at least 2
contacts with a decision maker or economic buyer, 12 required fields, a dimension is stale after 180 days.
Tiers are those of a real tier review of the samples (listed below), read from the store.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import update

from scheduler import ledger
from scheduler.clock import ManualClock
from scheduler.jobs import Jobs, build_scheduler
from skills.kpi_snapshots import snapshots, take_snapshots
from skills.kpis import PeriodError, ScopeError, compute, fmt, parse_period
from tests.conftest import ROOT, backend_env

DAY = dt.date(2026, 11, 29)
# the tiers the review gives the samples (checked below, so the hand computations rest on them)
TIERS = {
    "hanshan-packaging-co": "key", "jiang-nan-ru-ye-gu-fen-you-xian-gong-si": "key",
    "borealis-beverage-group": "key", "siam-meridian-auto-parts": "key",
    "kang-yuan-zhi-yao-ji-tuan": "strategic", "acme-industrial": "strategic", "helvetia-pharma-ag": "strategic",
    "pacific-rim-logistics": "strategic",
}


@pytest.fixture()
def kb(sample_kb):
    from skills.tiering.config import config_path, load_config
    from skills.tiering.current import current_tiers
    from skills.tiering.history import review

    settings, store, _ = sample_kb
    review(store, load_config(config_path(settings)), by="test", today=DAY)
    tiers = current_tiers(store, DAY)
    assert {aid: t for aid, t in tiers.items() if t in ("key", "strategic")} == TIERS
    return settings, store


def test_state_kpis_per_rep_match_the_hand_computed_values(kb):
    settings, store = kb
    report = compute(store, settings, end=DAY, manager="mia@example.com")
    assert report.scope == "team" and report.start == dt.date(2026, 9, 1) and report.period_days == 90
    by_rep = {r.rep: r.kpis for r in report.reps}
    # frank (no accounts) has no row; bob's Cascade Labels is owned by his Slack id U0BOB00001 and counts as his
    assert sorted(by_rep) == ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]

    alice = by_rep["alice@example.com"]
    # Hanshan (key) last contact 11-12: 17 days <= 30; Jiangnan (key) 11-18: 11 days; Kangyuan (strategic) 08-14:
    # 107 days > 45
    assert (alice.cadence.num, alice.cadence.den) == (2, 3)
    assert (alice.multithreading.num, alice.multithreading.den) == (3, 3)  # 3 contacts each, a decision maker
    assert (alice.completeness.num, alice.completeness.den) == (47, 48)  # Tianfu lacks a decision maker
    assert (alice.freshness.num, alice.freshness.den) == (21, 24)  # Kangyuan: background, organisation, competitors
    # key accounts Hanshan 4.2M at +14% and Jiangnan 3.6M at +18%: 7.8M against 4.2/1.14 + 3.6/1.18 = 6.735M
    assert alice.revenue_growth.value == pytest.approx(7.8e6 / (4.2e6 / 1.14 + 3.6e6 / 1.18) - 1)
    assert alice.revenue_growth.accounts == 2

    bob = by_rep["bob@example.com"]
    assert bob.accounts == 4 and bob.covered_accounts == 1
    assert (bob.cadence.num, bob.cadence.den) == (0, 1)  # Acme (strategic) last contact 09-08: 82 days
    assert (bob.completeness.num, bob.completeness.den) == (45, 48)  # Lakeside: 3 fields empty
    assert (bob.freshness.num, bob.freshness.den) == (14, 24)  # Acme 4 stale, Lakeside all 6
    assert bob.revenue_growth.value is None  # no key account

    carol = by_rep["carol@example.com"]
    assert (carol.cadence.num, carol.cadence.den) == (1, 2)  # Borealis 24 days ok, Helvetia 68 days late
    assert (carol.completeness.num, carol.completeness.den) == (43, 48)
    assert (carol.freshness.num, carol.freshness.den) == (15, 24)
    assert carol.revenue_growth.value == pytest.approx(0.09)

    dave = by_rep["dave@example.com"]
    assert (dave.cadence.num, dave.cadence.den) == (0, 2)  # Siam (key) 10-28: 32 days > 30; Pacific Rim 06-10
    assert (dave.multithreading.num, dave.multithreading.den) == (1, 2)  # Siam: one contact, no decision maker
    assert (dave.freshness.num, dave.freshness.den) == (18, 24)

    total = report.total  # pooled parts, not an average of percentages
    assert (total.cadence.num, total.cadence.den) == (3, 8)
    assert (total.multithreading.num, total.multithreading.den) == (7, 8)
    assert (total.completeness.num, total.completeness.den) == (182, 192)
    assert (total.freshness.num, total.freshness.den) == (68, 96)
    previous = 4.2e6 / 1.14 + 3.6e6 / 1.18 + 5.1e6 / 1.09 + 2.9e6 / 1.21
    assert total.revenue_growth.value == pytest.approx(15.8e6 / previous - 1)
    data = report.to_json()
    assert data["total"]["cadence"] == {"value": 0.375, "num": 3, "den": 8}
    assert data["total"]["service"] == {"value": None, "within_target": 0, "closed": 0, "note": "no cases yet"}

    noah = compute(store, settings, end=DAY, manager="noah@example.com")
    assert [r.rep for r in noah.reps] == ["carol@example.com", "dave@example.com"]  # erin owns nothing
    # a cadence measured at the period's end: on 10-31 Kangyuan's 08-14 contact was 78 days old, still late,
    # and Hanshan's latest contact was 10-02 (29 days: in time)
    earlier = compute(store, settings, end=dt.date(2026, 10, 31), rep="alice@example.com")
    assert (earlier.total.cadence.num, earlier.total.cadence.den) == (2, 3)


def _nudge(store, recipient: str, kind: str, account: str, due: dt.date, offsets: list[int]) -> tuple[str, str]:
    subject = f"kd:{account}:{due.isoformat()}:{kind}:abc"
    token = ledger.new_claim_token()
    for off in offsets:
        payload = {"recipient": recipient, "kind": kind, "subject": subject, "cycle": due.isoformat(),
                   "due": due.isoformat(), "account_id": account}
        [claimed] = ledger.claim(store, [(ledger.Key(kind, subject, f"{due.isoformat()}/-{off}d", recipient),
                                          payload, False, due - dt.timedelta(days=off))], token)
        ledger.mark_sent(store, [claimed.id], "D1", f"1.{off}")
    return subject, due.isoformat()


def _decide(store, recipient: str, kind: str, subject: str, cycle: str, status: str, on: dt.date) -> None:
    ledger.set_state(store, {"recipient": recipient, "kind": kind, "subject": subject, "cycle": cycle}, status,
                     on + dt.timedelta(days=3) if status == "snoozed" else None, recipient)
    with store.session() as s:  # when the rep clicked
        s.execute(update(ledger.NudgeStateRow).where(ledger.NudgeStateRow.subject == subject)
                  .values(updated_at=dt.datetime.combine(on, dt.time(9))))


def test_key_date_follow_through_counts_each_date_once_by_what_the_rep_did(kb):
    settings, store = kb
    alice, bob = "alice@example.com", "bob@example.com"
    s1 = _nudge(store, alice, "renewal", "hanshan-packaging-co", dt.date(2026, 11, 20), [30, 7])  # two reminders
    _decide(store, alice, "renewal", *s1, "done", dt.date(2026, 11, 18))  # done before the date
    s2 = _nudge(store, alice, "review", "hanshan-packaging-co", dt.date(2026, 10, 10), [14])
    _decide(store, alice, "review", *s2, "done", dt.date(2026, 10, 12))  # done, but after the date
    s3 = _nudge(store, alice, "visit", "kang-yuan-zhi-yao-ji-tuan", dt.date(2026, 11, 25), [7])
    _decide(store, alice, "visit", *s3, "snoozed", dt.date(2026, 11, 20))
    _nudge(store, alice, "other", "hanshan-packaging-co", dt.date(2026, 9, 15), [7])  # ignored
    _nudge(store, alice, "renewal", "hanshan-packaging-co", dt.date(2026, 12, 20), [30])  # not yet due: not counted
    _nudge(store, alice, "birthday", "hanshan-packaging-co", dt.date(2026, 11, 1), [3])  # not a key date
    _nudge(store, alice, "review", "hanshan-packaging-co", dt.date(2026, 8, 20), [14])  # before the period
    s4 = _nudge(store, bob, "anniversary", "acme-industrial", dt.date(2026, 10, 5), [7])
    _decide(store, bob, "anniversary", *s4, "done", dt.date(2026, 10, 1))

    report = compute(store, settings, end=DAY, manager="mia@example.com")
    by_rep = {r.rep: r.kpis.follow_through for r in report.reps}
    assert by_rep[alice].to_json() == {"value": 0.25, "done": 1, "done_late": 1, "snoozed": 1, "ignored": 1,
                                       "total": 4}
    assert by_rep[bob].to_json()["value"] == 1.0
    assert report.total.follow_through.to_json()["value"] == 0.4  # 2 of 5
    assert by_rep["carol@example.com"].value is None  # nothing came up: no figure rather than 0%


def test_tier_movement_counts_upgrades_and_downgrades_inside_the_period(kb):
    from skills.tiering.history import set_override

    settings, store = kb
    mia = store.person("mia@example.com")
    at = dt.datetime(2026, 10, 1, 9)
    set_override(store, "hanshan-packaging-co", "strategic", "lost the frame agreement", mia, today=at.date(), now=at)
    at = dt.datetime(2026, 11, 1, 9)
    set_override(store, "si-chuan-tian-fu-jing-xi-hua-gong-you-xian-gong-si", "maintenance", "new plant", mia,
                 today=at.date(), now=at)
    at = dt.datetime(2026, 8, 1, 9)  # before the period's first day (09-01): not counted
    set_override(store, "kang-yuan-zhi-yao-ji-tuan", "key", "board sponsor", mia, today=at.date(), now=at)
    alice = compute(store, settings, end=DAY, rep="alice@example.com").total.tier_movement
    assert (alice.upgrades, alice.downgrades, alice.value) == (1, 1, 0)
    longer = compute(store, settings, end=DAY, rep="alice@example.com", period_days=150).total.tier_movement
    assert (longer.upgrades, longer.downgrades) == (2, 1)


def test_service_kpi_counts_cases_resolved_within_their_target(kb):
    from knowledge.db import AccountRow
    from skills.cases import act, open_case

    settings, store = kb
    assert compute(store, settings, end=DAY).total.service.to_json()["note"] == "no cases yet"

    def case(account_id: str, opened: str, resolved: str | None, reopened: str | None = None) -> None:
        with store.session() as s:
            owner = store.person(s.get(AccountRow, account_id).owner)
        at = dt.datetime.fromisoformat(opened).replace(tzinfo=dt.UTC)
        c = open_case(store, settings, account_id, "labels peel off", owner, now=at)
        for when, action in ((resolved, "resolve"), (reopened, "reopen")):
            if when:
                act(store, settings, c.id, action, owner, now=dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC))

    case("hanshan-packaging-co", "2026-10-01 08:00", "2026-10-01 09:00")  # key: well within 3 business days
    case("hanshan-packaging-co", "2026-10-01 08:00", "2026-11-20 08:00")  # seven weeks: past any target
    case("hanshan-packaging-co", "2026-10-01 08:00", "2026-10-01 09:00", "2026-10-05 08:00")  # reopened: not resolved
    case("kang-yuan-zhi-yao-ji-tuan", "2026-11-01 08:00", None)  # still open
    case("acme-industrial", "2026-05-01 08:00", "2026-05-01 10:00")  # resolved before the period
    report = compute(store, settings, end=DAY, manager="mia@example.com")
    by_rep = {r.rep: r.kpis.service.to_json() for r in report.reps}
    assert by_rep["alice@example.com"] == {"value": 0.5, "within_target": 1, "closed": 2, "note": None}
    assert by_rep["bob@example.com"]["note"] == "no cases closed in the period"
    alice = next(r for r in report.reps if r.rep == "alice@example.com")
    assert fmt(alice.kpis, "service") == "50% (1/2)"  # as the digest and the Home tab show it


def test_period_and_scope_errors_name_the_option(kb):
    settings, store = kb
    assert parse_period("90d") == 90 and parse_period("12w") == 84 and parse_period("30") == 30
    for bad in ("ninety", "0d", "-3d", "90m"):
        with pytest.raises(PeriodError, match="--period"):
            parse_period(bad)
    with pytest.raises(ScopeError, match="--rep"):
        compute(store, settings, end=DAY, rep="nobody@example.com")
    with pytest.raises(ScopeError, match="not both"):
        compute(store, settings, end=DAY, rep="alice@example.com", manager="mia@example.com")


def test_weekly_snapshots_pool_like_the_live_report_and_feed_the_trend(kb):
    from skills.charts import kpi_trend_data

    settings, store = kb
    week_ago = DAY - dt.timedelta(days=7)
    assert take_snapshots(store, settings, week_ago) == 1 + 4 + 2  # everyone, 4 reps, mia's and noah's teams
    assert take_snapshots(store, settings, week_ago) == 7  # the same week again replaces, never duplicates
    [team] = snapshots(store, "team", ["mia@example.com"], week_ago, week_ago, 90)
    live = compute(store, settings, end=week_ago, manager="mia@example.com")
    assert team.kpis.to_json() == live.total.to_json() and team.week == "2026-W47"
    # a contact logged afterwards, dated in that week: the stored week keeps what was known then
    store.add_interaction("kang-yuan-zhi-yao-ji-tuan", "call", dt.date(2026, 11, 20), "alice@example.com", "call")
    trend = kpi_trend_data(store, settings, end=DAY, rep="alice@example.com", weeks=3)
    [points] = trend.series.values()
    assert [p.week_end for p in points] == [DAY - dt.timedelta(days=14), week_ago, DAY]
    assert [p.reconstructed for p in points] == [True, False, False]
    assert points[1].kpis.cadence.num == 2  # the snapshot, before the new contact
    assert points[2].kpis.cadence.num == 3  # live: Kangyuan contacted 9 days ago


def test_scheduler_takes_the_weekly_snapshot_once_a_week(kb):
    from bot.notifier import ConsoleNotifier

    settings, store = kb
    monday = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    jobs = Jobs(store, settings, ConsoleNotifier(echo=False), ManualClock(monday))
    sched = build_scheduler(jobs)
    trigger = {j.id: j for j in sched.get_jobs()}["kpi_snapshots"].trigger
    assert "day_of_week='mon'" in str(trigger)
    # the first run on a deployment also stores the 11 weeks before, reconstructed, for the trend charts
    assert jobs.kpi_snapshots(only_if_missing=True) == 7 * 12
    assert jobs.kpi_snapshots(only_if_missing=True) == 0  # a restart in the same week: already taken
    [this_week] = snapshots(store, "all", None, monday.date(), monday.date(), 90)
    assert not this_week.reconstructed
    past = snapshots(store, "all", None, monday.date() - dt.timedelta(days=77), monday.date() - dt.timedelta(days=1),
                     90)
    assert len(past) == 11 and all(p.reconstructed for p in past)
    jobs.clock = ManualClock(monday + dt.timedelta(days=7))
    assert jobs.kpi_snapshots() == 7  # the next week: that week only


def _kam(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAM_HOME": str(home), "COLUMNS": "200", **backend_env(home)}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_json_contract_chart_and_clear_errors(kb, tmp_path):
    settings, store = kb
    home = settings.kam_home
    out = _kam(home, "kpis", "--manager", "mia@example.com", "--on", DAY.isoformat(), "--json", "--chart",
               str(tmp_path / "trend.png"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["scope"] == "team" and data["subject"] == "mia@example.com"
    assert data["period"] == {"days": 90, "start": "2026-09-01", "end": "2026-11-29"}
    assert data["total"]["cadence"]["value"] == 0.375 and data["total"]["multithreading"]["value"] == 0.875
    assert [r["rep"] for r in data["reps"]] == ["alice@example.com", "bob@example.com", "carol@example.com",
                                                "dave@example.com"]
    assert (tmp_path / "trend.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and data["chart"].endswith("trend.png")

    plain = _kam(home, "kpis", "--rep", "alice@example.com", "--on", DAY.isoformat(), "--period", "12w")
    assert plain.returncode == 0 and "Contact-cadence compliance" in plain.stdout and "67% (2/3)" in plain.stdout
    for args, message in ((("--period", "ninety"), "--period must be a number"),
                          (("--rep", "nobody@example.com"), "--rep: no person"),
                          (("--chart", str(tmp_path / "trend.jpg")), "--chart must name a .png")):
        bad = _kam(home, "kpis", *args)
        assert bad.returncode == 1 and message in bad.stderr and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


def test_quality_counted_in_sql_agrees_with_the_profile_rules(kb):
    """skills/kpi_quality.py counts in SQL what skills.nudges.account_checks (knowledge.quality's rules) counts in
    Python: the same filled fields, fresh dimensions, contacts and decision makers for every sample account, also
    with other required fields (nested, a contact role, a top-level field)."""
    from knowledge.profile import DIMENSIONS
    from skills.kpi_quality import quality_counts
    from skills.nudges import account_checks
    from tests.conftest import make_settings

    settings, store = kb
    other = make_settings(settings.kam_home, kam_required_fields="region,finance.summary,competitors.summary,"
                                                                 "contacts.champion,contacts,suppliers.items",
                          kam_stale_days=60)
    ids = set(store.account_ids())
    for s in (settings, other):
        fast = quality_counts(store, s, DAY, ids)
        slow = account_checks(store, s, DAY, ids)
        for aid in ids:
            got, want = fast[aid], slow[aid]
            assert got.filled == len(s.kam_required_fields) - len(want.missing), (aid, want.missing)
            assert got.fresh == len(DIMENSIONS) - len(want.stale), (aid, want.stale)
            assert (got.contacts, got.has_decider) == (want.contacts, want.has_decision_maker), aid
