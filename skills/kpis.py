"""KAM KPIs per rep and per manager's team over a period, from what the store holds (docs/kpis.md defines each).

Plain data only. Every KPI is a ratio or a count kept with its parts (numerator, denominator, the counts behind
it), so a team's figure pools its reps' parts instead of averaging their percentages, and a stored snapshot can
be pooled again later. KPIs about a state (cadence, coverage, completeness, freshness) are taken at the period's
last day; KPIs about events (follow-through, service, tier moves) count the events inside the period.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from knowledge.db import AccountRow, InteractionRow, MetricsRow, YearlyRevenueRow
from knowledge.profile import DIMENSIONS, Person
from knowledge.settings import Settings
from knowledge.store import Store
from skills.kpi_quality import quality_counts
from skills.nudges import load_tiers, recipients_by_owner

DATA_FILE = Path(__file__).with_name("kpis.yaml")
DEFAULT_PERIOD_DAYS = 90
_PERIOD = re.compile(r"^\s*(\d{1,4})\s*([dw]?)\s*$", re.IGNORECASE)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    """kpis.yaml: KPI labels, the tier order, which tiers each KPI looks at."""
    return yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))


def kpi_names() -> list[str]:
    return list(vocabulary()["kpis"])


def label(kpi: str, short: bool = False) -> str:
    entry = vocabulary()["kpis"][kpi]
    return str(entry["short" if short else "label"])


class PeriodError(ValueError):
    """A --period that is not a number of days or weeks."""


def parse_period(text: str | int | None) -> int:
    """"90d", "12w", "90" -> days (1..3660)."""
    if text is None or text == "":
        return DEFAULT_PERIOD_DAYS
    m = _PERIOD.match(str(text))
    if not m:
        raise PeriodError(f"--period must be a number of days or weeks such as 90d or 12w, got {text!r}")
    days = int(m.group(1)) * (7 if m.group(2).lower() == "w" else 1)
    if not 1 <= days <= 3660:
        raise PeriodError(f"--period must be between 1 day and 10 years, got {text!r}")
    return days


# ------------------------------------------------------------------------------------------------ the figures
@dataclass
class Ratio:
    num: int = 0
    den: int = 0

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None

    def add(self, other: Ratio) -> None:
        self.num += other.num
        self.den += other.den

    def to_json(self) -> dict[str, Any]:
        return {"value": _round(self.value), "num": self.num, "den": self.den}


@dataclass
class FollowThrough:
    """Key dates that came up in the period, by what the rep did with their nudges."""

    done: int = 0  # marked done on or before the date
    done_late: int = 0  # marked done after the date
    snoozed: int = 0  # last left snoozed
    ignored: int = 0  # nothing done

    @property
    def total(self) -> int:
        return self.done + self.done_late + self.snoozed + self.ignored

    @property
    def value(self) -> float | None:
        return self.done / self.total if self.total else None

    def add(self, other: FollowThrough) -> None:
        self.done += other.done
        self.done_late += other.done_late
        self.snoozed += other.snoozed
        self.ignored += other.ignored

    def to_json(self) -> dict[str, Any]:
        return {"value": _round(self.value), "done": self.done, "done_late": self.done_late,
                "snoozed": self.snoozed, "ignored": self.ignored, "total": self.total}


@dataclass
class Service:
    within_target: int = 0
    closed: int = 0
    available: bool = False  # False: no case data on this deployment (null, "no cases yet")

    @property
    def value(self) -> float | None:
        return self.within_target / self.closed if self.available and self.closed else None

    def add(self, other: Service) -> None:
        self.within_target += other.within_target
        self.closed += other.closed
        self.available = self.available or other.available

    def to_json(self) -> dict[str, Any]:
        note = None if self.closed else ("no cases yet" if not self.available else "no cases closed in the period")
        return {"value": _round(self.value), "within_target": self.within_target, "closed": self.closed,
                "note": note}


@dataclass
class TierMoves:
    upgrades: int = 0
    downgrades: int = 0

    @property
    def value(self) -> int:
        return self.upgrades - self.downgrades

    def add(self, other: TierMoves) -> None:
        self.upgrades += other.upgrades
        self.downgrades += other.downgrades

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "upgrades": self.upgrades, "downgrades": self.downgrades}


@dataclass
class Growth:
    current: float = 0.0  # revenue of the key accounts, latest year
    previous: float = 0.0  # the same accounts, the year before
    accounts: int = 0  # key accounts with both figures

    @property
    def value(self) -> float | None:
        return self.current / self.previous - 1 if self.previous > 0 else None

    def add(self, other: Growth) -> None:
        self.current += other.current
        self.previous += other.previous
        self.accounts += other.accounts

    def to_json(self) -> dict[str, Any]:
        return {"value": _round(self.value), "current": round(self.current, 2), "previous": round(self.previous, 2),
                "accounts": self.accounts}


@dataclass
class KpiSet:
    accounts: int = 0
    covered_accounts: int = 0  # in the covered tiers (key, strategic)
    cadence: Ratio = field(default_factory=Ratio)
    multithreading: Ratio = field(default_factory=Ratio)
    completeness: Ratio = field(default_factory=Ratio)
    freshness: Ratio = field(default_factory=Ratio)
    follow_through: FollowThrough = field(default_factory=FollowThrough)
    service: Service = field(default_factory=Service)
    tier_movement: TierMoves = field(default_factory=TierMoves)
    revenue_growth: Growth = field(default_factory=Growth)

    def add(self, other: KpiSet) -> None:
        self.accounts += other.accounts
        self.covered_accounts += other.covered_accounts
        for name in kpi_names():
            getattr(self, name).add(getattr(other, name))

    def value(self, kpi: str) -> float | int | None:
        return getattr(self, kpi).value

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"accounts": self.accounts, "covered_accounts": self.covered_accounts}
        for name in kpi_names():
            out[name] = getattr(self, name).to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KpiSet:
        """Back from a snapshot's JSON (the parts, not the rounded values)."""
        k = cls(accounts=int(data.get("accounts", 0)), covered_accounts=int(data.get("covered_accounts", 0)))
        for name in ("cadence", "multithreading", "completeness", "freshness"):
            part = data.get(name) or {}
            setattr(k, name, Ratio(int(part.get("num", 0)), int(part.get("den", 0))))
        ft = data.get("follow_through") or {}
        k.follow_through = FollowThrough(*(int(ft.get(x, 0)) for x in ("done", "done_late", "snoozed", "ignored")))
        sv = data.get("service") or {}
        k.service = Service(int(sv.get("within_target", 0)), int(sv.get("closed", 0)), sv.get("note") != "no cases yet")
        tm = data.get("tier_movement") or {}
        k.tier_movement = TierMoves(int(tm.get("upgrades", 0)), int(tm.get("downgrades", 0)))
        g = data.get("revenue_growth") or {}
        k.revenue_growth = Growth(float(g.get("current", 0)), float(g.get("previous", 0)), int(g.get("accounts", 0)))
        return k


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


