"""Contact cadence: which accounts are overdue for contact given their tier, and which need escalating."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from knowledge.db import AccountRow, InteractionRow
from knowledge.settings import Settings
from knowledge.store import Store


@dataclass
class Overdue:
    account_id: str
    account: str
    owner: str
    tier: str
    last_contact: dt.date | None  # None: never contacted on record
    days_since: int | None
    cadence_days: int
    escalate: bool  # overdue past twice the cadence: goes to the manager's digest

    @property
    def days_overdue(self) -> int:
        return (self.days_since if self.days_since is not None else 10**6) - self.cadence_days


def last_contacts(store: Store, account_ids: set[str] | None = None) -> dict[str, dt.date]:
    """Latest interaction date per account, in one query."""
    with store.session() as s:
        q = select(InteractionRow.account_id, func.max(InteractionRow.date)).group_by(InteractionRow.account_id)
        if account_ids is not None:
            q = q.where(InteractionRow.account_id.in_(list(account_ids)))
        return {aid: day for aid, day in s.execute(q)}


def overdue_accounts(store: Store, settings: Settings, tiers: dict[str, str], today: dt.date,
                     account_ids: set[str] | None = None) -> list[Overdue]:
    """Accounts whose latest interaction is older than their tier's cadence, most overdue first."""
    last = last_contacts(store, account_ids)
    with store.session() as s:
        q = select(AccountRow.id, AccountRow.name, AccountRow.owner)
        if account_ids is not None:
            q = q.where(AccountRow.id.in_(list(account_ids)))
        rows = s.execute(q).all()
    out = []
    for account_id, name, owner in rows:
        tier = tiers.get(account_id)
        cadence = settings.cadence_days(tier)
        if not cadence:
            continue
        seen = last.get(account_id)
        days = (today - seen).days if seen else None
        if days is None or days > cadence:
            out.append(Overdue(account_id, name, owner, tier, seen, days, cadence,
                               escalate=days is None or days > 2 * cadence))
    out.sort(key=lambda o: o.days_overdue, reverse=True)
    return out
