"""Per rival across a person's accounts: where it is present, its share and the account's satisfaction with it,
the share-weighted exposure, its trend over the last 90 and 365 days and where it is gaining (`kam rivals`, Ask).

Exposure (our revenue at risk): at each account, our revenue with the account (metrics.revenue) times the rival's
share of the account's spend in our category. A rival holding 55% of an account where we earn 3.8M puts 2.09M of
our revenue in play: it is the incumbent the customer compares us against, and where it gains, we lose first.
Summed over the rival's accounts. Accounts without our revenue on file count 0 and are said to.

Trend: the rival's share now minus its share 90 (365) days ago, from the dated history
(knowledge/supplier_history.py). A rival not on an account's supplier list then had 0; an account not yet on file
then has no trend (None). "Gaining": up over the last 90 days.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from sqlalchemy import select

from knowledge.db import AccountRow, DimensionRow, MetricsRow, json_text
from knowledge.profile import Person
from knowledge.store import Store
from knowledge.supplier_history import OURS, SupplierHistoryRow
from skills.rivals.vocab import fold, watch_vocab

TRENDS = (90, 365)


@dataclass
class RivalAt:
    account_id: str
    account: str
    owner: str
    tier: str | None
    share: float | None
    satisfaction: float | None  # the account's satisfaction with the rival (1-5)
    our_share: float | None
    our_revenue: float | None
    exposure: float  # our_revenue * share (0 when either is unknown)
    share_90d_ago: float | None = None
    change_90d: float | None = None  # share points (0.07 = 7 points)
    share_365d_ago: float | None = None
    change_365d: float | None = None
    gaining: bool = False
    updated: dt.date | None = None  # the account's supplier list was last updated (its `updated` date)


@dataclass
class RivalView:
    rival: str
    present_at: int
    exposure: float
    change_90d: float | None  # the sum of its share changes over the accounts with a trend
    change_365d: float | None
    gaining_at: list[str]
    satisfaction: float | None  # mean over the accounts that rate it
    accounts: list[RivalAt] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # how the profiles spell it

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["exposure"] = round(self.exposure, 2)
        for a in data["accounts"]:
            a["exposure"] = round(a["exposure"], 2)
        return data


def canonical_names() -> dict[str, str]:
    """folded name or alias -> the canonical rival name (watch.yaml)."""
    out: dict[str, str] = {}
    for name, others in watch_vocab().aliases.items():
        out[fold(name)] = name
        for other in others:
            out[fold(other)] = name
    return out


def _value_at(times: list[dt.datetime], values: list[float | None], when: dt.datetime) -> tuple[bool, float | None]:
    k = bisect_right(times, when) - 1
    return (k >= 0, values[k] if k >= 0 else None)


def rivals_report(store: Store, person: Person | None, today: dt.date, tiers: dict[str, str] | None = None,
                  rival: str | None = None) -> list[RivalView]:
    """Every rival (or the one named: a stored name or an alias) across what `person` may see (all: None),
    the largest exposure first."""
    visible = store.visible_account_ids(person) if person is not None else None
    canon = canonical_names()
    want = canon.get(fold(rival), rival) if rival else None
    by_rival: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    updated: dict[str, dt.date | None] = {}
    names: dict[str, set[str]] = defaultdict(set)
    folded: dict[str, str] = {}  # a stored name -> its rival's folded canonical name (thousands of repeats)
    with store.session() as s:
        accounts = {aid: (name, owner) for aid, name, owner in s.execute(
            select(AccountRow.id, AccountRow.name, AccountRow.owner)) if visible is None or aid in visible}
        metrics = {aid: (rev, share) for aid, rev, share in s.execute(
            select(MetricsRow.account_id, MetricsRow.revenue, MetricsRow.purchase_share)) if aid in accounts}
        for aid, raw, when in s.execute(select(DimensionRow.account_id, json_text(DimensionRow.data),
                                               DimensionRow.updated).where(DimensionRow.name == "suppliers")):
            if aid not in accounts or not raw:
                continue
            updated[aid] = when
            data = orjson.loads(raw)  # not the column type's decoder: 10,000 lists for the whole company
            for item in (data or {}).get("items", []) if isinstance(data, dict) else []:
                stored = str(item.get("name") or "")
                key = folded.get(stored) or folded.setdefault(stored, fold(canon.get(fold(stored), stored)))
                if stored and (want is None or key == fold(want)):
                    by_rival[key].append((aid, stored, item))
                    names[key].add(stored)
        touched = sorted({aid for items in by_rival.values() for aid, _, _ in items})
        series: dict[tuple[str, str], tuple[list[dt.datetime], list[float | None]]] = {}
        first_seen: dict[str, dt.datetime] = {}
        end_of_today = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
        latest_cut = end_of_today - dt.timedelta(days=min(TRENDS))  # later points do not change a trend
        parties: dict[str, str] = {}
        h = SupplierHistoryRow
        for i in range(0, len(touched), 500):
            q = select(h.account_id, h.party, h.value, h.at).where(
                h.account_id.in_(touched[i:i + 500]), h.metric == "share", h.at <= latest_cut).order_by(h.at, h.id)
            for aid, party, value, at in s.execute(q):
                if aid not in first_seen:  # oldest first
                    first_seen[aid] = at
                if party != OURS:
                    key = parties.get(party) or parties.setdefault(party, fold(party))
                    t, v = series.setdefault((aid, key), ([], []))
                    t.append(at)
                    v.append(value)
    tiers = tiers or {}
    out = []
    for key, items in by_rival.items():
        display = sorted(names[key])[0] if len(names[key]) == 1 else canon.get(key, sorted(names[key])[0])
        rows = []
        for aid, stored, item in items:
            rev, our_share = metrics.get(aid, (None, None))
            share = item.get("share")
            at = RivalAt(aid, accounts[aid][0], accounts[aid][1], tiers.get(aid), share, item.get("satisfaction"),
                         our_share, rev, (rev or 0) * (share or 0), updated=updated.get(aid))
            t, v = series.get((aid, parties.get(stored) or fold(stored)), ([], []))
            for days in TRENDS:
                when = end_of_today - dt.timedelta(days=days)
                found, then = _value_at(t, v, when)
                if not found:  # not on the list then: 0 if the account was on file, else unknown
                    known = aid in first_seen and first_seen[aid] <= when
                    then = 0.0 if known else None
                    if not known:
                        continue
                then = then or 0.0
                setattr(at, f"share_{days}d_ago", then)
                setattr(at, f"change_{days}d", round((share or 0) - then, 6))
            at.gaining = (at.change_90d or 0) > 1e-9
            rows.append(at)
        rows.sort(key=lambda r: (-r.exposure, r.account.casefold()))
        trends = {d: [getattr(r, f"change_{d}d") for r in rows if getattr(r, f"change_{d}d") is not None]
                  for d in TRENDS}
        rated = [r.satisfaction for r in rows if r.satisfaction is not None]
        out.append(RivalView(display, len(rows), sum(r.exposure for r in rows),
                             round(sum(trends[90]), 6) if trends[90] else None,
                             round(sum(trends[365]), 6) if trends[365] else None,
                             [r.account for r in rows if r.gaining],
                             round(sum(rated) / len(rated), 2) if rated else None, rows, sorted(names[key])))
    out.sort(key=lambda v: (-v.exposure, v.rival.casefold()))
    return out
