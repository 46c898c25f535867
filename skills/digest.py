"""The manager digest as plain data: what happened and what is coming across everyone reporting to a manager."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from knowledge.db import AccountRow, KeyDateRow
from knowledge.settings import Settings
from knowledge.store import Store
from skills.cadence import overdue_accounts
from skills.nudges import COVERAGE_TIERS, account_checks, load_tiers, recipients_by_owner

KEY_DATE_HORIZON_DAYS = 14


@dataclass
class DigestKeyDate:
    date: dt.date
    kind: str
    title: str
    account_id: str
    account: str
    rep: str


@dataclass
class DigestOverdue:
    account_id: str
    account: str
    tier: str
    last_contact: dt.date | None
    days_since: int | None
    cadence_days: int
    escalate: bool


@dataclass
class DigestFlag:
    account_id: str
    account: str
    rep: str
    tier: str | None
    detail: str


@dataclass
class DigestTierChange:
    account_id: str
    account: str
    rep: str
    old_tier: str | None
    new_tier: str | None
    at: dt.datetime
    reason: str | None


@dataclass
class DigestAlert:
    """A competitor alert sent to one of the manager's reps (skills/rivals/watch.py)."""

    account_id: str
    account: str
    rep: str
    title: str
    detail: str
    on: dt.date  # the rep's batch day
    alert: dict[str, Any] = field(default_factory=dict)  # what changed, from what to what, since when, sources


@dataclass
class Digest:
    manager: str
    on: dt.date
    since: dt.date  # tier changes after this day (the last digest)
    reps: list[str]
    tier_changes: list[DigestTierChange] = field(default_factory=list)
    key_dates: list[DigestKeyDate] = field(default_factory=list)
    overdue: dict[str, list[DigestOverdue]] = field(default_factory=dict)  # per rep, most overdue first
    coverage: list[DigestFlag] = field(default_factory=list)
    stale: list[DigestFlag] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    case_escalations: list[Any] = field(default_factory=list)  # skills.cases.Escalation, new since the last digest
    competitor: list[DigestAlert] = field(default_factory=list)  # competitor alerts since the last digest
    kpis: dict[str, Any] = field(default_factory=dict)  # the team's KPIs (skills/kpis.py KpiSet.to_json())
    kpi_period_days: int = 0

    @property
    def escalations(self) -> list[tuple[str, DigestOverdue]]:
        return [(rep, o) for rep, items in self.overdue.items() for o in items if o.escalate]

    def totals_line(self) -> str:
        t = self.totals
        return (f"{t['accounts']} accounts, {t['reps']} reps: {t['tier_changes']} tier changes, "
                f"{t['key_dates']} key dates in {KEY_DATE_HORIZON_DAYS} days, {t['overdue']} overdue "
                f"({t['escalations']} escalated), {t['coverage_risks']} coverage risks, {t['stale']} stale profiles"
                + (f", {t['case_escalations']} service cases escalated" if t.get("case_escalations") else "")
                + (f", {t['competitor_alerts']} competitor alerts" if t.get("competitor_alerts") else ""))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["totals_line"] = self.totals_line()
        return data


def tier_changes_since(store: Store, since: dt.date, account_ids: set[str]) -> list[tuple[str, str | None,
                                                                                         str | None, dt.datetime,
                                                                                         str | None]]:
    """(account id, old, new, at, reason) from the tiering history after `since`; none without tiering."""
    try:
        from skills.tiering.models import TierHistoryRow
    except ImportError:
        return []
    start = dt.datetime.combine(since + dt.timedelta(days=1), dt.time())
    t = TierHistoryRow
    with store.session() as s:
        rows = s.execute(select(t.account_id, t.old_tier, t.new_tier, t.at, t.reason)
                         .where(t.at >= start, t.old_tier.is_not(None), t.old_tier != t.new_tier)
                         .order_by(t.id)).all()
    return [tuple(r) for r in rows if r[0] in account_ids]  # type: ignore[misc]


