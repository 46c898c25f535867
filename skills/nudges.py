"""What is due for whom: key-date reminders, decision makers' birthdays, overdue contact, coverage risk, freshness.

Plain data only. Every nudge has a stable identity (kind, subject, cycle, step): `subject` is the thing it is about
(a key date, a contact, an account), `cycle` the instance that "Done" completes (the key date, the birthday's year,
the overdue spell, the ISO week of a weekly check), `step` the reminder within that cycle (an offset, a repeat).
Dates are the recipient's local calendar days; the scheduler decides which local day it is for whom.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, func, or_, select

from knowledge.db import AccountRow, ContactRow, DimensionRow, KeyDateRow, json_text
from knowledge.profile import DIMENSIONS, KEY_DATE_KINDS, Person
from knowledge.settings import DAY_NAMES, Settings
from knowledge.store import Store

NUDGE_KINDS = (*KEY_DATE_KINDS, "birthday", "overdue_contact", "coverage_risk", "stale", "case_due", "case_overdue",
               "competitor_alert")
# tie-break among equally urgent nudges
KIND_ORDER = {k: i for i, k in enumerate(("case_overdue", "case_due", "competitor_alert", "overdue_contact", "renewal",
                                          "review", "visit",
                                          "birthday", "anniversary",
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
        from skills.tiering.current import current_tiers
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
                   tiers: dict[str, str] | None = None, recipients: set[str] | None = None, *,
                   latest_only: bool = True, weekly_days: set[dt.date] | None = None) -> list[Nudge]:
    """Every nudge whose day falls in [start, end]; with `latest_only`, one per cycle (catch-up sends one).

    The weekly checks run on `weekly_days` (default: the last weekly day in the range)."""
    if end < start:
        return []
    tiers = load_tiers(store) if tiers is None else tiers
    by_owner = recipients_by_owner(store.people())
    owners: dict[str, str] = {}
    accounts: dict[str, tuple[str, str]] = {}
    with store.session() as s:
        for aid, name, owner in s.execute(select(AccountRow.id, AccountRow.name, AccountRow.owner)):
            rcpt = owners.get(owner)
            if rcpt is None:
                rcpt = owners[owner] = _recipient(owner, by_owner)
            if recipients is None or rcpt in recipients:
                accounts[aid] = (name, rcpt)
    out: list[Nudge] = []
    out += _key_date_nudges(store, settings, start, end, accounts)
    out += _birthday_nudges(store, settings, start, end, accounts)
    out += _overdue_nudges(store, settings, start, end, accounts, tiers)
    out += _case_nudges(store, settings, start, end, accounts, tiers)
    out += _competitor_nudges(store, settings, start, end, accounts, tiers)
    if weekly_days is None:
        last = latest_weekday(start, end, settings.kam_weekly_day)
        weekly_days = {last} if last else set()
    for day in sorted(weekly_days):
        out += weekly_nudges(store, settings, day, accounts, tiers)
    return latest_per_cycle(out) if latest_only else out


def latest_per_cycle(nudges: Iterable[Nudge]) -> list[Nudge]:
    latest: dict[tuple[str, str, str, str], Nudge] = {}
    for n in nudges:
        ident = (n.recipient, n.kind, n.subject, n.cycle)
        if ident not in latest or n.remind_on > latest[ident].remind_on:
            latest[ident] = n
    return list(latest.values())


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _key_date_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                     accounts: dict[str, tuple[str, str]]) -> list[Nudge]:
    """Key dates due in the range. Default offsets are matched in SQL (index on date); custom `remind` lists are
    read raw and decoded only when the day's offset appears in them: 100,000 key dates stay well under a second."""
    defaults = {k: settings.remind_days(k) for k in KEY_DATE_KINDS}
    kd = KeyDateRow
    ranges = [and_(kd.kind == kind, kd.date >= start + dt.timedelta(days=off), kd.date <= end + dt.timedelta(days=off))
              for kind, offs in defaults.items() for off in offs]
    rows: list[tuple[str, dt.date, str, str, list[int]]] = []
    raw_remind = json_text(kd.remind)
    no_remind = or_(kd.remind.is_(None), raw_remind == "null")  # the JSON type stores None as 'null'
    with store.session() as s:
        if ranges:
            for aid, date, kind, title in s.execute(select(kd.account_id, kd.date, kd.kind, kd.title)
                                                    .where(no_remind, or_(*ranges))):
                rows.append((aid, date, kind, title, defaults.get(kind, defaults["other"])))
        raw = s.execute(select(kd.account_id, kd.date, kd.kind, kd.title, raw_remind)
                        .where(~no_remind, kd.date >= start)).all()
    span = range((end - start).days + 1)
    for aid, date, kind, title, remind in raw:
        date = _day(date)
        first_off = (date - end).days
        if not any(str(first_off + k) in remind for k in span):
            continue
        rows.append((aid, date, kind, title, json.loads(remind)))
    out = []
    for aid, date, kind, title, offsets in rows:
        acc = accounts.get(aid)
        if acc is None:
            continue
        for off in offsets:
            day = date - dt.timedelta(days=off)
            if start <= day <= end:
                out.append(Nudge(
                    recipient=acc[1], kind=kind, account_id=aid, account=acc[0], due=date, remind_on=day,
                    subject=f"kd:{aid}:{date.isoformat()}:{kind}:{_short_hash(title)}", cycle=date.isoformat(),
                    step=f"-{off}d", title=title, days_left=off))
    return out


