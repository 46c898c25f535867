"""The tiers in force: the last review's placement, or an unexpired override. Light on purpose (no numpy, no
scoring): `kam accounts`, the nudges and Ask read it, and history.py re-exports it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select

from knowledge.store import Store
from skills.tiering.models import TierOverrideRow, TierStateRow


@dataclass
class Override:
    id: int
    account_id: str
    tier: str
    reason: str
    by: str
    created_at: dt.datetime
    until: dt.date | None

    def to_json(self) -> dict:
        return {"tier": self.tier, "reason": self.reason, "by": self.by, "until": self.until,
                "created_at": self.created_at}


def _active_overrides(conn: Connection, today: dt.date, include_expired: bool = False) -> dict[str, Override]:
    """The override in force per account (the newest one; setting one clears the older ones)."""
    t = TierOverrideRow
    q = select(t.id, t.account_id, t.tier, t.reason, t.by, t.created_at, t.until).where(t.cleared_at.is_(None))
    if not include_expired:
        q = q.where(or_(t.until.is_(None), t.until >= today))
    out: dict[str, Override] = {}
    for row in conn.execute(q.order_by(t.id)):
        out[row.account_id] = Override(*row)
    return out


def active_overrides(store: Store, today: dt.date | None = None) -> dict[str, Override]:
    with store.engine.connect() as conn:
        return _active_overrides(conn, today or dt.date.today())


def current_tiers(store: Store, today: dt.date | None = None) -> dict[str, str]:
    """account id -> tier in force: the last review's placement, or an unexpired override. Unreviewed: absent."""
    with store.engine.connect() as conn:
        tiers = dict(conn.execute(select(TierStateRow.account_id, TierStateRow.tier)).all())
        for account_id, ov in _active_overrides(conn, today or dt.date.today()).items():
            tiers[account_id] = ov.tier
    return tiers
