"""Clocks: the system clock in production, a hand-moved one in tests and simulations; local time per person."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol
from zoneinfo import ZoneInfo

from knowledge.profile import Person
from knowledge.settings import Settings


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: dt.datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when

    def advance(self, **delta: float) -> dt.datetime:
        with self._lock:
            self._now += dt.timedelta(**delta)
            return self._now


def zone_of(person: Person | None, settings: Settings) -> ZoneInfo:
    """A person's IANA zone from people.yaml, else KAM_TIMEZONE."""
    return ZoneInfo((person.timezone if person and person.timezone else None) or settings.kam_timezone)


def local(now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return now.astimezone(zone)