@dataclass
class RepKpis:
    rep: str  # email (or the owner id as given, for owners not in people.yaml)
    name: str | None
    kpis: KpiSet

    def to_json(self) -> dict[str, Any]:
        return {"rep": self.rep, "name": self.name, "kpis": self.kpis.to_json()}


@dataclass
class KpiReport:
    scope: str  # rep | team | all
    subject: str | None  # the rep's or the manager's email; None for everyone
    period_days: int
    start: dt.date
    end: dt.date
    total: KpiSet
    reps: list[RepKpis]

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "subject": self.subject,
                "period": {"days": self.period_days, "start": self.start.isoformat(), "end": self.end.isoformat()},
                "total": self.total.to_json(), "reps": [r.to_json() for r in self.reps]}


def fmt(kpis: KpiSet, kpi: str) -> str:
    """One KPI as people read it: a percentage with its parts, a signed count, or "-" when there is nothing to
    measure (and "no cases yet" for the service KPI without case data)."""
    part = getattr(kpis, kpi)
    value = part.value
    if kpi == "tier_movement":
        return f"{value:+d} (↑{part.upgrades} ↓{part.downgrades})"
    if kpi == "service" and value is None:
        return "no cases yet" if not part.available else "-"
    if value is None:
        return "-"
    if kpi == "revenue_growth":
        return f"{value:+.1%} ({part.accounts} key)"
    if kpi == "follow_through":
        return f"{value:.0%} ({part.done}/{part.total})"
    if kpi == "service":
        return f"{value:.0%} ({part.within_target}/{part.closed})"
    return f"{value:.0%} ({part.num}/{part.den})"


