"""What the Slack app must remember across requests and restarts: delivered events, answered threads, the answers
it gave (with their feedback) and notes waiting for confirmation.

The tables live on the shared `Base` (knowledge/db.py lists this module in TABLE_MODULES), so `Store()` creates them.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from knowledge.db import Base, retry_busy, utcnow
from knowledge.store import Store

T = TypeVar("T")


class SeenEventRow(Base):
    """A delivery key (an event id, or a channel message) claimed by one app process; see `BotState.claim`."""

    __tablename__ = "slack_seen"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    boot: Mapped[str] = mapped_column(String(32))  # the process that claimed it
    done: Mapped[bool] = mapped_column(Boolean, default=False)  # its work finished (the answer was posted)


class BotThreadRow(Base):
    """A thread the bot answered in: follow-ups there need no new mention."""

    __tablename__ = "slack_threads"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_by: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class BotAnswerRow(Base):
    """Every answer the bot gave, with the question and the feedback clicked on it (for later analysis)."""

    __tablename__ = "slack_answers"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[str] = mapped_column(String(32))  # Slack user id
    email: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(16))  # mention | dm | thread | command
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(16))
    sources: Mapped[list[Any]] = mapped_column(JSON, default=list)
    seconds: Mapped[float | None] = mapped_column()
    helpful: Mapped[bool | None] = mapped_column(Boolean)  # None: no feedback yet
    feedback_by: Mapped[str | None] = mapped_column(String(32))
    feedback_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class PendingNoteRow(Base):
    """A note from `/kam note` waiting for its author to confirm (or change) the inferred dimension."""

    __tablename__ = "slack_pending_notes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(320))
    account_id: Mapped[str] = mapped_column(String(80))
    dimension: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | saved | cancelled
    note_id: Mapped[int | None] = mapped_column(Integer)


@dataclass
class PendingNote:
    id: str
    user: str
    email: str
    account_id: str
    dimension: str
    text: str
    confidence: float | None
    state: str
    note_id: int | None


class BotState:
    """The Slack app's persistent memory, on the knowledge base's relational store."""

    def __init__(self, store: Store, dedup_hours: float = 24.0, busy_seconds: float = 120.0,
                 lease_seconds: float = 30.0):
        self.store, self.busy_seconds = store, busy_seconds
        self.ttl = dt.timedelta(hours=dedup_hours)
        self.lease = dt.timedelta(seconds=lease_seconds)  # an unfinished claim older than this lost its process
        self.boot = uuid.uuid4().hex  # this process; claims of a dead process may be taken over
        self._claims = 0
        self._recent: dict[str, float] = {}  # key -> monotonic time first seen by this process
        self._recent_lock = threading.Lock()

    # ------------------------------------------------------------ delivery dedup, in memory (the ack path)
    def first_delivery(self, key: str) -> bool:
        """True the first time this process sees `key` (within the TTL). No database write, so acking stays fast
        under load; the persistent `claim` is made by the worker before it does anything visible."""
        now = time.monotonic()
        ttl = self.ttl.total_seconds()
        with self._recent_lock:
            seen = self._recent.get(key)
            if seen is not None and now - seen < ttl:
                return False
            self._recent[key] = now
            if len(self._recent) > 200_000:  # bound memory: forget the oldest half
                for old in sorted(self._recent, key=self._recent.__getitem__)[:100_000]:
                    del self._recent[old]
            return True

    # ------------------------------------------------------------ delivery dedup
    def claim(self, key: str) -> bool:
        """True if this process should handle `key` now; False for a duplicate.

        A key is handled once within the TTL. The one exception: a claim left unfinished by a process that died
        (between acknowledging and answering) is taken over, so a retry after a crash is still answered. A claim
        is only that once it is older than the lease: a live process renews its claims (`heartbeat`), so two live
        processes never both answer one message.
        Every statement writes (no read first), so SQLite's busy handler applies; a busy database is retried.
        """
        claimed = self._write(lambda s: self._claim(s, key))
        if claimed:
            self._claims += 1
            if self._claims % 500 == 0:
                self.purge()
        return claimed

    def _claim(self, s: Session, key: str) -> bool:
        now = utcnow()
        table = SeenEventRow.__table__
        insert = sqlite_insert if s.bind.dialect.name == "sqlite" else pg_insert  # type: ignore[union-attr]
        added = s.execute(insert(table).values(key=key, at=now, boot=self.boot, done=False)
                          .on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key))
        if added.first() is not None:  # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT
            return True
        expired = s.execute(update(SeenEventRow).where(SeenEventRow.key == key, SeenEventRow.at < now - self.ttl)
                            .values(at=now, boot=self.boot, done=False))
        if expired.rowcount:  # a genuinely new delivery
            return True
        taken = s.execute(update(SeenEventRow).where(SeenEventRow.key == key, SeenEventRow.done.is_(False),
                                                     SeenEventRow.boot != self.boot,
                                                     SeenEventRow.at < now - self.lease)
                          .values(boot=self.boot, at=now))
        return bool(taken.rowcount)

    def release(self, key: str) -> None:
        """Give back an unfinished claim of this process (its work failed and will be tried again)."""
        self._write(lambda s: s.execute(delete(SeenEventRow).where(
            SeenEventRow.key == key, SeenEventRow.boot == self.boot, SeenEventRow.done.is_(False))))

    def finished(self, key: str) -> bool:
        """Whether `key`'s work is done (by any process)."""
        with self.store.session() as s:
            return bool(s.scalar(select(SeenEventRow.done).where(SeenEventRow.key == key)))

    def finish(self, key: str) -> None:
        self._write(lambda s: s.execute(update(SeenEventRow).where(SeenEventRow.key == key).values(done=True)))

    def heartbeat(self) -> None:
        """Renew this process's unfinished claims, so no other process takes them over while it works."""
        now = utcnow()
        self._write(lambda s: s.execute(update(SeenEventRow).where(
            SeenEventRow.boot == self.boot, SeenEventRow.done.is_(False), SeenEventRow.at > now - self.ttl)
            .values(at=now)))

    def purge(self, now: dt.datetime | None = None) -> int:
        """Forget keys older than the TTL."""
        cutoff = (now or utcnow()) - self.ttl
        return self._write(lambda s: s.execute(delete(SeenEventRow).where(SeenEventRow.at < cutoff)).rowcount or 0)

    def _write(self, work: Callable[[Session], T]) -> T:
        """One transaction, retried while the database is busy (see knowledge.db.retry_busy)."""
        def attempt() -> T:
            with self.store.session() as s:
                return work(s)

        return retry_busy(attempt, self.busy_seconds)

    # ------------------------------------------------------------ threads
    def track_thread(self, channel: str, thread_ts: str, started_by: str | None) -> None:
        def add(s: Session) -> None:
            if s.get(BotThreadRow, (channel, thread_ts)) is None:
                s.add(BotThreadRow(channel=channel, thread_ts=thread_ts, started_by=started_by))

        self._write(add)

    def is_bot_thread(self, channel: str, thread_ts: str) -> bool:
        with self.store.session() as s:
            return s.get(BotThreadRow, (channel, thread_ts)) is not None

    # ------------------------------------------------------------ answers and feedback
    def record_answer(self, *, user: str, email: str | None, channel: str | None, thread_ts: str | None,
                      surface: str, question: str, answer: str, status: str, path: str,
                      sources: list[dict[str, Any]], seconds: float | None) -> int:
        def add(s: Session) -> int:
            row = BotAnswerRow(user=user, email=email, channel=channel, thread_ts=thread_ts, surface=surface,
                               question=question, answer=answer, status=status, path=path, sources=sources,
                               seconds=seconds)
            s.add(row)
            s.flush()
            return row.id

        return self._write(add)

    def record_feedback(self, answer_id: int, helpful: bool, by: str) -> bool:
        """Store a click; the latest click wins. False if the answer is unknown."""
        def click(s: Session) -> bool:
            row = s.get(BotAnswerRow, answer_id)
            if row is None:
                return False
            row.helpful, row.feedback_by, row.feedback_at = helpful, by, utcnow()
            return True

        return self._write(click)

    def answer(self, answer_id: int) -> BotAnswerRow | None:
        with self.store.session() as s:
            return s.get(BotAnswerRow, answer_id)

    def answers(self) -> list[BotAnswerRow]:
        with self.store.session() as s:
            return list(s.scalars(select(BotAnswerRow).order_by(BotAnswerRow.id)))

    # ------------------------------------------------------------ pending notes
    def add_pending_note(self, *, user: str, email: str, account_id: str, dimension: str, text: str,
                         confidence: float | None) -> str:
        note_id = uuid.uuid4().hex
        self._write(lambda s: s.add(PendingNoteRow(id=note_id, user=user, email=email, account_id=account_id,
                                                   dimension=dimension, text=text, confidence=confidence)))
        return note_id

    def pending_note(self, note_id: str) -> PendingNote | None:
        with self.store.session() as s:
            row = s.get(PendingNoteRow, note_id)
            return _pending(row) if row else None

    def set_note_dimension(self, note_id: str, dimension: str) -> None:
        self._write(lambda s: s.execute(update(PendingNoteRow).where(
            PendingNoteRow.id == note_id, PendingNoteRow.state == "pending").values(dimension=dimension)))

    def close_note(self, note_id: str, state: str, saved_note_id: int | None = None) -> bool:
        """Move a pending note to `state` exactly once; False if it was not pending any more (a double click)."""
        return self._write(lambda s: bool(s.execute(update(PendingNoteRow).where(
            PendingNoteRow.id == note_id, PendingNoteRow.state == "pending")
            .values(state=state, note_id=saved_note_id)).rowcount))

    def reopen_note(self, note_id: str) -> None:
        """Undo `close_note` when saving failed, so the author can press Save again."""
        self._write(lambda s: s.execute(update(PendingNoteRow).where(PendingNoteRow.id == note_id)
                                        .values(state="pending")))

    def set_saved_note(self, note_id: str, saved_note_id: int, dimension: str) -> None:
        self._write(lambda s: s.execute(update(PendingNoteRow).where(PendingNoteRow.id == note_id)
                                        .values(note_id=saved_note_id, dimension=dimension)))


def _pending(row: PendingNoteRow) -> PendingNote:
    return PendingNote(row.id, row.user, row.email, row.account_id, row.dimension, row.text, row.confidence,
                       row.state, row.note_id)
