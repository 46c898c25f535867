"""The delivery ledger (exactly-once sending), per-nudge state (done / snoozed) and per-recipient sweep progress.

Ledger protocol: a row per (kind, subject, occurrence, recipient) is *claimed* in one transaction before the
message leaves and marked *sent* right after. A claimed row left behind by a crash is claimed again and sent by
the next sweep; a sent row is never sent again. Only one scheduler runs per database (scheduler/runner.py), so a
claimed row found by a sweep always belongs to a run that died.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.db import Base, utcnow
from knowledge.store import Store


class DeliveryRow(Base):
    __tablename__ = "delivery_ledger"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(400))
    occurrence: Mapped[str] = mapped_column(String(120))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    status: Mapped[str] = mapped_column(String(12), default="claimed")  # claimed | sent
    claim: Mapped[str | None] = mapped_column(String(40))  # the run that claimed it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    local_day: Mapped[dt.date | None] = mapped_column(Date)  # recipient's local date when sent
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    channel: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("kind", "subject", "occurrence", "recipient", name="uq_delivery"),)


class NudgeStateRow(Base):
    """What a rep did with a nudge: done (for this cycle) or snoozed until a date."""

    __tablename__ = "nudge_state"
    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(400), primary_key=True)
    cycle: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # done | snoozed
    until: Mapped[dt.date | None] = mapped_column(Date, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the nudge, to bring it back
    by: Mapped[str | None] = mapped_column(String(320))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class SweepProgressRow(Base):
    """The last local day fully swept per recipient and job: where catch-up starts after downtime."""

    __tablename__ = "sweep_progress"
    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    job: Mapped[str] = mapped_column(String(32), primary_key=True)  # nudges | digest
    through: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class Key:
    kind: str
    subject: str
    occurrence: str
    recipient: str


@dataclass
class Claimed:
    id: int
    key: Key
    retry: bool  # a claim left behind by a crashed run


def new_claim_token() -> str:
    return uuid.uuid4().hex


def claim(store: Store, items: Iterable[tuple[Key, dict[str, Any], bool, dt.date]], token: str) -> list[Claimed]:
    """Claim deliveries (key, payload, late, local_day) not yet sent; returns those this run must send."""
    items = list(items)
    out: list[Claimed] = []
    if not items:
        return out
    with store.session() as s:
        existing = {}
        subjects = sorted({k.subject for k, *_ in items})
        for i in range(0, len(subjects), 500):  # bounded IN lists
            for r in s.scalars(select(DeliveryRow).where(DeliveryRow.subject.in_(subjects[i:i + 500]))):
                existing[(r.kind, r.subject, r.occurrence, r.recipient)] = r
        for key, payload, late, day in items:
            row = existing.get((key.kind, key.subject, key.occurrence, key.recipient))
            if row is not None and row.status == "sent":
                continue
            retry = row is not None
            if row is None:
                row = DeliveryRow(kind=key.kind, subject=key.subject, occurrence=key.occurrence,
                                  recipient=key.recipient, attempts=0)
                s.add(row)
                existing[(key.kind, key.subject, key.occurrence, key.recipient)] = row
            row.status, row.claim, row.claimed_at, row.attempts = "claimed", token, utcnow(), row.attempts + 1
            row.late, row.local_day, row.payload = late, day, payload
            s.flush()
            out.append(Claimed(row.id, key, retry))
    return out


def mark_sent(store: Store, ids: list[int], channel: str, ts: str) -> None:
    with store.session() as s:
        for row in s.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(ids))):
            row.status, row.sent_at, row.channel, row.ts = "sent", utcnow(), channel, ts


def delivery(store: Store, ledger_id: int) -> DeliveryRow | None:
    with store.session() as s:
        return s.get(DeliveryRow, ledger_id)


def deliveries(store: Store, kind: str | None = None, recipient: str | None = None,
               status: str | None = "sent") -> list[DeliveryRow]:
    with store.session() as s:
        q = select(DeliveryRow).order_by(DeliveryRow.id)
        if kind:
            q = q.where(DeliveryRow.kind == kind)
        if recipient:
            q = q.where(DeliveryRow.recipient == recipient)
        if status:
            q = q.where(DeliveryRow.status == status)
        return list(s.scalars(q))


def last_sent_day(store: Store, kind: str, recipient: str) -> dt.date | None:
    """The recipient's local day of the latest sent delivery of a kind (e.g. the last digest)."""
    with store.session() as s:
        return s.scalar(select(DeliveryRow.local_day).where(
            DeliveryRow.kind == kind, DeliveryRow.recipient == recipient, DeliveryRow.status == "sent")
            .order_by(DeliveryRow.local_day.desc()).limit(1))


# ------------------------------------------------------------------ nudge state
def states(store: Store, recipients: set[str] | None = None) -> dict[tuple[str, str, str], NudgeStateRow]:
    with store.session() as s:
        q = select(NudgeStateRow)
        if recipients is not None:
            q = q.where(NudgeStateRow.recipient.in_(list(recipients)))
        return {(r.recipient, r.kind, r.subject): r for r in s.scalars(q)}


def set_state(store: Store, payload: dict[str, Any], status: str, until: dt.date | None, by: str | None) -> None:
    """Record done / snoozed for a nudge (given as its JSON payload: recipient, kind, subject, cycle)."""
    if status not in ("done", "snoozed"):
        raise ValueError("status must be done or snoozed")
    with store.session() as s:
        row = s.get(NudgeStateRow, (payload["recipient"], payload["kind"], payload["subject"]))
        if row is None:
            row = NudgeStateRow(recipient=payload["recipient"], kind=payload["kind"], subject=payload["subject"])
            s.add(row)
        row.cycle, row.status, row.until, row.payload, row.by = payload["cycle"], status, until, payload, by


def sweep_progress(store: Store, job: str) -> dict[str, dt.date]:
    with store.session() as s:
        return {r.recipient: r.through for r in s.scalars(select(SweepProgressRow).where(SweepProgressRow.job == job))}


def set_progress(store: Store, job: str, recipient: str, through: dt.date) -> None:
    with store.session() as s:
        row = s.get(SweepProgressRow, (recipient, job))
        if row is None:
            s.add(SweepProgressRow(recipient=recipient, job=job, through=through))
        elif through > row.through:
            row.through = through


def open_nudges(store: Store, recipient: str, today: dt.date) -> list[dict[str, Any]]:
    """Sent nudges of a recipient not yet done nor snoozed past today (for the App Home), newest first."""
    st = states(store, {recipient})
    out, seen = [], set()
    for row in reversed(deliveries(store, recipient=recipient)):
        p = row.payload or {}
        if row.kind == "digest" or not p.get("subject"):
            continue
        ident = (row.kind, p["subject"], p.get("cycle"))
        if ident in seen:
            continue
        seen.add(ident)
        state = st.get((recipient, row.kind, p["subject"]))
        if state is not None and state.cycle == p.get("cycle") and (
                state.status == "done" or (state.until is not None and state.until > today)):
            continue
        out.append({**p, "ledger_id": row.id})
    return out
