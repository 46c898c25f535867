"""What is due for whom: key-date reminders, decision makers' birthdays, overdue contact, coverage risk, freshness.

Plain data only. Every nudge has a stable identity (kind, subject, cycle, step): `subject` is the thing it is about
(a key date, a contact, an account), `cycle` the instance that "Done" completes (the key date, the birthday's year,
the overdue spell, the ISO week of a weekly check), `step` the reminder within that cycle (an offset, a repeat).
Dates are the recipient's local calendar days; the scheduler decides which local day it is for whom.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from knowledge.db import AccountRow, ContactRow, DimensionRow, KeyDateRow
from knowledge.profile import DIMENSIONS, KEY_DATE_KINDS, Person
from knowledge.settings import DAY_NAMES, Settings
from knowledge.store import Store

NUDGE_KINDS = (*KEY_DATE_KINDS, "birthday", "overdue_contact", "coverage_risk", "stale")
# tie-break among equally urgent nudges
KIND_ORDER = {k: i for i, k in enumerate(("overdue_contact", "renewal", "review", "visit", "birthday", "anniversary",
                                          "other", "coverage_risk", "stale"))}
COVERAGE_TIERS = ("key", "strategic")
COVERAGE_URGENCY, STALE_URGENCY = 30, 60  # weekly checks rank like something due in a month / two months
OVERDUE_REPEAT_DAYS = 7  # an overdue account is brought up again weekly until contact is logged
_FIELD_SOURCES = {"industry", "region"}


@dataclass
class Nudge:
    recipient: str  # email when the person is known, else the owner id as given
    kind: str  # one of NUDGE_KINDS
    account_id: str
    account: str
    due: dt.date  # the key date, the birthday, the day contact became overdue, the weekly check day
    remind_on: dt.date  # the local day it is to be sent
    subject: str
    cycle: str
    step: str
    title: str
    detail: str = ""
    contact: str | None = None  # birthdays
    days_left: int | None = None  # from remind_on to due (negative: past)
    escalate: bool = False  # overdue past twice the cadence
    late: bool = False  # sent after its day (downtime catch-up)
    resurfaced: bool = False  # came back after a snooze / reschedule
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def occurrence(self) -> str:
        return f"{self.cycle}/{self.step}"

    @property
    def urgency(self) -> int:
        if self.kind == "overdue_contact":
            return -int(self.extra.get("days_overdue", 0))
        if self.kind == "coverage_risk":
            return COVERAGE_URGENCY
        if self.kind == "stale":
            return STALE_URGENCY
        return (self.due - self.remind_on).days

    def sort_key(self) -> tuple[int, int, str, str]:
        return (self.urgency, KIND_ORDER.get(self.kind, 99), self.account.casefold(), self.subject)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["due"], data["remind_on"] = self.due.isoformat(), self.remind_on.isoformat()
        data["occurrence"] = self.occurrence
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Nudge:
        names = cls.__dataclass_fields__
        kw = {k: v for k, v in data.items() if k in names}
        kw["due"], kw["remind_on"] = dt.date.fromisoformat(kw["due"]), dt.date.fromisoformat(kw["remind_on"])
        return cls(**kw)


@dataclass
class StateView:
    """A rep's decision about a nudge (read from the scheduler's state table; plain data here)."""

    cycle: str
    status: str  # done | snoozed
    until: dt.date | None
    payload: dict[str, Any]


# ------------------------------------------------------------------ helpers
def load_tiers(store: Store) -> dict[str, str]:
    """Current tier per account from the tiering feature; no tiers (no cadence, no coverage checks) without it."""
    try:
        from skills.tiering.history import current_tiers
    except ImportError:
        return {}
    return dict(current_tiers(store))


def recipients_by_owner(people: Iterable[Person]) -> dict[str, Person]:
    """Owner ids (email or Slack id) to the person."""
    out: dict[str, Person] = {}
    for p in people:
        out[p.email] = p
        if p.slack_id:
            out[p.slack_id] = p
    return out


def _recipient(owner: str, by_owner: dict[str, Person]) -> str:
    person = by_owner.get(owner) or by_owner.get(owner.lower())
    return person.email if person else owner


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _birthday_in(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:  # 29 February outside leap years: the day before
        return dt.date(year, 2, 28)


def latest_weekday(start: dt.date, end: dt.date, day_name: str) -> dt.date | None:
    """The last day in [start, end] that falls on a day name ("mon"...), if any."""
    if not day_name:
        return None
    target = DAY_NAMES.index(day_name)
    day = end - dt.timedelta(days=(end.weekday() - target) % 7)
    return day if day >= start else None


def iso_week(day: dt.date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


# ------------------------------------------------------------------ the computation
def nudges_between(store: Store, settings: Settings, start: dt.date, end: dt.date,
                   tiers: dict[str, str] | None = None, recipients: set[str] | None = None) -> list[Nudge]:
    """Every nudge whose day falls in [start, end]; within a cycle only the latest step (catch-up sends one)."""
    if end < start:
        return []
    tiers = load_tiers(store) if tiers is None else tiers
    by_owner = recipients_by_owner(store.people())
    with store.session() as s:
        accounts = {aid: (name, _recipient(owner, by_owner)) for aid, name, owner in
                    s.execute(select(AccountRow.id, AccountRow.name, AccountRow.owner))}
    if recipients is not None:
        accounts = {aid: v for aid, v in accounts.items() if v[1] in recipients}
    out: list[Nudge] = []
    out += _key_date_nudges(store, settings, start, end, accounts)
    out += _birthday_nudges(store, settings, start, end, accounts)
    out += _overdue_nudges(store, settings, start, end, accounts, tiers)
    weekly = latest_weekday(start, end, settings.kam_weekly_day)
    if weekly is not None:
        out += weekly_nudges(store, settings, weekly, accounts, tiers)
    latest: dict[tuple[str, str, str, str], Nudge] = {}
    for n in out:
        ident = (n.recipient, n.kind, n.subject, n.cycle)
        if ident not in latest or n.remind_on > latest[ident].remind_on:
            latest[ident] = n
    return list(latest.values())


def _key_date_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                     accounts: dict[str, tuple[str, str]]) -> list[Nudge]:
    defaults = {k: settings.remind_days(k) for k in KEY_DATE_KINDS}
    out = []
    with store.session() as s:
        rows = s.execute(select(KeyDateRow.account_id, KeyDateRow.date, KeyDateRow.kind, KeyDateRow.title,
                                KeyDateRow.remind).where(KeyDateRow.date >= start)).all()
    for aid, date, kind, title, remind in rows:
        acc = accounts.get(aid)
        if acc is None:
            continue
        offsets = remind if remind is not None else defaults.get(kind, defaults["other"])
        for off in offsets:
            day = date - dt.timedelta(days=off)
            if start <= day <= end:
                out.append(Nudge(
                    recipient=acc[1], kind=kind, account_id=aid, account=acc[0], due=date, remind_on=day,
                    subject=f"kd:{aid}:{date.isoformat()}:{kind}:{_short_hash(title)}", cycle=date.isoformat(),
                    step=f"-{off}d", title=title, days_left=off))
    return out


def _birthday_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                     accounts: dict[str, tuple[str, str]]) -> list[Nudge]:
    before = settings.kam_birthday_days
    out = []
    with store.session() as s:
        rows = s.execute(select(ContactRow.account_id, ContactRow.name, ContactRow.title, ContactRow.birthday)
                         .where(ContactRow.role == "decision_maker", ContactRow.birthday.is_not(None))).all()
    years = range(start.year, end.year + 2)
    for aid, name, title, birthday in rows:
        acc = accounts.get(aid)
        if acc is None:
            continue
        month, day = int(birthday[-5:-3]), int(birthday[-2:])
        for year in years:
            bday = _birthday_in(year, month, day)
            remind = bday - dt.timedelta(days=before)
            if start <= remind <= end:
                out.append(Nudge(
                    recipient=acc[1], kind="birthday", account_id=aid, account=acc[0], due=bday, remind_on=remind,
                    subject=f"bd:{aid}:{_short_hash(name)}", cycle=str(year), step=f"-{before}d",
                    title=f"{name}'s birthday" + (f" ({title})" if title else ""), contact=name, days_left=before))
    return out


def _overdue_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                    accounts: dict[str, tuple[str, str]], tiers: dict[str, str]) -> list[Nudge]:
    from skills.cadence import overdue_accounts

    if not tiers:
        return []
    ids = {aid for aid in accounts if settings.cadence_days(tiers.get(aid))}
    out = []
    for o in overdue_accounts(store, settings, tiers, end, ids):
        acc = accounts[o.account_id]
        if o.last_contact is None:  # never contacted on record: a weekly reminder on the weekly day
            day = latest_weekday(start, end, settings.kam_weekly_day or "mon")
            since, cycle = day, "never"
            step = iso_week(day) if day else ""
        else:
            since = o.last_contact + dt.timedelta(days=o.cadence_days + 1)
            repeat = max(0, (end - since).days) // OVERDUE_REPEAT_DAYS
            day = since + dt.timedelta(days=repeat * OVERDUE_REPEAT_DAYS)
            cycle, step = o.last_contact.isoformat(), f"w{repeat}"
        if day is None or not start <= day <= end:
            continue
        days_over = (o.days_since or 0) - o.cadence_days
        last = f"last contact {o.last_contact.isoformat()} ({o.days_since} days ago)" if o.last_contact \
            else "no contact on record"
        out.append(Nudge(
            recipient=acc[1], kind="overdue_contact", account_id=o.account_id, account=acc[0], due=since or day,
            remind_on=day, subject=f"od:{o.account_id}", cycle=cycle, step=step,
            title=f"Overdue for contact ({o.tier}: every {o.cadence_days} days)", detail=last,
            days_left=(since - day).days if since else 0, escalate=o.escalate,
            extra={"tier": o.tier, "cadence_days": o.cadence_days, "days_since": o.days_since,
                   "days_overdue": days_over if o.last_contact else 10**6,
                   "last_contact": o.last_contact.isoformat() if o.last_contact else None}))
    return out


@dataclass
class AccountChecks:
    """The weekly checks of one account: coverage and freshness."""

    account_id: str
    contacts: int = 0
    has_decision_maker: bool = False
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def coverage_reasons(self, min_contacts: int) -> list[str]:
        reasons = []
        if self.contacts < min_contacts:
            reasons.append(f"{self.contacts} contact{'s' if self.contacts != 1 else ''} on file "
                           f"(fewer than {min_contacts})")
        if not self.has_decision_maker:
            reasons.append("no decision maker or economic buyer on file")
        return reasons


def account_checks(store: Store, settings: Settings, today: dt.date,
                   account_ids: set[str] | None = None) -> dict[str, AccountChecks]:
    """Coverage and freshness for many accounts from a few queries (same rules as knowledge.quality)."""
    checks: dict[str, AccountChecks] = {}
    dims: dict[str, dict[str, tuple[dict[str, Any], dt.date | None]]] = defaultdict(dict)
    with store.session() as s:
        fields = {aid: {"industry": ind, "region": reg} for aid, ind, reg in
                  s.execute(select(AccountRow.id, AccountRow.industry, AccountRow.region))
                  if account_ids is None or aid in account_ids}
        roles: dict[str, set[str]] = defaultdict(set)
        for aid, role in s.execute(select(ContactRow.account_id, ContactRow.role)):
            if aid in fields:
                c = checks.setdefault(aid, AccountChecks(aid))
                c.contacts += 1
                if role:
                    roles[aid].add(role)
        for aid, name, data, updated in s.execute(select(DimensionRow.account_id, DimensionRow.name,
                                                         DimensionRow.data, DimensionRow.updated)):
            if aid in fields:
                dims[aid][name] = (data or {}, updated)
    for aid, top in fields.items():
        c = checks.setdefault(aid, AccountChecks(aid))
        c.has_decision_maker = bool(roles[aid] & {"decision_maker", "economic_buyer"})
        for dim in DIMENSIONS:
            updated = dims[aid].get(dim, ({}, None))[1]
            if updated is None or (today - updated).days > settings.kam_stale_days:
                c.stale.append(dim)
        for path in settings.kam_required_fields:
            head, _, rest = path.partition(".")
            if head == "contacts":
                ok = (c.has_decision_maker if rest == "decision_maker" else
                      (c.contacts > 0 if not rest else rest in roles[aid]))
            elif head in DIMENSIONS:
                value: Any = dims[aid].get(head, ({}, None))[0]
                for part in rest.split(".") if rest else []:
                    value = value.get(part) if isinstance(value, dict) else None
                ok = _filled(value)
            else:
                ok = _filled(top.get(head))
            if not ok:
                c.missing.append(path)
    return checks


def weekly_nudges(store: Store, settings: Settings, day: dt.date, accounts: dict[str, tuple[str, str]],
                  tiers: dict[str, str]) -> list[Nudge]:
    out = []
    week = iso_week(day)
    for aid, c in account_checks(store, settings, day, set(accounts)).items():
        name, recipient = accounts[aid]
        tier = tiers.get(aid)
        reasons = c.coverage_reasons(settings.kam_coverage_min_contacts) if tier in COVERAGE_TIERS else []
        if reasons:
            out.append(Nudge(recipient=recipient, kind="coverage_risk", account_id=aid, account=name, due=day,
                             remind_on=day, subject=f"cov:{aid}", cycle=week, step="weekly",
                             title=f"Single-threaded {tier} account", detail="; ".join(reasons),
                             extra={"tier": tier, "reasons": reasons}))
        if c.stale or c.missing:
            parts = []
            if c.stale:
                parts.append("not updated in " + str(settings.kam_stale_days) + "+ days: " + ", ".join(c.stale))
            if c.missing:
                parts.append("empty: " + ", ".join(c.missing))
            out.append(Nudge(recipient=recipient, kind="stale", account_id=aid, account=name, due=day,
                             remind_on=day, subject=f"fresh:{aid}", cycle=week, step="weekly",
                             title="Profile needs updating", detail="; ".join(parts),
                             extra={"stale": c.stale, "missing": c.missing}))
    return out


# ------------------------------------------------------------------ state, batching
def apply_state(nudges: list[Nudge], states: dict[tuple[str, str, str], StateView], start: dt.date,
                end: dt.date, still_overdue: set[str] | None = None) -> list[Nudge]:
    """Drop nudges done in their cycle or snoozed past their day; bring back snoozed ones whose day came."""
    out = []
    for n in nudges:
        st = states.get((n.recipient, n.kind, n.subject))
        if st is not None and st.cycle == n.cycle and (
                st.status == "done" or (st.until is not None and n.remind_on < st.until)):
            continue
        out.append(n)
    present = {(n.recipient, n.kind, n.subject, n.cycle) for n in out}
    for (recipient, kind, subject), st in states.items():
        if st.status != "snoozed" or st.until is None or not start <= st.until <= end or not st.payload:
            continue
        if (recipient, kind, subject, st.cycle) in present:
            continue
        if kind == "overdue_contact" and still_overdue is not None and st.payload.get("account_id") not in \
                still_overdue:
            continue  # contact was logged meanwhile
        n = Nudge.from_json(st.payload)
        n.remind_on, n.step, n.resurfaced = st.until, f"snooze-{st.until.isoformat()}", True
        if n.kind not in ("overdue_contact", "coverage_risk", "stale"):
            n.days_left = (n.due - st.until).days
        out.append(n)
    return out


def batches(nudges: Iterable[Nudge]) -> dict[str, list[Nudge]]:
    """Nudges grouped per recipient, most urgent first."""
    out: dict[str, list[Nudge]] = defaultdict(list)
    for n in nudges:
        out[n.recipient].append(n)
    return {r: sorted(items, key=Nudge.sort_key) for r, items in sorted(out.items())}


def due_on(store: Store, settings: Settings, on: dt.date, *, tiers: dict[str, str] | None = None,
           recipient: str | None = None, states: dict[tuple[str, str, str], StateView] | None = None) -> list[Nudge]:
    """What is due on one local day (for everyone, or one recipient), most urgent first per recipient."""
    tiers = load_tiers(store) if tiers is None else tiers
    found = nudges_between(store, settings, on, on, tiers, {recipient} if recipient else None)
    if states:
        found = apply_state(found, states, on, on)
    return [n for items in batches(found).values() for n in items]