# ------------------------------------------------------------------------------------------------ scope
class ScopeError(LookupError):
    """--rep / --manager naming nobody in people.yaml."""


def scope_reps(store: Store, rep: str | None = None, manager: str | None = None,
               people: list[Person] | None = None) -> tuple[str, str | None, list[str] | None]:
    """(scope, subject, rep emails) for one rep, a manager's team (everyone reporting to them, directly or not, and
    the manager), or everyone (None: every account owner)."""
    if rep and manager:
        raise ScopeError("give --rep or --manager, not both")
    people = store.people() if people is None else people
    by_email = {p.email: p for p in people}
    if rep:
        person = by_email.get(rep.strip().lower())
        if person is None:
            raise ScopeError(f"--rep: no person {rep!r} in people.yaml")
        return "rep", person.email, [person.email]
    if manager:
        person = by_email.get(manager.strip().lower())
        if person is None:
            raise ScopeError(f"--manager: no person {manager!r} in people.yaml")
        return "team", person.email, [person.email] + [p.email for p in store.reports_of(person.email)]
    return "all", None, None


# ------------------------------------------------------------------------------------------------ computation
def accounts_of(store: Store, reps: list[str] | None, people: list[Person] | None = None) -> dict[str, str]:
    """account id -> the rep (email) owning it, for these reps (None: every owner). An owner given as a Slack id or
    in other case counts for the person it names."""
    by_owner = recipients_by_owner(store.people() if people is None else people)
    wanted = set(reps) if reps is not None else None
    out: dict[str, str] = {}
    with store.engine.connect() as conn:
        for aid, owner in conn.execute(select(AccountRow.id, AccountRow.owner)):
            person = by_owner.get(owner) or by_owner.get(owner.lower())
            who = person.email if person else owner
            if wanted is None or who in wanted:
                out[aid] = who
    return out


def compute(store: Store, settings: Settings, *, end: dt.date, period_days: int = DEFAULT_PERIOD_DAYS,
            rep: str | None = None, manager: str | None = None,
            tiers: dict[str, str] | None = None) -> KpiReport:
    """The KPIs of one rep, one manager's team or everyone, for the `period_days` ending on `end` (inclusive)."""
    people = store.people()
    scope, subject, wanted = scope_reps(store, rep, manager, people)
    start = end - dt.timedelta(days=period_days - 1)
    rep_of = accounts_of(store, wanted, people)
    tiers = load_tiers(store) if tiers is None else tiers
    # a row per rep owning accounts in scope, and for the rep asked about even without any
    per_rep = {r: KpiSet() for r in sorted(set(rep_of.values()) | set(wanted if scope == "rep" and wanted else []))}
    ids = set(rep_of)
    _state_kpis(store, settings, end, rep_of, tiers, per_rep, ids)
    _follow_through(store, start, end, set(per_rep), per_rep)
    _tier_moves(store, start, end, rep_of, per_rep)
    _growth(store, end, rep_of, tiers, per_rep, ids)
    _service(store, settings, start, end, rep_of, tiers, per_rep)
    names = {p.email: p.name for p in people}
    reps = [RepKpis(r, names.get(r), k) for r, k in sorted(per_rep.items())]
    total = KpiSet()
    for r in reps:
        total.add(r.kpis)
    return KpiReport(scope, subject, period_days, start, end, total, reps)


