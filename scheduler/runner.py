"""One scheduler per database: a lock (a file beside SQLite, an advisory lock on PostgreSQL); a second process
waits for it and takes over when the first one dies (the OS drops a dead process's file lock, PostgreSQL its
session lock).

On PostgreSQL the lock is a lease: it lives exactly as long as its connection's session, so the leader checks that
session before every message it sends (a round trip) and every HEARTBEAT seconds while idle. A leader whose
session was cut (pg_terminate_backend, a network drop the server noticed) stops sending at once and goes back to
waiting; keepalives on both ends bound how long a silent network drop can keep the lock."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.notifier import Notifier
from knowledge.settings import Settings
from knowledge.store import Store
from scheduler.clock import Clock, FileClock
from scheduler.jobs import Jobs, build_scheduler

log = logging.getLogger(__name__)
LOST_BACKOFF_POLLS = 10  # polls a leader that lost its lock waits before trying again
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 1.0
SIMULATION_POLL = 0.1  # KAM_CLOCK_FILE: how often the simulated clock is read
# Client and server side: a leader whose network went silent loses its session (and the lock) within seconds,
# and its own checks fail within the same bound, instead of TCP's default two hours.
PG_LEASE_CONNECT = {"keepalives": 1, "keepalives_idle": 1, "keepalives_interval": 1, "keepalives_count": 2,
                    "tcp_user_timeout": 3000, "connect_timeout": 3,
                    "options": "-c tcp_keepalives_idle=1 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2 "
                               "-c statement_timeout=3000"}


class LeaseLost(RuntimeError):
    """This process no longer holds the scheduler lock: it must not send."""


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
        self._engine: Any = None
        self._owned = False  # pg_try_advisory_lock said yes on the current connection
        self._check = threading.Lock()  # one round trip at a time on the lock's connection

    def try_acquire(self) -> bool:
        if self._file is not None:
            try:
                self._file.acquire(timeout=0)
                return True
            except Timeout:
                return False
        with self._check:
            try:
                if self._conn is None:  # a session-level lock lives as long as this connection
                    if self._engine is None:
                        self._engine = create_engine(self.store.engine.url, poolclass=NullPool,
                                                     connect_args=PG_LEASE_CONNECT)
                    self._conn = self._engine.connect()
                got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                              {"k": advisory_key(str(self.store.engine.url))}).scalar())
                self._conn.commit()
                self._owned = got
                return got
            except Exception as exc:  # the database is unreachable: not ours; try again later
                log.warning("scheduler lock: %s", exc)
                self._drop_connection()
                return False

    def held(self) -> bool:
        """Whether this process still holds the lock. On PostgreSQL a round trip on the lock's own session: while
        that session lives the lock is ours; if it was cut, the server has already released it."""
        if self._file is not None:
            return self._file.is_locked
        with self._check:
            if self._conn is None or not self._owned:
                return False
            try:
                self._conn.execute(text("SELECT 1")).scalar()
                self._conn.commit()
                return True
            except Exception:
                log.warning("scheduler lock lost: its database session is gone")
                self._drop_connection()
                return False

    def ensure(self) -> None:
        if not self.held():
            raise LeaseLost("this process no longer holds the scheduler lock")

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._conn = None
        self._owned = False

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
            with self._check:
                self._conn.close()  # ends the session and with it the advisory lock
                self._conn = None
                self._owned = False
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class LeasedNotifier:
    """Sends only while the scheduler lock is held: checked before every message, so a leader that lost its lease
    sends nothing more (the message stays claimed in the ledger, and the new leader's retry sends it)."""

    def __init__(self, inner: Notifier, lock: SchedulerLock):
        self.inner, self.lock = inner, lock

    def send_dm(self, person: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Any:
        self.lock.ensure()
        return self.inner.send_dm(person, text, blocks)

    def post_channel(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> Any:
        self.lock.ensure()
        return self.inner.post_channel(channel, text, blocks)

    def __getattr__(self, name: str) -> Any:  # anything else the notifier offers
        return getattr(self.inner, name)


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
        while self.lock.acquire(self._stop, self.poll):
            try:
                self._lead()
            finally:
                self.leading.clear()
                if self.scheduler is not None and self.scheduler.running:
                    self.scheduler.shutdown(wait=True)  # a job mid-send fails its next send (LeasedNotifier)
                self.lock.release()
            if not self._stop.is_set():
                # a cut session often means this host is in trouble: give a standby the first chance to lead
                log.warning("scheduler lock lost; waiting to take it again")
                self._stop.wait(LOST_BACKOFF_POLLS * self.poll)

    def _lead(self) -> None:
        self.scheduler = build_scheduler(self.jobs)
        self.scheduler.start()
        self.leading.set()
        log.info("scheduler running (this process holds the scheduler lock)")
        if self.on_lead:
            self.on_lead()
        simulated = isinstance(self.jobs.clock, FileClock)
        seen = self.jobs.clock.now()  # before the catch-up: a move during it is caught up after it
        try:
            self.jobs.catch_up()
        except Exception:
            log.exception("catch-up failed; the hourly refresh retries it")
        while not self._stop.wait(SIMULATION_POLL if simulated else min(self.poll, HEARTBEAT_SECONDS)):
            if not self.lock.held():  # the heartbeat
                return
            if simulated and self.jobs.clock.now() != seen:  # a simulation moved time: what is due now is sent
                seen = self.jobs.clock.now()
                try:
                    self.jobs.catch_up()
                except Exception:
                    log.exception("catch-up after the simulated clock moved failed")

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


ONCE_WAIT_SECONDS = 10.0


@contextmanager
def leased(store: Store, settings: Settings, notifier: Notifier,
           wait: float = ONCE_WAIT_SECONDS) -> Iterator[LeasedNotifier]:
    """Hold the scheduler lock for a one-off run (`kam scheduler --once`): the same lock as the running scheduler,
    so a one-off run never sends beside it. Raises LeaseLost if the lock is not free within `wait` seconds."""
    lock = SchedulerLock(store, settings)
    deadline = threading.Event()
    timer = threading.Timer(wait, deadline.set)
    timer.start()
    try:
        if not lock.acquire(deadline, poll=min(POLL_SECONDS, wait)):
            raise LeaseLost("another scheduler holds the scheduler lock of this database (a running `kam scheduler` "
                            "or `kam run`): it sends these itself; stop it to run a job by hand")
    finally:
        timer.cancel()
    try:
        yield LeasedNotifier(notifier, lock)
    finally:
        lock.release()


def start_in_background(kb: Any, settings: Settings, notifier: Notifier, clock: Clock | None = None, *,
                        store: Store | None = None, on_lead: Callable[[], None] | None = None,
                        poll: float = POLL_SECONDS) -> SchedulerHandle:
    """Start the scheduler for `kam run` / `kam scheduler`: waits for the lock in the background, then runs."""
    store = store or kb.store
    lock = SchedulerLock(store, settings)
    jobs = Jobs(store, settings, LeasedNotifier(notifier, lock), clock, kb=kb)
    return SchedulerHandle(jobs, lock, on_lead, poll).start()
