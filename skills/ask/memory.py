"""Conversation memory for follow-ups: per (conversation, asker), the accounts and intents of the last answer.

Persisted in the store (the bot restarts; a Slack thread goes on). Access is re-checked on every use, so a
remembered account that the asker may no longer see is simply dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import DateTime, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.db import Base, utcnow
from knowledge.store import Store

MEMORY_TTL = dt.timedelta(days=7)  # a thread quiet for a week starts fresh


class ConversationRow(Base):
    __tablename__ = "ask_conversations"
    conversation_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    asker: Mapped[str] = mapped_column(String(320), primary_key=True)
    account_ids: Mapped[list[str]] = mapped_column(default=list)
    intents: Mapped[list[str]] = mapped_column(default=list)
    updated: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


@dataclass
class Memory:
    account_ids: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)


def recall(store: Store, conversation_id: str | None, asker: str, now: dt.datetime | None = None) -> Memory:
    if not conversation_id:
        return Memory()
    with store.session() as s:
        row = s.get(ConversationRow, (conversation_id, asker))
        if row is None or (now or utcnow()) - row.updated > MEMORY_TTL:
            return Memory()
        return Memory(list(row.account_ids or []), list(row.intents or []))


def remember(store: Store, conversation_id: str | None, asker: str, memory: Memory,
             now: dt.datetime | None = None) -> None:
    if not conversation_id:
        return
    for attempt in range(2):  # two threads may create the same row at once: the loser retries as an update
        try:
            with store.session() as s:
                row = s.get(ConversationRow, (conversation_id, asker))
                if row is None:
                    row = ConversationRow(conversation_id=conversation_id, asker=asker)
                    s.add(row)
                row.account_ids, row.intents = list(memory.account_ids), list(memory.intents)
                row.updated = now or utcnow()
            return
        except IntegrityError:
            if attempt:
                raise