def build_digest(store: Store, settings: Settings, manager: str, on: dt.date, since: dt.date | None = None,
                 tiers: dict[str, str] | None = None) -> Digest:
    """The digest for one manager on one (local) day; `since` defaults to a week earlier."""
    manager = manager.lower()
    since = since or on - dt.timedelta(days=7)
    tiers = load_tiers(store) if tiers is None else tiers
    people = store.people()
    by_owner = recipients_by_owner(people)
    reps = [p.email for p in store.reports_of(manager)]
    rep_set = set(reps)
    with store.session() as s:
        accounts = {}
        for aid, name, owner in s.execute(select(AccountRow.id, AccountRow.name, AccountRow.owner)):
            person = by_owner.get(owner) or by_owner.get(owner.lower())
            rep = person.email if person else owner
            if rep in rep_set:
                accounts[aid] = (name, rep)
        ids = set(accounts)
        horizon = on + dt.timedelta(days=KEY_DATE_HORIZON_DAYS)
        kd_rows = s.execute(select(KeyDateRow.account_id, KeyDateRow.date, KeyDateRow.kind, KeyDateRow.title)
                            .where(KeyDateRow.date >= on, KeyDateRow.date <= horizon)
                            .order_by(KeyDateRow.date)).all()
    d = Digest(manager=manager, on=on, since=since, reps=sorted({r for _, r in accounts.values()} | rep_set))
    for aid, old, new, at, reason in tier_changes_since(store, since, ids):
        d.tier_changes.append(DigestTierChange(aid, accounts[aid][0], accounts[aid][1], old, new, at, reason))
    d.key_dates = [DigestKeyDate(date, kind, title, aid, accounts[aid][0], accounts[aid][1])
                   for aid, date, kind, title in kd_rows if aid in accounts]
    for o in overdue_accounts(store, settings, tiers, on, ids):
        d.overdue.setdefault(accounts[o.account_id][1], []).append(
            DigestOverdue(o.account_id, o.account, o.tier, o.last_contact, o.days_since, o.cadence_days, o.escalate))
    for aid, c in sorted(account_checks(store, settings, on, ids).items(), key=lambda kv: accounts[kv[0]][0]):
        name, rep = accounts[aid]
        tier = tiers.get(aid)
        reasons = c.coverage_reasons(settings.kam_coverage_min_contacts) if tier in COVERAGE_TIERS else []
        if reasons:
            d.coverage.append(DigestFlag(aid, name, rep, tier, "; ".join(reasons)))
        if c.stale or c.missing:
            parts = ([f"stale: {', '.join(c.stale)}"] if c.stale else []) + \
                    ([f"{len(c.missing)} required fields empty"] if c.missing else [])
            d.stale.append(DigestFlag(aid, name, rep, tier, "; ".join(parts)))
    d.competitor = competitor_digest(store, settings, since, on, accounts, tiers)
    from skills.kpis import compute

    d.kpi_period_days = settings.kam_kpi_period_days
    d.kpis = compute(store, settings, end=on, period_days=d.kpi_period_days, manager=manager,
                     tiers=tiers).total.to_json()
    n_overdue = sum(len(v) for v in d.overdue.values())
    d.case_escalations, cases_escalated = _case_escalations(store, settings, ids, since, on,
                                                             store.person(manager), tiers)
    d.totals = {"accounts": len(accounts), "reps": len(d.reps), "tier_changes": len(d.tier_changes),
                "key_dates": len(d.key_dates), "overdue": n_overdue, "escalations": len(d.escalations),
                "coverage_risks": len(d.coverage), "stale": len(d.stale),
                "case_escalations": len(d.case_escalations), "cases_escalated_open": cases_escalated,
                "competitor_alerts": len(d.competitor)}
    return d


def _case_escalations(store: Store, settings: Settings, ids: set[str], since: dt.date, on: dt.date,
                      manager: Any, tiers: dict[str, str]) -> tuple[list[Any], int]:
    """Service cases that went past twice their target from the start of `since` to the start of `on` (the
    manager's local days: consecutive digests share the boundary, so each is listed once), and how many running
    cases are past it in all; none without the cases feature."""
    try:
        from skills.cases import escalations
    except ImportError:
        return [], 0
    from scheduler.clock import zone_of

    zone = zone_of(manager, settings)
    start = dt.datetime.combine(since, dt.time(), zone)
    end = dt.datetime.combine(on, dt.time(), zone)
    return escalations(store, settings, ids, start, end, tiers)


def competitor_digest(store: Store, settings: Settings, since: dt.date, on: dt.date,
                      accounts: dict[str, tuple[str, str]], tiers: dict[str, str]) -> list[DigestAlert]:
    """The competitor alerts of the reps' batches after `since` through `on` (the same alerts they were sent)."""
    from skills.rivals.nudging import competitor_nudges

    found = competitor_nudges(store, settings, since + dt.timedelta(days=1), on, accounts, tiers)
    return [DigestAlert(n.account_id, n.account, n.recipient, n.title, n.detail, n.remind_on, n.extra)
            for n in sorted(found, key=lambda n: (n.remind_on, n.account.casefold(), n.subject))]
