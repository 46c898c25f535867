"""A person's portfolio in plain data: their visible accounts by tier, upcoming key dates and birthdays, accounts
overdue for contact and profile gaps. The Slack App Home and `/kam dates` / `/kam tiers` render it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from knowledge.db import AccountRow, ContactRow, KeyDateRow
from knowledge.profile import Contact, Person
from knowledge.quality import quality
from knowledge.settings import Settings
from knowledge.store import Store
from skills.cadence import Overdue, overdue_accounts

TIER_ORDER = ("key", "strategic", "maintenance", "opportunity", "untiered")
TIER_TITLES = {
    "key": "Key accounts",
    "strategic": "Strategic development",
    "maintenance": "Maintenance",
    "opportunity": "Opportunity",
    "untiered": "Not tiered yet",
}


@dataclass
class AccountLine:
    account_id: str
    name: str
    owner: str
    tier: str
    completeness: float  # 0..1 of the required fields
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


@dataclass
class UpcomingDate:
    account_id: str
    account: str
    owner: str
    date: dt.date
    days_until: int
    kind: str  # a key-date kind, or "birthday"
    title: str


@dataclass
class Portfolio:
    viewer: str  # email
    today: dt.date
    tiers: dict[str, list[AccountLine]]  # in TIER_ORDER, empty tiers left out
    upcoming: list[UpcomingDate]
    overdue: list[Overdue]
    gaps: list[AccountLine]  # incomplete or stale profiles, least complete first

    @property
    def account_count(self) -> int:
        return sum(len(v) for v in self.tiers.values())


def current_tier_map(store: Store, today: dt.date | None = None) -> dict[str, str]:
    """account id -> tier from the tiering feature, or {} when it is not installed (everything is "untiered")."""
    try:
        from skills.tiering.current import current_tiers
    except ImportError:
        return {}
    out: dict[str, str] = {}
    for account_id, value in dict(current_tiers(store, today)).items():
        tier = getattr(value, "tier", value)  # a plain tier name, or a record carrying one
        if isinstance(tier, str) and tier:
            out[account_id] = tier
    return out


def upcoming_dates(store: Store, account_ids: set[str] | None, today: dt.date, days: int) -> list[UpcomingDate]:
    """Key dates and contacts' birthdays from today through today + days, soonest first."""
    end = today + dt.timedelta(days=days)
    with store.session() as s:
        names = {r.id: (r.name, r.owner) for r in s.execute(select(AccountRow.id, AccountRow.name, AccountRow.owner))}
        q = select(KeyDateRow).where(KeyDateRow.date >= today, KeyDateRow.date <= end)
        c = select(ContactRow).where(ContactRow.birthday.is_not(None))
        if account_ids is not None:
            q = q.where(KeyDateRow.account_id.in_(list(account_ids)))
            c = c.where(ContactRow.account_id.in_(list(account_ids)))
        dates = list(s.scalars(q))
        contacts = list(s.scalars(c))
    out = [UpcomingDate(k.account_id, *names[k.account_id], k.date, (k.date - today).days, k.kind, k.title)
           for k in dates if k.account_id in names]
    for row in contacts:
        md = Contact(name=row.name, birthday=row.birthday).birthday_month_day
        if md is None or row.account_id not in names:
            continue
        day = _next_anniversary(md, today)
        if day <= end:
            label = f"{row.name}'s birthday" + (f" ({row.title})" if row.title else "")
            out.append(UpcomingDate(row.account_id, *names[row.account_id], day, (day - today).days, "birthday",
                                    label))
    out.sort(key=lambda u: (u.date, u.account, u.title))
    return out


def _next_anniversary(month_day: tuple[int, int], today: dt.date) -> dt.date:
    month, day = month_day
    for year in (today.year, today.year + 1, today.year + 2, today.year + 3, today.year + 4):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:  # 29 February in a common year
            continue
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable: a leap year comes within four years")


def my_portfolio(store: Store, settings: Settings, person: Person, today: dt.date | None = None,
                 days: int = 60) -> Portfolio:
    """What `person` may see (the access rule), grouped for an at-a-glance view."""
    today = today or dt.date.today()
    visible = store.visible_account_ids(person)
    tiers = current_tier_map(store, today)
    ids = visible if visible is not None else set(store.account_ids())
    profiles = store.load_profiles(ids)
    lines: list[AccountLine] = []
    for account_id, profile in profiles.items():
        q = quality(profile, settings.kam_required_fields, today, settings.kam_stale_days)
        lines.append(AccountLine(account_id, profile.account, profile.owner, tiers.get(account_id, "untiered"),
                                 q.overall, list(q.missing), list(q.stale)))
    lines.sort(key=lambda a: a.name.casefold())
    grouped: dict[str, list[AccountLine]] = {}
    for tier in TIER_ORDER:
        members = [a for a in lines if (a.tier if a.tier in TIER_ORDER else "untiered") == tier]
        if members:
            grouped[tier] = members
    gaps = sorted((a for a in lines if a.missing or a.stale), key=lambda a: (a.completeness, a.name.casefold()))
    overdue = overdue_accounts(store, settings, tiers, today, ids) if tiers else []
    return Portfolio(person.email, today, grouped, upcoming_dates(store, ids, today, days), overdue, gaps)