def _case_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                 accounts: dict[str, tuple[str, str]], tiers: dict[str, str]) -> list[Nudge]:
    """Service cases nearing or past their targets (skills/cases.py); none without the cases feature."""
    try:
        from skills.cases import case_nudges
    except ImportError:
        return []
    return case_nudges(store, settings, start, end, accounts, tiers)


def _birthday_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                     accounts: dict[str, tuple[str, str]]) -> list[Nudge]:
    before = settings.kam_birthday_days
    out = []
    with store.session() as s:
        rows = s.execute(select(ContactRow.account_id, ContactRow.name, ContactRow.title, ContactRow.birthday)
                         .where(ContactRow.role.in_(settings.kam_birthday_roles),
                                ContactRow.birthday.is_not(None))).all()
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


def _competitor_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                       accounts: dict[str, tuple[str, str]], tiers: dict[str, str]) -> list[Nudge]:
    from skills.rivals.nudging import competitor_nudges  # the competitor watch (docs/competitor-watch.md)

    return competitor_nudges(store, settings, start, end, accounts, tiers)


def _overdue_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                    accounts: dict[str, tuple[str, str]], tiers: dict[str, str]) -> list[Nudge]:
    from skills.cadence import overdue_accounts

    if not tiers:
        return []
    ids = {aid for aid in accounts if settings.cadence_days(tiers.get(aid))}
    out = []
    for o in overdue_accounts(store, settings, tiers, end, ids):
        acc = accounts[o.account_id]
        days: list[tuple[dt.date, str]] = []
        if o.last_contact is None:  # never contacted on record: a weekly reminder on the weekly day
            since, cycle = None, "never"
            for k in range((end - start).days + 1):
                day = start + dt.timedelta(days=k)
                if DAY_NAMES[day.weekday()] == (settings.kam_weekly_day or "mon"):
                    days.append((day, iso_week(day)))
        else:
            since = o.last_contact + dt.timedelta(days=o.cadence_days + 1)
            cycle = o.last_contact.isoformat()
            first = max(0, -(-(start - since).days // OVERDUE_REPEAT_DAYS))  # first repeat on or after start
            repeat = first
            while (day := since + dt.timedelta(days=repeat * OVERDUE_REPEAT_DAYS)) <= end:
                days.append((day, f"w{repeat}"))
                repeat += 1
        for day, step in days:
            out.append(_overdue_nudge(o, acc, since, day, cycle, step))
    return out


def _overdue_nudge(o: Any, acc: tuple[str, str], since: dt.date | None, day: dt.date, cycle: str,
                   step: str) -> Nudge:
    days_over = (o.days_since or 0) - o.cadence_days
    last = f"last contact {o.last_contact.isoformat()} ({o.days_since} days ago)" if o.last_contact \
        else "no contact on record"
    return Nudge(
        recipient=acc[1], kind="overdue_contact", account_id=o.account_id, account=acc[0], due=since or day,
        remind_on=day, subject=f"od:{o.account_id}", cycle=cycle, step=step,
        title=f"Overdue for contact ({o.tier}: every {o.cadence_days} days)", detail=last,
        days_left=(since - day).days if since else 0, escalate=o.escalate,
        extra={"tier": o.tier, "cadence_days": o.cadence_days, "days_since": o.days_since,
               "days_overdue": days_over if o.last_contact else 10**6,
               "last_contact": o.last_contact.isoformat() if o.last_contact else None})


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
    """Coverage and freshness for many accounts from three queries (the rules of knowledge.quality, which would need
    every profile loaded: seconds for 10,000 accounts)."""
    required = settings.kam_required_fields
    by_dim: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for path in required:
        head, _, rest = path.partition(".")
        if head in DIMENSIONS:
            by_dim[head].append((path, rest.split(".") if rest else []))
    cut = today - dt.timedelta(days=settings.kam_stale_days)
    checks: dict[str, AccountChecks] = {}
    roles: dict[str, set[str]] = defaultdict(set)
    filled: dict[str, set[str]] = defaultdict(set)
    fresh: dict[str, set[str]] = defaultdict(set)
    with store.engine.connect() as s:  # plain rows: the ORM session's per-row work doubled the cost
        tops = {aid: {"industry": ind, "region": reg} for aid, ind, reg in
                s.execute(select(AccountRow.id, AccountRow.industry, AccountRow.region))
                if account_ids is None or aid in account_ids}
        for aid in tops:
            checks[aid] = AccountChecks(aid)
        # counted per account and role in SQL: a few rows per account instead of one per contact
        for aid, role, n in s.execute(select(ContactRow.account_id, ContactRow.role, func.count())
                                      .group_by(ContactRow.account_id, ContactRow.role)):
            c = checks.get(aid)
            if c is not None:
                c.contacts += n
                if role:
                    roles[aid].add(role)
        # the JSON is decoded here with orjson, not by the column type: most of the cost for 60,000 rows
        for aid, name, data, updated in s.execute(select(DimensionRow.account_id, DimensionRow.name,
                                                         json_text(DimensionRow.data),
                                                         DimensionRow.updated)):
            if aid not in checks:
                continue
            if updated is not None and _day(updated) >= cut:
                fresh[aid].add(name)
            paths = by_dim.get(name)
            if paths and data:
                doc = orjson.loads(data)
                for path, parts in paths:
                    value: Any = doc
                    for part in parts:
                        value = value.get(part) if isinstance(value, dict) else None
                    if _filled(value):
                        filled[aid].add(path)
    dm_roles = {"decision_maker", "economic_buyer"}
    for aid, c in checks.items():
        r = roles.get(aid, set())
        c.has_decision_maker = bool(r & dm_roles)
        got = filled.get(aid, set())
        c.stale = [d for d in DIMENSIONS if d not in fresh.get(aid, ())]
        for path in required:
            head, _, rest = path.partition(".")
            if head == "contacts":
                ok = c.has_decision_maker if rest == "decision_maker" else (c.contacts > 0 if not rest else rest in r)
            elif head in DIMENSIONS:
                ok = path in got
            else:
                ok = _filled(tops[aid].get(head))
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
