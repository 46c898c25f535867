"""Clocks: the system clock in production, a hand-moved one in tests and simulations; local time per person."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
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


class FileClock:
    """Simulation only (KAM_CLOCK_FILE): the instant written in a file (ISO 8601 with an offset), so a test can move
    time for separate processes (`kam scheduler`) together. The scheduler sweeps whenever it moves (see
    scheduler.runner). Before the file exists, the system clock."""

    def __init__(self, path: Path):
        self.path = path
        self._now: dt.datetime | None = None

    def now(self) -> dt.datetime:
        try:  # read every time: a few bytes, and a file's mtime may not change between two quick writes
            when = dt.datetime.fromisoformat(self.path.read_text().strip())
            if when.tzinfo is None:
                raise ValueError(f"{self.path}: the time needs an offset, e.g. +00:00")
            self._now = when
        except FileNotFoundError:
            pass
        except ValueError:  # caught mid-write: keep the last instant read
            if self._now is None:
                raise
        return self._now or dt.datetime.now(dt.UTC)

    @staticmethod
    def write(path: Path, when: dt.datetime) -> None:
        """Move the clock (atomically: readers never see half a timestamp)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(when.isoformat())
        tmp.replace(path)


def clock_for(settings: Settings) -> Clock:
    """The system clock, or the simulation's file clock when KAM_CLOCK_FILE is set."""
    return FileClock(settings.kam_clock_file) if settings.kam_clock_file else SystemClock()


def zone_of(person: Person | None, settings: Settings) -> ZoneInfo:
    """A person's IANA zone from people.yaml, else KAM_TIMEZONE."""
    return ZoneInfo((person.timezone if person and person.timezone else None) or settings.kam_timezone)


def local(now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return now.astimezone(zone)
