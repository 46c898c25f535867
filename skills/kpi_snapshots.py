"""Weekly KPI snapshots: what `kam kpis` reported for each rep, each manager's team and everyone, once per ISO week,
so trends exist (taken by the scheduler on the weekly day, and on demand with `kam kpis snapshot`).

A snapshot keeps the KPI parts (numerators, denominators, counts), not only the rounded values, so it can be
pooled again. Taking one twice in a week replaces that week's row: the latest figures of the week win.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.db import Base, upsert, utcnow
from knowledge.settings import Settings
from knowledge.store import Store
from skills.kpis import KpiSet, compute
from skills.nudges import iso_week, load_tiers

EVERYONE = "*"  # the subject of the all-accounts snapshot
BACKFILL_WEEKS = 11  # with this week's, the 12 weeks a trend chart shows


class KpiSnapshotRow(Base):
    __tablename__ = "kpi_snapshots"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    week: Mapped[str] = mapped_column(String(10))  # ISO week of `taken_on`, e.g. 2026-W48
    taken_on: Mapped[dt.date] = mapped_column(Date, index=True)  # the period's last day
    scope: Mapped[str] = mapped_column(String(8))  # rep | team | all
    subject: Mapped[str] = mapped_column(String(320))  # the rep's or manager's email; "*" for everyone
    period_days: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # KpiSet.to_json()
    reconstructed: Mapped[bool] = mapped_column(Boolean, default=False)  # computed later for a past week
    taken_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("week", "scope", "subject", "period_days", name="uq_kpi_snapshot"),)


@dataclass
class Snapshot:
    week: str
    taken_on: dt.date
    scope: str
    subject: str
    period_days: int
    kpis: KpiSet
    reconstructed: bool


def take_snapshots(store: Store, settings: Settings, on: dt.date, *, period_days: int | None = None,
                   reconstructed: bool = False) -> int:
    """Snapshot every rep with accounts, every manager's team and everyone as of `on`; returns rows written."""
    period = period_days or settings.kam_kpi_period_days
    tiers = load_tiers(store)
    everyone = compute(store, settings, end=on, period_days=period, tiers=tiers)
    rows = [_row(on, "all", EVERYONE, period, everyone.total, reconstructed)]
    rows += [_row(on, "rep", r.rep, period, r.kpis, reconstructed) for r in everyone.reps]
    by_rep = {r.rep: r.kpis for r in everyone.reps}
    people = store.people()
    managers = {p.manager for p in people if p.manager} | {p.email for p in people if p.role == "manager"}
    for manager in sorted(managers):
        if store.person(manager) is None:
            continue
        team = KpiSet()
        for member in [manager] + [p.email for p in store.reports_of(manager)]:
            if member in by_rep:  # pooled from the reps' parts: the same figure `kam kpis --manager` reports
                team.add(by_rep[member])
        rows.append(_row(on, "team", manager, period, team, reconstructed))
    with store.session() as s:
        upsert(s, KpiSnapshotRow, rows, ["week", "scope", "subject", "period_days"])
    return len(rows)


def _row(on: dt.date, scope: str, subject: str, period: int, kpis: KpiSet, reconstructed: bool) -> dict[str, Any]:
    return {"week": iso_week(on), "taken_on": on, "scope": scope, "subject": subject, "period_days": period,
            "data": kpis.to_json(), "reconstructed": reconstructed, "taken_at": utcnow()}


def week_ends(end: dt.date, weeks: int) -> list[dt.date]:
    """The last `weeks` week days ending on `end`, oldest first (one a week, on end's weekday)."""
    return [end - dt.timedelta(days=7 * i) for i in range(weeks - 1, -1, -1)]


def snapshots(store: Store, scope: str, subjects: list[str] | None, since: dt.date, until: dt.date,
              period_days: int) -> list[Snapshot]:
    """Stored snapshots of a scope (some subjects, or all) between two days, oldest first."""
    t = KpiSnapshotRow
    q = select(t).where(t.scope == scope, t.period_days == period_days, t.taken_on >= since, t.taken_on <= until)
    if subjects is not None:
        q = q.where(t.subject.in_(subjects))
    with store.session() as s:
        rows = list(s.scalars(q.order_by(t.taken_on, t.subject)))
    return [Snapshot(r.week, r.taken_on, r.scope, r.subject, r.period_days, KpiSet.from_json(r.data or {}),
                     bool(r.reconstructed)) for r in rows]


def this_week_taken(store: Store, on: dt.date, period_days: int) -> bool:
    t = KpiSnapshotRow
    with store.session() as s:
        return s.scalar(select(t.id).where(t.week == iso_week(on), t.scope == "all",
                                           t.period_days == period_days).limit(1)) is not None


def backfill(store: Store, settings: Settings, day: dt.date, weeks: int, period_days: int | None = None) -> dict[str,
                                                                                                                int]:
    """Snapshots for the `weeks` weeks before `day` that have none, computed from the dated records and marked
    reconstructed; returns {day: rows written}."""
    period = period_days or settings.kam_kpi_period_days
    t = KpiSnapshotRow
    with store.session() as s:
        have = set(s.scalars(select(t.week).where(t.scope == "all", t.period_days == period)))
    written = {}
    for i in range(1, weeks + 1):
        past = day - dt.timedelta(days=7 * i)
        if iso_week(past) not in have:
            written[past.isoformat()] = take_snapshots(store, settings, past, period_days=period, reconstructed=True)
    return written


def any_taken(store: Store, period_days: int) -> bool:
    t = KpiSnapshotRow
    with store.session() as s:
        return s.scalar(select(t.id).where(t.period_days == period_days).limit(1)) is not None
