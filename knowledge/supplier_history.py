"""The dated history of each account's supplier list (each rival's share and satisfaction) and of our own
purchase share and satisfaction: what the competitor watch (skills/rivals) compares.

Rows are added by `knowledge.history.record`, the one place every profile change passes through (file ingest, CRM
import, filings, Slack and CLI edits, handovers), so no path can change a share without it being dated here.
A row holds one value as it became (`value` None: the supplier or figure was removed). `initial` marks the rows of
an account's first load: they say where the account started, not that anything changed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from knowledge.db import Base

OURS = ""  # the `party` of our own figures (metrics.purchase_share, metrics.satisfaction)
METRICS = ("share", "satisfaction")
_SUPPLIER_PATH = re.compile(r"^suppliers\.items\[((?:[^\]\\]|\\.)*)\]\.(share|satisfaction)$")
_OUR_PATHS = {"metrics.purchase_share": "share", "metrics.satisfaction": "satisfaction"}


class SupplierHistoryRow(Base):
    __tablename__ = "supplier_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    party: Mapped[str] = mapped_column(String(300))  # the supplier's name as stored; OURS for us
    metric: Mapped[str] = mapped_column(String(16))  # share | satisfaction
    value: Mapped[float | None] = mapped_column(Float)
    initial: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(320))
    origin: Mapped[str | None] = mapped_column(String(1000))
    at: Mapped[dt.datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_supplier_history_series", "account_id", "party", "metric", "at"),
                      Index("ix_supplier_history_at", "at"))


@dataclass(frozen=True)
class Point:
    """One dated value of one series (an account's supplier or our own figure, one metric)."""

    account_id: str
    party: str
    metric: str
    value: float | None
    initial: bool
    source: str
    actor: str | None
    origin: str | None
    at: dt.datetime

    @property
    def ours(self) -> bool:
        return self.party == OURS

    def source_json(self) -> dict[str, Any]:
        return {"source": self.source, "actor": self.actor, "origin": self.origin,
                "at": self.at.isoformat(timespec="seconds") + "Z"}


def watched(path: str) -> tuple[str, str] | None:
    """(party, metric) when a field path is one the history keeps, else None."""
    if path in _OUR_PATHS:
        return OURS, _OUR_PATHS[path]
    m = _SUPPLIER_PATH.match(path)
    if m is None:
        return None
    return re.sub(r"\\(.)", r"\1", m.group(1)), m.group(2)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def record_points(s: Session, account_id: str, changes: list[tuple[str, Any, Any]], *, first: bool, source: str,
                  actor: str | None, origin: str | None, at: dt.datetime) -> int:
    """Add a row per watched change; `first`: the account's first load. Returns the rows added."""
    rows = []
    for path, old, new in changes:
        key = watched(path)
        if key is None or _number(old) == _number(new):
            continue
        rows.append({"account_id": account_id, "party": key[0][:300], "metric": key[1], "value": _number(new),
                     "initial": first, "source": source, "actor": actor,
                     "origin": origin[:1000] if origin else None, "at": at})
    if rows:
        s.execute(insert(SupplierHistoryRow), rows)
    return len(rows)


def point(r: SupplierHistoryRow | Any) -> Point:
    return Point(r.account_id, r.party, r.metric, r.value, bool(r.initial), r.source, r.actor, r.origin, r.at)
