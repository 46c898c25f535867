"""Portfolio questions answered exactly from the store (never from top-k chunks), within the asker's scope.

Each function returns rows (account, text, source id, dimension, updated) that the engine frames and cites; the
LLM agent gets the same functions as tools.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rapidfuzz import fuzz
from sqlalchemy import select

from knowledge.db import AccountRow, ContactRow, DimensionRow, KeyDateRow
from knowledge.profile import DIMENSIONS
from knowledge.store import Store
from skills.ask.phrases import DIM_LABELS, KIND_LABELS, LABELS, ROLE_LABELS, label, t
from skills.cadence import last_contacts


@dataclass
class Row:
    account_id: str
    account: str
    owner: str
    text: str  # the line shown after the account name
    source_id: str
    dimension: str | None
    updated: dt.date | None = None
    sort: tuple = ()


def _accounts(store: Store, ids: set[str] | None) -> dict[str, tuple[str, str]]:
    with store.session() as s:
        q = select(AccountRow.id, AccountRow.name, AccountRow.owner)
        if ids is not None:
            q = q.where(AccountRow.id.in_(list(ids)))
        return {a: (n, o) for a, n, o in s.execute(q)}


def _in(q, column, ids: set[str] | None):  # noqa: ANN001, ANN202 - SQLAlchemy select, column
    return q if ids is None else q.where(column.in_(list(ids)))


def tier_map(store: Store, today: dt.date) -> dict[str, str]:
    """account id -> tier, {} when tiers have never been computed (or the tiering feature is absent)."""
    from skills.portfolio import current_tier_map

    return current_tier_map(store, today)


def accounts_in_tier(store: Store, ids: set[str] | None, tier: str | None, tiers: dict[str, str]) -> list[Row]:
    names = _accounts(store, ids)
    rows = [Row(a, n, o, tiers.get(a, "untiered"), f"{a}:tier", "tier", sort=(n.casefold(),))
            for a, (n, o) in names.items() if tier is None or tiers.get(a) == tier]
    return sorted(rows, key=lambda r: r.sort)


def when(lang: str, day: dt.date, today: dt.date) -> str:
    """"in 3 days", "today", "2 days ago", in the answer's language."""
    days = (day - today).days
    return t(lang, "today") if days == 0 else t(lang, "in_days", days=days) if days > 0 else t(lang, "days_ago",
                                                                                               days=-days)


def dates_between(store: Store, ids: set[str] | None, start: dt.date, end: dt.date, today: dt.date,
                  kinds: tuple[str, ...] | None = None, lang: str = "en") -> list[Row]:
    names = _accounts(store, ids)
    with store.session() as s:
        q = _in(select(KeyDateRow).where(KeyDateRow.date >= start, KeyDateRow.date <= end), KeyDateRow.account_id,
                ids)
        if kinds:
            q = q.where(KeyDateRow.kind.in_(kinds))
        found = [(k.account_id, k.date, k.kind, k.title) for k in s.scalars(q)]
    rows = [Row(a, *names[a], t(lang, "date_line", date=day.isoformat(), kind=label(KIND_LABELS, lang, kind),
                                title=title, when=when(lang, day, today)),
                f"{a}:key_dates", "key_dates", sort=(day, names[a][0].casefold()))
            for a, day, kind, title in found if a in names]
    return sorted(rows, key=lambda r: r.sort)


def _matches(name: str, wanted: str) -> bool:
    a, b = name.casefold(), wanted.casefold()
    return a == b or (len(b) >= 3 and (b in a or a in b)) or fuzz.ratio(a, b) >= 88


