"""One scheduler per database: a lock (a file beside SQLite, an advisory lock on PostgreSQL); a second process
waits for it and takes over when the first one dies (the OS drops a dead process's file lock, PostgreSQL its
session lock)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import text

from bot.notifier import Notifier
from knowledge.settings import Settings
from knowledge.store import Store
from scheduler.clock import Clock
from scheduler.jobs import Jobs, build_scheduler

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


def lock_path(store: Store, settings: Settings) -> Path:
    """The lock file beside the SQLite database (or in KAM_HOME for other file-less databases)."""
    db = store.engine.url.database
    if store.engine.dialect.name == "sqlite" and db and db != ":memory:":
        return Path(db).with_name(Path(db).name + ".scheduler.lock")
    return settings.home / "scheduler.lock"


def advisory_key(url: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, per database."""
    return int.from_bytes(hashlib.sha256(f"kam-scheduler:{url}".encode()).digest()[:8], "big", signed=True)


class SchedulerLock:
    """Held by the one running scheduler of a database."""

    def __init__(self, store: Store, settings: Settings):
        self.store, self.settings = store, settings
        self.postgres = store.engine.dialect.name == "postgresql"
        self._file = None if self.postgres else FileLock(lock_path(store, settings), thread_local=False)
        self._conn: Any = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            try:
                self._file.acquire(timeout=0)
                return True
            except Timeout:
                return False
        if self._conn is None:  # a session-level lock lives as long as this connection
            self._conn = self.store.engine.connect()
        got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                      {"k": advisory_key(str(self.store.engine.url))}).scalar())
        self._conn.commit()
        return got

    def acquire(self, stop: threading.Event, poll: float = POLL_SECONDS) -> bool:
        """Wait until the lock is ours (True) or `stop` is set (False)."""
        while not stop.is_set():
            if self.try_acquire():
                return True
            stop.wait(poll)
        return False

    def release(self) -> None:
        if self._file is not None:
            if self._file.is_locked:
                self._file.release(force=True)
        elif self._conn is not None:
            self._conn.close()  # ends the session and with it the advisory lock
            self._conn = None


class SchedulerHandle:
    """A scheduler running in a background thread once it holds the lock; `stop()` ends it."""

    def __init__(self, jobs: Jobs, lock: SchedulerLock, on_lead: Callable[[], None] | None = None,
                 poll: float = POLL_SECONDS):
        self.jobs, self.lock, self.on_lead, self.poll = jobs, lock, on_lead, poll
        self.leading = threading.Event()
        self._stop = threading.Event()
        self.scheduler: Any = None
        self._thread = threading.Thread(target=self._run, name="kam-scheduler", daemon=True)

    def start(self) -> SchedulerHandle:
        self._thread.start()
        return self

    def _run(self) -> None:
        if not self.lock.acquire(self._stop, self.poll):
            return
        try:
            self.scheduler = build_scheduler(self.jobs)
            self.scheduler.start()
            self.leading.set()
            log.info("scheduler running (this process holds the scheduler lock)")
            if self.on_lead:
                self.on_lead()
            try:
                self.jobs.catch_up()
            except Exception:
                log.exception("catch-up failed; the hourly refresh retries it")
            self._stop.wait()
        finally:
            if self.scheduler is not None and self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            self.lock.release()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


def start_in_background(kb: Any, settings: Settings, notifier: Notifier, clock: Clock | None = None, *,
                        store: Store | None = None, on_lead: Callable[[], None] | None = None,
                        poll: float = POLL_SECONDS) -> SchedulerHandle:
    """Start the scheduler for `kam run` / `kam scheduler`: waits for the lock in the background, then runs."""
    store = store or kb.store
    jobs = Jobs(store, settings, notifier, clock, kb=kb)
    return SchedulerHandle(jobs, SchedulerLock(store, settings), on_lead, poll).start()
