"""Service-case tables on the shared `Base`: the cases and every step taken on them (skills/cases.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.db import Base, utcnow


class CaseRow(Base):
    """One service case: what happened at an account, who handles it, and where it stands in the loop."""

    __tablename__ = "service_cases"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8), default="normal")  # low | normal | high
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | acknowledged | resolved | closed | reopened
    opened_by: Mapped[str] = mapped_column(String(320))
    owner: Mapped[str] = mapped_column(String(320), index=True)  # the account owner unless assigned to a team member
    source: Mapped[str] = mapped_column(String(16), default="cli")  # cli | slack
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reopened_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the service levels count from here then
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # the customer's, 1-5, on confirmation
    note: Mapped[str | None] = mapped_column(Text)  # the customer's note on confirmation
    channel: Mapped[str | None] = mapped_column(String(64))  # the Slack thread where the case lives
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_service_cases_state", "state"),)


class CaseEventRow(Base):
    """Every step of a case (opened, acknowledged, resolved, confirmed, reopened, reassigned): who, when, note."""

    __tablename__ = "service_case_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("service_cases.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    by: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
