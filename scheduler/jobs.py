"""The APScheduler 3.11 jobs: a nudge sweep at each time zone's local morning, the weekly digest, the tier review.

Job defaults are explicit: APScheduler's own misfire_grace_time of 1 s silently drops every run missed while the
process was busy or down. The sweeps are idempotent and catch up on their own (scheduler/sweep.py), so a late
start is always safe; `coalesce` folds a backlog of missed runs into one. Cron days are names ("mon"), never
numbers: APScheduler counts 0 = Monday, crontab counts 0 = Sunday.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.notifier import Notifier
from knowledge.settings import Settings
from knowledge.store import Store
from scheduler import sweep
from scheduler.clock import Clock, SystemClock, zone_of

log = logging.getLogger(__name__)
REFRESH_MINUTES = 60  # safety net: retries failed sends, picks up new people and time zones


def job_defaults(settings: Settings) -> dict[str, Any]:
    return {"misfire_grace_time": settings.kam_misfire_grace, "coalesce": True, "max_instances": 1}


def zones(store: Store, settings: Settings) -> tuple[set[str], set[str]]:
    """(time zones of account owners, time zones of managers)."""
    people = store.people()
    reps = {zone_of(p, settings).key for p in sweep.owners(store, people).values()}
    if any(p is None for p in sweep.owners(store, people).values()):
        reps.add(ZoneInfo(settings.kam_timezone).key)
    mgrs = {zone_of(p, settings).key for p in sweep.managers(people)}
    return reps, mgrs


class Jobs:
    """The job functions, bound to one store, notifier and clock (each also runnable on demand)."""

    def __init__(self, store: Store, settings: Settings, notifier: Notifier, clock: Clock | None = None,
                 kb: Any = None):
        self.store, self.settings, self.notifier = store, settings, notifier
        self.clock = clock or SystemClock()
        self.kb = kb
        self.zones: tuple[set[str], set[str]] = (set(), set())
        # runs never overlap, also when a simulated clock (FileClock) triggers a catch-up beside a cron job
        self.running = threading.RLock()

    def sweep(self) -> sweep.SweepReport:
        with self.running:
            report = sweep.run_sweep(self.store, self.settings, self.notifier, self.clock.now())
        if report.messages or report.failed:
            log.info("nudge sweep: %d messages, %d nudges (%d late), failed: %s", report.messages, report.nudges,
                     report.late, report.failed or "none")
        return report

    def digests(self) -> sweep.SweepReport:
        with self.running:
            report = sweep.run_digests(self.store, self.settings, self.notifier, self.clock.now())
        if report.messages or report.failed:
            log.info("digests: %d sent (%d late), failed: %s", report.messages, report.late, report.failed or "none")
        return report

    def tier_review(self) -> Any:
        from knowledge.kb import KnowledgeBase

        kb = self.kb or KnowledgeBase(self.settings, self.store, None)  # type: ignore[arg-type]
        with self.running:
            return sweep.run_tier_review(kb, self.settings, self.notifier, self.clock.now())

    def kpi_snapshots(self, only_if_missing: bool = False) -> int:
        """This week's KPI snapshots (skills/kpi_snapshots.py); taking them again in a week replaces that week's."""
        from skills.kpi_snapshots import BACKFILL_WEEKS, any_taken, backfill, take_snapshots, this_week_taken

        day = self.clock.now().astimezone(ZoneInfo(self.settings.kam_timezone)).date()
        period = self.settings.kam_kpi_period_days
        with self.running:
            if only_if_missing and this_week_taken(self.store, day, period):
                return 0
            first = not any_taken(self.store, period)
            written = take_snapshots(self.store, self.settings, day)
            if first:  # a new deployment: the past weeks once, so trend charts need not compute them each time
                written += sum(backfill(self.store, self.settings, day, BACKFILL_WEEKS, period).values())
        log.info("KPI snapshots for %s: %d", day, written)
        return written

    def catch_up(self) -> None:
        """What a (re)start runs at once: everything that became due while no scheduler was running."""
        self.sweep()
        self.digests()
        self.kpi_snapshots(only_if_missing=True)


def _guard(fn: Callable[[], Any], name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except Exception:  # a failing run must not kill the scheduler; the next run catches up
            log.exception("scheduler job %s failed", name)
    run.__name__ = name
    return run


def schedule(scheduler: BaseScheduler, jobs: Jobs) -> None:
    """(Re)create the cron jobs for the current set of time zones."""
    s = jobs.settings
    rep_zones, mgr_zones = zones(jobs.store, s)
    if (rep_zones, mgr_zones) == jobs.zones and scheduler.get_jobs():
        return
    for job in scheduler.get_jobs():
        if job.id.startswith(("sweep:", "digest:")):
            job.remove()
    for tz in sorted(rep_zones):
        scheduler.add_job(_guard(jobs.sweep, "sweep"), CronTrigger(hour=s.kam_sweep_hour, minute=0, timezone=tz),
                          id=f"sweep:{tz}", replace_existing=True)
    for tz in sorted(mgr_zones):
        scheduler.add_job(_guard(jobs.digests, "digest"),
                          CronTrigger(day_of_week=s.kam_digest_day, hour=s.kam_digest_hour, minute=0, timezone=tz),
                          id=f"digest:{tz}", replace_existing=True)
    jobs.zones = (rep_zones, mgr_zones)


def build_scheduler(jobs: Jobs, scheduler_cls: type[BaseScheduler] = BackgroundScheduler) -> BaseScheduler:
    """A scheduler with explicit defaults, one worker (runs never overlap) and every job registered."""
    s = jobs.settings
    scheduler = scheduler_cls(executors={"default": ThreadPoolExecutor(1)}, job_defaults=job_defaults(s),
                              timezone=ZoneInfo(s.kam_timezone))
    schedule(scheduler, jobs)
    if s.kam_tier_review_day:
        scheduler.add_job(_guard(jobs.tier_review, "tier_review"),
                          CronTrigger(day_of_week=s.kam_tier_review_day, hour=s.kam_tier_review_hour, minute=0,
                                      timezone=s.kam_timezone), id="tier_review", replace_existing=True)

    scheduler.add_job(_guard(jobs.kpi_snapshots, "kpi_snapshots"),
                      CronTrigger(day_of_week=s.kam_weekly_day or "mon", hour=s.kam_sweep_hour, minute=0,
                                  timezone=s.kam_timezone), id="kpi_snapshots", replace_existing=True)

    def refresh() -> None:
        schedule(scheduler, jobs)
        jobs.catch_up()

    scheduler.add_job(_guard(refresh, "refresh"), IntervalTrigger(minutes=REFRESH_MINUTES), id="refresh",
                      replace_existing=True)
    return scheduler