def where_listed(store: Store, ids: set[str] | None, name: str, dimension: str, lang: str = "en") -> list[Row]:
    """Accounts whose suppliers / competitors / downstream items name `name` (typos tolerated)."""
    names = _accounts(store, ids)
    with store.session() as s:
        q = _in(select(DimensionRow.account_id, DimensionRow.data, DimensionRow.updated)
                .where(DimensionRow.name == dimension), DimensionRow.account_id, ids)
        found = s.execute(q).all()
    rows = []
    for a, data, updated in found:
        if a not in names:
            continue
        for item in (data or {}).get("items", []):
            if _matches(item.get("name", ""), name):
                bits = [item["name"]]
                fields = LABELS["profile_fields"]
                if item.get("share") is not None:
                    bits.append(f"{label(fields, lang, 'share')} {item['share'] * 100:.0f}%")
                if item.get("satisfaction") is not None:
                    bits.append(f"{label(fields, lang, 'satisfaction')} {item['satisfaction']:g}/5")
                for extra in ("needs", "notes"):
                    if item.get(extra):
                        bits.append(item[extra])
                rows.append(Row(a, *names[a], "; ".join(bits), f"{a}:dim:{dimension}", dimension, updated,
                                sort=(-(item.get("share") or 0), names[a][0].casefold())))
    return sorted(rows, key=lambda r: r.sort)


def contacts_on_file(lang: str, roles: set[str]) -> str:
    """"contacts on file: influencer, user" (or "no contacts on file"), in the answer's language."""
    known = sorted(r for r in roles if r)
    if not known:
        return t(lang, "cond_no_contacts")
    return t(lang, "contacts_on_file", roles=t(lang, "list_sep").join(label(ROLE_LABELS, lang, r) for r in known))


def without_decision_maker(store: Store, ids: set[str] | None, lang: str = "en") -> list[Row]:
    names = _accounts(store, ids)
    with store.session() as s:
        q = _in(select(ContactRow.account_id, ContactRow.role), ContactRow.account_id, ids)
        roles: dict[str, set[str]] = {}
        for a, role in s.execute(q):
            roles.setdefault(a, set()).add(role or "")
    rows = []
    for a, (n, o) in names.items():
        have = roles.get(a, set())
        if not have & {"decision_maker", "economic_buyer"}:
            rows.append(Row(a, n, o, contacts_on_file(lang, have), f"{a}:contacts", "contacts", sort=(n.casefold(),)))
    return sorted(rows, key=lambda r: r.sort)


def stale_accounts(store: Store, ids: set[str] | None, today: dt.date, days: int, lang: str = "en") -> list[Row]:
    names = _accounts(store, ids)
    with store.session() as s:
        q = _in(select(DimensionRow.account_id, DimensionRow.name, DimensionRow.updated), DimensionRow.account_id,
                ids)
        dated: dict[str, dict[str, dt.date | None]] = {}
        for a, dim, updated in s.execute(q):
            dated.setdefault(a, {})[dim] = updated
    rows = []
    for a, (n, o) in names.items():
        old, never = [], []
        for dim in DIMENSIONS:
            updated = dated.get(a, {}).get(dim)
            if updated is None:
                never.append(label(DIM_LABELS, lang, dim))
            elif (today - updated).days > days:
                old.append(t(lang, "stale_dim", dim=label(DIM_LABELS, lang, dim), date=updated.isoformat(),
                             days=(today - updated).days))
        if old or never:
            sep = t(lang, "list_sep")
            text = "; ".join(filter(None, [t(lang, "stale_dims", dims=sep.join(old)) if old else "",
                                           t(lang, "never_filled", dims=sep.join(never)) if never else ""]))
            oldest = min((dated[a][d] for d in dated.get(a, {}) if dated[a][d]), default=None)
            rows.append(Row(a, n, o, text, f"{a}:profile", None, oldest, sort=(-len(old) - len(never), n.casefold())))
    return sorted(rows, key=lambda r: r.sort)


def last_contact_text(lang: str, seen: dt.date | None, today: dt.date) -> str:
    if seen is None:
        return t(lang, "no_contact_on_record")
    return t(lang, "last_contact_at", date=seen.isoformat(), ago=when(lang, seen, today))


def not_contacted(store: Store, ids: set[str] | None, today: dt.date, days: int, lang: str = "en") -> list[Row]:
    names = _accounts(store, ids)
    last = last_contacts(store, ids)
    rows = []
    for a, (n, o) in names.items():
        seen = last.get(a)
        if seen is None or (today - seen).days > days:
            rows.append(Row(a, n, o, last_contact_text(lang, seen, today), f"{a}:interactions", "interactions", seen,
                            sort=(seen or dt.date.min, n.casefold())))
    return sorted(rows, key=lambda r: r.sort)
