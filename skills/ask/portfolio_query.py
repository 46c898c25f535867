"""Portfolio questions as exact filters and sorts over the store, within the asker's scope.

Any combination works: a tier, a supplier / competitor / customer named, a region or industry, a missing role,
single-threaded, stale, not contacted for N days, a metric threshold, a sort by a metric with a limit, a count;
or the dated things in a window (key dates of one or several kinds, contacts' birthdays). The LLM path calls the
same `run()` through its `query` tool.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select

from knowledge.db import AccountRow, ContactRow, MetricsRow
from knowledge.profile import Contact
from knowledge.store import Store
from skills.ask import portfolio_answers as pa
from skills.ask.dates import Window
from skills.ask.ground import Grounding, ItemRef
from skills.ask.phrases import LABELS, METRIC_LABELS, label, t
from skills.ask.understand import Query
from skills.cadence import last_contacts

DEFAULT_DATE_DAYS = 90
DEFAULT_BIRTHDAY_DAYS = 30
DEFAULT_CONTACT_DAYS = 30
ROLE_CONCEPTS = {"role:decision_maker": ("decision_maker", "economic_buyer"),
                 "role:economic_buyer": ("economic_buyer",), "role:signer": ("decision_maker", "economic_buyer"),
                 "role:champion": ("champion",), "role:blocker": ("blocker",), "role:influencer": ("influencer",),
                 "role:user": ("user",)}
KIND_CONCEPTS = {"key_dates:renewal": "renewal", "key_dates:review": "review", "key_dates:visit": "visit",
                 "key_dates:anniversary": "anniversary"}
METRIC_FORMAT = {"profit_margin": "{:.0%}", "purchase_share": "{:.0%}", "growth": "{:+.0%}", "revenue": "{:,.0f}",
                 "satisfaction": "{:g}/5", "potential": "{:g}/5", "complaints": "{:g}", "clv": "{:,.0f}"}


@dataclass
class Result:
    subject: str  # accounts | key_dates | birthdays
    rows: list[pa.Row]
    conditions: list[tuple[str, dict]] = field(default_factory=list)  # what was applied (phrase key, values)
    window: tuple[dt.date, dt.date, Window] | None = None
    count_only: bool = False


def _metric_text(metric: str, value: float | None, lang: str = "en") -> str:
    return t(lang, "not_dated") if value is None else METRIC_FORMAT.get(metric, "{:g}").format(value)


def run(store: Store, q: Query, g: Grounding, scope: set[str] | None, today: dt.date,
        tiers: dict[str, str], stale_days: int, lang: str = "en") -> Result:
    """The rows that answer a portfolio question; their text is in `lang` (the question's language)."""
    if q.has("birthday"):
        return _birthdays(store, q, scope, today, lang)
    kinds = [KIND_CONCEPTS[c] for c in q.concepts if c in KIND_CONCEPTS]
    dated = (q.has("key_dates") and "not_contacted" not in q.filters) and not (q.sort or q.threshold)
    if dated:
        return _dates(store, q, scope, today, kinds, lang)
    return _accounts(store, q, g, scope, today, tiers, stale_days, lang)


def _window(q: Query, today: dt.date, default_days: int) -> tuple[dt.date, dt.date, Window]:
    if q.window:
        return q.window.start, q.window.end, q.window
    days = q.days or default_days
    end = today + dt.timedelta(days=days)
    return today, end, Window(today, end, f"in the next {days} days", "next_days", (("n", days),))


def _dates(store: Store, q: Query, scope: set[str] | None, today: dt.date, kinds: list[str], lang: str) -> Result:
    start, end, label = _window(q, today, DEFAULT_DATE_DAYS)
    rows = pa.dates_between(store, scope, start, end, today, tuple(kinds) or None, lang)
    return Result("key_dates", rows, [("cond_kinds", {"kinds": kinds})] if kinds else [], (start, end, label),
                  q.count)


def _birthdays(store: Store, q: Query, scope: set[str] | None, today: dt.date, lang: str) -> Result:
    start, end, label = _window(q, today, DEFAULT_BIRTHDAY_DAYS)
    if q.window and q.window.label == "this month":  # a birthday earlier this month is still this month's
        start = today.replace(day=1)
    names = pa._accounts(store, scope)
    with store.session() as s:
        query = select(ContactRow.account_id, ContactRow.name, ContactRow.title, ContactRow.birthday).where(
            ContactRow.birthday.is_not(None))
        if scope is not None:
            query = query.where(ContactRow.account_id.in_(list(scope)))
        found = s.execute(query).all()
    rows = []
    for aid, name, title, birthday in found:
        md = Contact(name=name, birthday=birthday).birthday_month_day if aid in names else None
        if md is None:
            continue
        for year in (start.year, start.year + 1):
            try:
                day = dt.date(year, *md)
            except ValueError:  # 29 February in a common year
                continue
            if start <= day <= end:
                text = t(lang, "birthday_line", date=day.isoformat(), name=f"**{name}**",
                         title=t(lang, "paren", text=title) if title else "", when=pa.when(lang, day, today))
                rows.append(pa.Row(aid, *names[aid], text, f"{aid}:contacts", "contacts", sort=(day, name)))
                break
    rows.sort(key=lambda r: r.sort)
    return Result("birthdays", rows, [], (start, end, label), q.count)


def _accounts(store: Store, q: Query, g: Grounding, scope: set[str] | None, today: dt.date,
              tiers: dict[str, str], stale_days: int, lang: str) -> Result:
    names = pa._accounts(store, scope)
    keep = set(names)
    extra: dict[str, list[str]] = {a: [] for a in names}
    conditions: list[tuple[str, dict]] = []
    sources: dict[str, tuple[str, str | None]] = {}

    if q.tier:
        keep &= {a for a in keep if tiers.get(a) == q.tier}
        conditions.append(("cond_tier", {"tier": q.tier}))
    items = _items(q, g)
    if items:
        listed: set[str] = set()
        for item in items:
            for row in pa.where_listed(store, scope, item.name, item.dimension, lang):
                if row.account_id in item.account_ids:
                    listed.add(row.account_id)
                    role = label(LABELS["item_roles"], lang, item.dimension)
                    extra[row.account_id].append(t(lang, "item_listed", role=role, text=row.text))
                    sources.setdefault(row.account_id, (row.source_id, item.dimension))
        keep &= listed
        conditions.append(("cond_items", {"names": " / ".join(dict.fromkeys(i.name for i in items))}))
    for kind, word in g.places:
        with store.session() as s:
            column = AccountRow.region if kind == "region" else AccountRow.industry
            values = dict(s.execute(select(AccountRow.id, column).where(AccountRow.id.in_(list(keep)))).all())
        keep = {a for a in keep if word in (values.get(a) or "").casefold()}
        conditions.append(("cond_place", {"word": word}))
    # "no econ buyer or DM": accounts lacking every role named
    roles = tuple(dict.fromkeys(r for c in q.concepts if c in ROLE_CONCEPTS for r in ROLE_CONCEPTS[c])) or None
    if "missing" in q.filters and (roles or q.has("contacts")):
        have = _roles(store, keep)
        if roles:
            keep = {a for a in keep if not have.get(a, set()) & set(roles)}
            conditions.append(("cond_no_role", {"roles": roles}))
        else:
            keep = {a for a in keep if not have.get(a)}
            conditions.append(("cond_no_contacts", {}))
        for a in keep:
            extra[a].append(pa.contacts_on_file(lang, have.get(a, set())))
            sources.setdefault(a, (f"{a}:contacts", "contacts"))
    if "single_threaded" in q.filters:
        counts = _contact_counts(store, keep)
        keep = {a for a in keep if counts.get(a, 0) <= 1}
        for a in keep:
            n = counts.get(a, 0)
            extra[a].append(t(lang, "contact_count_one") if n == 1 else t(lang, "contact_count", n=n))
            sources.setdefault(a, (f"{a}:contacts", "contacts"))
        conditions.append(("cond_single", {}))
    if "stale" in q.filters:
        days = q.days or stale_days
        stale = {r.account_id: r for r in pa.stale_accounts(store, keep, today, days, lang)}
        keep &= set(stale)
        for a in keep:
            extra[a].append(stale[a].text)
            sources.setdefault(a, (stale[a].source_id, None))
        conditions.append(("cond_stale", {"days": days}))
    if "not_contacted" in q.filters or (q.has("last_contact") and "missing" in q.filters):
        days = q.days or DEFAULT_CONTACT_DAYS
        last = last_contacts(store, keep)
        keep = {a for a in keep if last.get(a) is None or (today - last[a]).days > days}
        for a in keep:
            extra[a].append(pa.last_contact_text(lang, last.get(a), today))
            sources.setdefault(a, (f"{a}:interactions", "interactions"))
        conditions.append(("cond_not_contacted", {"days": days}))
    metric = (q.sort or (None,))[0] or (q.threshold[0] if q.threshold else None)
    values: dict[str, float | None] = {}
    if metric:
        if metric == "clv":  # computed from the metrics (skills/clv.py), not stored
            from skills.clv import portfolio_clv

            values = {a: c.value for a, c in portfolio_clv(store, list(keep), today).items()}
        else:
            with store.session() as s:
                values = dict(s.execute(select(MetricsRow.account_id, getattr(MetricsRow, metric))
                                        .where(MetricsRow.account_id.in_(list(keep)))).all())
        if q.threshold:
            _, side, bound = q.threshold
            keep = {a for a in keep if values.get(a) is not None
                    and (values[a] > bound if side == "above" else values[a] < bound)}
            conditions.append((f"cond_{side}", {"metric": metric, "value": _metric_text(metric, bound)}))
        for a in keep:
            extra[a].insert(0, t(lang, "metric_value", metric=label(METRIC_LABELS, lang, metric),
                                 value=_metric_text(metric, values.get(a), lang)))
            sources.setdefault(a, (f"{a}:metrics", "metrics"))
    rows = []
    for a in keep:
        name, owner = names[a]
        bits = extra[a] or [tiers.get(a, "untiered")]  # a tier, framed by the engine
        sid, dim = sources.get(a, (f"{a}:tier" if not extra[a] else f"{a}:profile", "tier" if not extra[a] else None))
        rows.append(pa.Row(a, name, owner, "; ".join(bits), sid, dim, sort=(name.casefold(),)))
    if q.sort:
        desc = q.sort[1]
        with_value = [r for r in rows if values.get(r.account_id) is not None]
        without = [r for r in rows if values.get(r.account_id) is None]
        with_value.sort(key=lambda r: (values[r.account_id] if not desc else -values[r.account_id], r.sort))
        rows = with_value + sorted(without, key=lambda r: r.sort)
        conditions.append(("cond_sort", {"metric": q.sort[0]}))
    else:
        rows.sort(key=lambda r: r.sort)
    if q.limit:
        rows = rows[: q.limit]
    return Result("accounts", rows, conditions, None, q.count)


def _items(q: Query, g: Grounding) -> list[ItemRef]:
    """The named suppliers / competitors / customers, in the dimension the question asks about when it says."""
    if not g.items:
        return []
    dims = [d for d in ("suppliers", "competitors", "downstream") if q.has(f"dim:{d}")]
    chosen = [i for i in g.items if i.dimension in dims] if dims else []
    return chosen or g.items


def _roles(store: Store, ids: set[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with store.session() as s:
        for a, role in s.execute(select(ContactRow.account_id, ContactRow.role)
                                 .where(ContactRow.account_id.in_(list(ids)))):
            out.setdefault(a, set()).add(role or "")
    return out


def _contact_counts(store: Store, ids: set[str]) -> dict[str, int]:
    with store.session() as s:
        return dict(s.execute(select(ContactRow.account_id, func.count(ContactRow.id))
                              .where(ContactRow.account_id.in_(list(ids)))
                              .group_by(ContactRow.account_id)).all())
