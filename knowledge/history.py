"""The change history of profiles, and the last imported version of each account per import source.

Every change to a profile, wherever it came from, is one `ProfileChangeRow`: account, field path
(knowledge/fields.py), old and new value, source (file, crm, filing, slack, cli, handover), actor, time, and
origin (the file or export it came from). Rows are only ever added.

`ProfileBaseRow` keeps, per account and import source (a profile file, the CRM, a filing), the fields as that
source last delivered them: the base of the three-way merge in knowledge/merge.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from knowledge.db import Base, utcnow
from knowledge.supplier_history import record_points, watched

SOURCES = ("file", "crm", "filing", "slack", "cli", "handover")


class ProfileChangeRow(Base):
    __tablename__ = "profile_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1000))
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(320))
    origin: Mapped[str | None] = mapped_column(String(1000))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_profile_changes_account_at", "account_id", "at"),
                      Index("ix_profile_changes_at", "at"))  # the competitor watch reads a day's changes


class ProfileBaseRow(Base):
    __tablename__ = "profile_bases"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(500), primary_key=True)  # file path, "crm", "filing:cik:N"
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


@dataclass
class Change:
    account_id: str
    path: str
    old: Any
    new: Any
    source: str
    actor: str | None
    at: dt.datetime
    origin: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat(timespec="seconds") + "Z"
        return data


def import_actor() -> str:
    """Who runs an import: $KAM_ACTOR, else the operating-system user."""
    import getpass
    import os

    try:
        return os.environ.get("KAM_ACTOR") or getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without /etc/passwd entry)
        return "unknown"


def file_time(path: Path) -> dt.datetime:
    """When a file was last changed (naive UTC, as history times are)."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(path, old, new) for every path whose value differs; paths in `after`'s order, then removed ones."""
    out = [(p, before.get(p), v) for p, v in after.items() if before.get(p) != v]
    out += [(p, v, None) for p, v in before.items() if p not in after]
    return out


def record(s: Session, account_id: str, changes: list[tuple[str, Any, Any]], *, source: str,
           actor: str | None, at: dt.datetime | None = None, origin: str | None = None) -> list[Change]:
    """Add one history row per (path, old, new); `source` is one of SOURCES."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    at = at or utcnow()
    _record_watched(s, account_id, changes, source=source, actor=actor, at=at, origin=origin)
    rows = [{"account_id": account_id, "path": p[:1000], "old": old, "new": new, "source": source,
             "actor": actor, "origin": origin[:1000] if origin else None, "at": at} for p, old, new in changes]
    if rows:
        s.execute(insert(ProfileChangeRow), rows)
    return [Change(account_id, p, old, new, source, actor, at, origin) for p, old, new in changes]


def _record_watched(s: Session, account_id: str, changes: list[tuple[str, Any, Any]], *, source: str,
                    actor: str | None, at: dt.datetime, origin: str | None) -> None:
    """Shares and satisfaction also go to their dated series (knowledge/supplier_history.py, the competitor watch);
    an account without earlier history is being loaded for the first time."""
    if not any(watched(p) for p, _, _ in changes):
        return
    first = s.scalar(select(ProfileChangeRow.id).where(ProfileChangeRow.account_id == account_id).limit(1)) is None
    record_points(s, account_id, changes, first=first, source=source, actor=actor, origin=origin, at=at)


def last_changed(s: Session, account_id: str) -> dict[str, dt.datetime]:
    """path -> when it last changed, from any source."""
    out: dict[str, dt.datetime] = {}
    for path, at in s.execute(select(ProfileChangeRow.path, ProfileChangeRow.at)
                              .where(ProfileChangeRow.account_id == account_id)):
        if path not in out or at > out[path]:
            out[path] = at
    return out


def load_base(s: Session, account_id: str, source_key: str) -> dict[str, Any] | None:
    row = s.get(ProfileBaseRow, (account_id, source_key[:500]))
    return dict(row.fields) if row is not None else None


def save_base(s: Session, account_id: str, source_key: str, fields: dict[str, Any]) -> None:
    row = s.get(ProfileBaseRow, (account_id, source_key[:500]))
    if row is None:
        s.add(ProfileBaseRow(account_id=account_id, source_key=source_key[:500], fields=fields, at=utcnow()))
    elif row.fields != fields:
        row.fields, row.at = fields, utcnow()


def changes_of(s: Session, account_id: str, since: dt.datetime | None = None,
               until: dt.datetime | None = None) -> list[Change]:
    """An account's history, oldest first."""
    q = select(ProfileChangeRow).where(ProfileChangeRow.account_id == account_id)
    if since is not None:
        q = q.where(ProfileChangeRow.at >= since)
    if until is not None:
        q = q.where(ProfileChangeRow.at < until)
    return [Change(r.account_id, r.path, r.old, r.new, r.source, r.actor, r.at, r.origin)
            for r in s.scalars(q.order_by(ProfileChangeRow.at, ProfileChangeRow.id))]