def _state_kpis(store: Store, settings: Settings, end: dt.date, rep_of: dict[str, str], tiers: dict[str, str],
                per_rep: dict[str, KpiSet], ids: set[str]) -> None:
    """Cadence, multi-threading, completeness and freshness as they stand at the end of the period."""
    covered = set(vocabulary()["covered_tiers"])
    with store.engine.connect() as conn:
        last = dict(conn.execute(select(InteractionRow.account_id, func.max(InteractionRow.date))
                                 .where(InteractionRow.date <= end).group_by(InteractionRow.account_id)).all())
    checks = quality_counts(store, settings, end, ids)
    n_required = len(settings.kam_required_fields)
    min_contacts = settings.kam_coverage_min_contacts
    for aid, rep in rep_of.items():
        k = per_rep[rep]
        k.accounts += 1
        c = checks[aid]
        k.completeness.num += c.filled
        k.completeness.den += n_required
        k.freshness.num += c.fresh
        k.freshness.den += len(DIMENSIONS)
        tier = tiers.get(aid)
        if tier not in covered:
            continue
        k.covered_accounts += 1
        k.multithreading.den += 1
        if c.contacts >= min_contacts and c.has_decider:
            k.multithreading.num += 1
        cadence = settings.cadence_days(tier)
        if cadence:
            k.cadence.den += 1
            seen = last.get(aid)
            if seen is not None and (end - _day(seen)).days <= cadence:
                k.cadence.num += 1


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _follow_through(store: Store, start: dt.date, end: dt.date, reps: set[str],
                    per_rep: dict[str, KpiSet]) -> None:
    """Key dates in the period that were nudged to the rep, by the rep's last decision on them."""
    try:
        from scheduler.ledger import DeliveryRow, NudgeStateRow
    except ImportError:  # no scheduler: nothing was ever nudged
        return
    kinds = list(vocabulary()["follow_through_kinds"])
    d, n = DeliveryRow, NudgeStateRow
    # one row per key date (its reminders grouped: the subject names the date), with the rep's decision on it;
    # a key date's cycle is its date (ISO), so the period test runs in SQL on the occurrence column
    q = (select(d.recipient, d.kind, d.subject, func.min(d.occurrence), n.cycle, n.status, n.updated_at)
         .outerjoin(n, (n.recipient == d.recipient) & (n.kind == d.kind) & (n.subject == d.subject))
         .where(d.status == "sent", d.kind.in_(kinds), d.occurrence >= start.isoformat(),
                d.occurrence < (end + dt.timedelta(days=1)).isoformat())
         .group_by(d.recipient, d.kind, d.subject, n.cycle, n.status, n.updated_at))
    cycles: dict[tuple[str, str, str, str], dt.date] = {}
    states: dict[tuple[str, str, str], tuple[str | None, str | None, Any]] = {}
    with store.engine.connect() as conn:
        for recipient, kind, subject, occurrence, s_cycle, s_status, s_at in conn.execute(q):
            if recipient not in reps:
                continue
            cycle = occurrence.split("/", 1)[0]
            try:
                due = dt.date.fromisoformat(cycle)
            except ValueError:
                continue
            if start <= due <= end:
                cycles[(recipient, kind, subject, cycle)] = due
                if s_status is not None:
                    states[(recipient, kind, subject)] = (s_cycle, s_status, s_at)
    for (recipient, kind, subject, cycle), due in cycles.items():
        ft = per_rep[recipient].follow_through
        st = states.get((recipient, kind, subject))
        if st is None or st[0] != cycle:
            ft.ignored += 1
        elif st[1] == "done":
            if _day(st[2]) <= due:
                ft.done += 1
            else:
                ft.done_late += 1
        else:
            ft.snoozed += 1


