"""The inbox: every Slack event (and slash command) acknowledged with HTTP 200 is journalled here *before* the ack.

Slack never resends an event it got a 200 for, so an event kept only in memory until answered is lost when the
process dies (kill -9, OOM, a host going down). The journal row is written first, then the 200 goes out; the row is
marked done when the event was handled and failed when it was given up (the asker is told). A process working on
an event holds a lease on its row (`lease_until`), refreshed by a heartbeat while it lives; rows whose lease ran out
(their process died) are picked up again by any bot process (`due`), at most KAM_BOT_RETRIES times per event.

This module imports only SQLAlchemy and knowledge.db, so the small HTTP front (bot/front.py) can journal too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import DateTime, Integer, String, Text, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.db import Base, retry_busy, utcnow

T = TypeVar("T")

PENDING, DONE, FAILED = "pending", "done", "failed"
ACK_BUSY = 2.0  # seconds an acknowledgement waits for a busy database before answering 503 (Slack resends)
MAX_WORK = dt.timedelta(minutes=15)  # a lease is no longer refreshed after this: work stuck this long is retried


class SlackInboxRow(Base):
    """One acknowledged Slack event (its raw body) until it is done or given up."""

    __tablename__ = "slack_inbox"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "event:<event_id>", "command:<trigger_id>"
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(8), default=PENDING, index=True)  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times a process took it on
    owner: Mapped[str | None] = mapped_column(String(32))  # the process working on it now
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(400))


class Inbox:
    """The journal of acknowledged events, on the app's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, lease_seconds: float = 30.0, busy_seconds: float = 120.0):
        self.engine, self.busy_seconds = engine, busy_seconds
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.owner = uuid.uuid4().hex  # this process

    def _write(self, work: Callable[..., T], ack_path: bool = False) -> T:
        """One transaction, retried while the database is busy. On the ack path the wait is short (ACK_BUSY): Slack
        gives up on a reply after 3 s, and a delivery refused with 503 is simply sent again by Slack."""
        sqlite = self.engine.dialect.name == "sqlite"

        def attempt() -> T:
            with self.engine.begin() as conn:
                if ack_path and sqlite:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(ACK_BUSY * 500)}")
                try:
                    return work(conn)
                finally:
                    if ack_path and sqlite:
                        conn.exec_driver_sql("PRAGMA busy_timeout=10000")  # knowledge.db.make_engine's

        return retry_busy(attempt, min(self.busy_seconds, ACK_BUSY) if ack_path else self.busy_seconds)

    def add(self, key: str, body: str) -> bool:
        """Journal an event before it is acknowledged; True if it is new (False: Slack's retry or a second front)."""
        table = SlackInboxRow.__table__
        insert = sqlite_insert if self.engine.dialect.name == "sqlite" else pg_insert
        stmt = (insert(table).values(key=key, body=body, received_at=utcnow(), status=PENDING, attempts=0)
                .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key))
        return self._write(lambda c: c.execute(stmt).first() is not None, ack_path=True)  # RETURNING, not rowcount

    def accept(self, key: str, body: str) -> int | None:
        """Journal an event and take it on, in one write (the ack path): its attempt number, or None if it was
        journalled before and is done, failed or being worked on (then `claim` decides)."""
        now = utcnow()
        table = SlackInboxRow.__table__
        insert = sqlite_insert if self.engine.dialect.name == "sqlite" else pg_insert
        stmt = (insert(table).values(key=key, body=body, received_at=now, status=PENDING, attempts=1,
                                     owner=self.owner, claimed_at=now, lease_until=now + self.lease)
                .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key))
        if self._write(lambda c: c.execute(stmt).first() is not None, ack_path=True):
            return 1
        return self.claim(key, ack_path=True)

    def claim(self, key: str, ack_path: bool = False) -> int | None:
        """Take an event on: its attempt number, or None if it is done, failed or leased by a live process."""
        now = utcnow()
        stmt = (update(SlackInboxRow).where(
            SlackInboxRow.key == key, SlackInboxRow.status == PENDING,
            or_(SlackInboxRow.lease_until.is_(None), SlackInboxRow.lease_until < now))
            .values(owner=self.owner, claimed_at=now, lease_until=now + self.lease,
                    attempts=SlackInboxRow.attempts + 1)
            .returning(SlackInboxRow.attempts))
        return self._write(lambda c: c.execute(stmt).scalar(), ack_path)

    def body(self, key: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(SlackInboxRow.body).where(SlackInboxRow.key == key)).scalar()

    def received_at(self, key: str) -> dt.datetime | None:
        with self.engine.connect() as c:
            return c.execute(select(SlackInboxRow.received_at).where(SlackInboxRow.key == key)).scalar()

    def attempts(self, key: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(SlackInboxRow.attempts).where(SlackInboxRow.key == key)).scalar() or 0)

    def status(self, key: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(SlackInboxRow.status).where(SlackInboxRow.key == key)).scalar()

    def due(self, limit: int = 50) -> list[str]:
        """Pending events nobody is working on: their lease ran out (the process died, or a retry's pause is
        over), or they were journalled a lease ago and never taken on (a front whose bot was down)."""
        now = utcnow()
        with self.engine.connect() as c:
            return list(c.execute(select(SlackInboxRow.key).where(
                SlackInboxRow.status == PENDING,
                or_(SlackInboxRow.lease_until < now,
                    and_(SlackInboxRow.lease_until.is_(None), SlackInboxRow.received_at < now - self.lease)))
                .order_by(SlackInboxRow.received_at).limit(limit)).scalars())

    def finish(self, key: str) -> None:
        self._close(key, DONE, None)

    def fail(self, key: str, error: str) -> None:
        self._close(key, FAILED, error[:400])

    def _close(self, key: str, status: str, error: str | None) -> None:
        self._write(lambda c: c.execute(update(SlackInboxRow).where(
            SlackInboxRow.key == key, SlackInboxRow.status == PENDING)
            .values(status=status, error=error, finished_at=utcnow(), owner=None, lease_until=None)))

    def retry_later(self, key: str, delay: float) -> None:
        """Give an event back after a failure: any process may take it again once `delay` seconds have passed."""
        self._write(lambda c: c.execute(update(SlackInboxRow).where(
            SlackInboxRow.key == key, SlackInboxRow.status == PENDING, SlackInboxRow.owner == self.owner)
            .values(owner=None, lease_until=utcnow() + dt.timedelta(seconds=delay))))

    def heartbeat(self) -> int:
        """Extend the leases of the events this process is working on (not past MAX_WORK: stuck work is retried)."""
        now = utcnow()
        return self._write(lambda c: c.execute(update(SlackInboxRow).where(
            SlackInboxRow.owner == self.owner, SlackInboxRow.status == PENDING,
            SlackInboxRow.claimed_at > now - MAX_WORK).values(lease_until=now + self.lease)).rowcount or 0)

    def prune(self, keep: dt.timedelta) -> int:
        """Forget events finished (done or failed) longer than `keep` ago; pending ones are never dropped here."""
        cutoff = utcnow() - keep
        return self._write(lambda c: c.execute(delete(SlackInboxRow).where(
            SlackInboxRow.status != PENDING, SlackInboxRow.finished_at < cutoff)).rowcount or 0)
