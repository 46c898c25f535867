"""Tiering tables on the shared `Base`: reviews, per-account history, the current placement state and overrides."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.db import Base, utcnow


class TierReviewRow(Base):
    """One review run: every account rescored under one config."""

    __tablename__ = "tier_reviews"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    by: Mapped[str | None] = mapped_column(String(320))  # who asked (cli, scheduler, an email)
    config: Mapped[str] = mapped_column(String(32))  # fingerprint of the tiering config used
    first_history_id: Mapped[int | None] = mapped_column(Integer)  # this review's history rows: an id range,
    last_history_id: Mapped[int | None] = mapped_column(Integer)  # read through the primary key, no extra index
    factors: Mapped[str] = mapped_column(Text)  # JSON list: the order of the raw/contribution arrays below
    accounts: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[int] = mapped_column(Integer, default=0)


class TierHistoryRow(Base):
    """Every review placement, override, expiry and confirmation of an account, in order."""

    __tablename__ = "tier_history"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("tier_reviews.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(80))  # no FK: the history outlives a deleted account
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # review | override | override_cleared | confirm
    old_tier: Mapped[str | None] = mapped_column(String(16))
    new_tier: Mapped[str | None] = mapped_column(String(16))
    scored_tier: Mapped[str | None] = mapped_column(String(16))  # what the scores alone say (after hysteresis)
    importance: Mapped[float | None] = mapped_column(Float)
    strength: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[str | None] = mapped_column(Text)  # JSON list of raw factor values (null = unknown)
    contributions: Mapped[str | None] = mapped_column(Text)  # JSON list of contributions to the factor's axis
    reason: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str | None] = mapped_column(String(320))
    until: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_tier_history_account", "account_id", "id"),
        # the tier changes only (a few per review): "previous tier" without scanning every review's rows
        Index("ix_tier_history_changes", "account_id", "id", sqlite_where=text("old_tier <> new_tier"),
              postgresql_where=text("old_tier <> new_tier")),
    )


class TierStateRow(Base):
    """Where each account stands after the last review: the held side of each axis and the hysteresis streaks.

    A review rewrites only the rows that changed; the scores are in the review's history rows."""

    __tablename__ = "tier_state"
    account_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16))  # scored tier after hysteresis and the key cap
    high_importance: Mapped[bool] = mapped_column(Boolean)
    high_strength: Mapped[bool] = mapped_column(Boolean)
    streak_importance: Mapped[int] = mapped_column(Integer, default=0)  # reviews in a row across the boundary
    streak_strength: Mapped[int] = mapped_column(Integer, default=0)


class TierOverrideRow(Base):
    """A manager's or admin's manual tier, with a reason and an optional last day."""

    __tablename__ = "tier_overrides"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(80), index=True)
    tier: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    until: Mapped[dt.date | None] = mapped_column(Date)  # last day it applies; None = until cleared
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cleared_by: Mapped[str | None] = mapped_column(String(320))