def _tier_moves(store: Store, start: dt.date, end: dt.date, rep_of: dict[str, str],
                per_rep: dict[str, KpiSet]) -> None:
    try:
        from skills.tiering.models import TierHistoryRow
    except ImportError:
        return
    rank = vocabulary()["tier_rank"]
    h = TierHistoryRow
    lo, hi = dt.datetime.combine(start, dt.time()), dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    with store.session() as s:
        rows = s.execute(select(h.account_id, h.old_tier, h.new_tier).where(
            h.at >= lo, h.at < hi, h.old_tier.is_not(None), h.new_tier.is_not(None), h.old_tier != h.new_tier)).all()
    for aid, old, new in rows:
        rep = rep_of.get(aid)
        if rep is None or old not in rank or new not in rank:
            continue
        moves = per_rep[rep].tier_movement
        if rank[new] > rank[old]:
            moves.upgrades += 1
        elif rank[new] < rank[old]:
            moves.downgrades += 1


def revenue_pairs(store: Store, end: dt.date, ids: set[str]) -> dict[str, tuple[float, float]]:
    """(latest year's revenue, the year before) per account: from the yearly revenue history (the last two complete
    years before the period's end) when there is one, else from the profile's metrics (revenue and growth)."""
    years = (end.year - 1, end.year - 2)
    out: dict[str, tuple[float, float]] = {}
    with store.session() as s:
        hist: dict[str, dict[int, float]] = defaultdict(dict)
        for aid, year, revenue in s.execute(select(YearlyRevenueRow.account_id, YearlyRevenueRow.year,
                                                   YearlyRevenueRow.revenue).where(YearlyRevenueRow.year.in_(years))):
            if aid in ids:
                hist[aid][year] = revenue
        metrics = s.execute(select(MetricsRow.account_id, MetricsRow.revenue, MetricsRow.growth)).all()
    for aid, h in hist.items():
        if years[0] in h and years[1] in h:
            out[aid] = (float(h[years[0]]), float(h[years[1]]))
    for aid, revenue, growth in metrics:
        if aid in ids and aid not in out and revenue is not None and growth is not None and growth > -1:
            out[aid] = (float(revenue), float(revenue) / (1 + float(growth)))
    return out


def _growth(store: Store, end: dt.date, rep_of: dict[str, str], tiers: dict[str, str],
            per_rep: dict[str, KpiSet], ids: set[str]) -> None:
    growth_tiers = set(vocabulary()["growth_tiers"])
    key_ids = {aid for aid in ids if tiers.get(aid) in growth_tiers}
    for aid, (current, previous) in revenue_pairs(store, end, key_ids).items():
        g = per_rep[rep_of[aid]].revenue_growth
        g.current += current
        g.previous += previous
        g.accounts += 1


def _service(store: Store, settings: Settings, start: dt.date, end: dt.date, rep_of: dict[str, str],
             tiers: dict[str, str], per_rep: dict[str, KpiSet]) -> None:
    """Service cases resolved in the period (and not reopened since), and how many of them within the resolution
    target of their tier and severity (skills/cases.py, business time in the owner's zone); null ("no cases yet")
    until the deployment has a case."""
    from skills.cases import CaseRow, resolutions

    with store.session() as s:
        if s.execute(select(CaseRow.id).limit(1)).first() is None:
            return
    lo, hi = dt.datetime.combine(start, dt.time()), dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    for k in per_rep.values():
        k.service.available = True
    for aid, in_time in resolutions(store, settings, lo.replace(tzinfo=dt.UTC), hi.replace(tzinfo=dt.UTC), tiers):
        rep = rep_of.get(aid)
        if rep is None:
            continue
        sv = per_rep[rep].service
        sv.closed += 1
        sv.within_target += in_time

