"""APScheduler jobs, the one-scheduler-per-database lock, and crash safety with real processes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.notifier import ConsoleNotifier
from scheduler import ledger
from scheduler.clock import ManualClock
from scheduler.jobs import Jobs, build_scheduler
from scheduler.runner import LeasedNotifier, LeaseLost, SchedulerLock, lock_path, start_in_background
from scheduler.sweep import state_views
from skills.nudges import apply_state, batches, load_tiers, nudges_between
from tests.conftest import ROOT, backend_env, make_settings
from tests.fakes.mock_slack import MockSlack
from tests.test_scheduler import SLACK_IDS, ZONES, ledger_ids

MONDAY = dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC)  # 10:00 in Shanghai and Singapore


@pytest.fixture()
def tiered(sample_kb):
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review

    settings, store, _ = sample_kb
    review(store, load_config(config_path(settings)), by="test", today=MONDAY.date())
    return settings, store


def test_job_defaults_and_local_cron_triggers(tiered):
    settings, store = tiered
    sched = build_scheduler(Jobs(store, settings, ConsoleNotifier(echo=False), ManualClock(MONDAY)))
    assert sched._job_defaults == {"misfire_grace_time": settings.kam_misfire_grace, "coalesce": True,
                                   "max_instances": 1}
    jobs = {j.id: j for j in sched.get_jobs()}
    assert {f"sweep:{z}" for z in ZONES.values()} <= set(jobs)
    assert {"digest:Asia/Singapore", "digest:Europe/London", "tier_review", "refresh"} <= set(jobs)
    auckland = jobs["sweep:Pacific/Auckland"].trigger
    fire = auckland.get_next_fire_time(None, MONDAY)
    assert fire.astimezone(ZoneInfo("Pacific/Auckland")).hour == settings.kam_sweep_hour
    digest = jobs["digest:Europe/London"].trigger
    assert "day_of_week='mon'" in str(digest)
    fire = digest.get_next_fire_time(None, MONDAY)
    assert fire == dt.datetime(2026, 11, 23, 8, tzinfo=ZoneInfo("Europe/London"))
    # across the US DST change the sweep stays at 08:00 local
    la = jobs["sweep:America/Los_Angeles"].trigger
    fire = la.get_next_fire_time(None, dt.datetime(2027, 3, 14, 12, tzinfo=dt.UTC))
    assert fire.astimezone(ZoneInfo("America/Los_Angeles")).hour == 8
    assert fire.astimezone(dt.UTC).hour == 15  # PDT is UTC-7 (PST would give 16)


def test_second_scheduler_waits_and_takes_over(tiered):
    settings, store = tiered
    clock = ManualClock(MONDAY)
    first_out, second_out = ConsoleNotifier(echo=False), ConsoleNotifier(echo=False)
    first = start_in_background(None, settings, first_out, clock, store=store, poll=0.05)
    assert first.leading.wait(10)
    if store.engine.dialect.name == "sqlite":
        assert lock_path(store, settings).name == "kam.db.scheduler.lock"
    second = start_in_background(None, settings, second_out, clock, store=store, poll=0.05)
    try:
        time.sleep(0.5)
        assert not second.leading.is_set()
        assert first_out.sent  # the start-up catch-up ran (reps past 08:00, mia's Monday digest)
        sent_before = len(first_out.sent)
        first.stop()
        assert second.leading.wait(10)
        time.sleep(0.3)
        assert not second_out.sent and len(first_out.sent) == sent_before  # nothing twice after the takeover
        assert not SchedulerLock(store, settings).try_acquire()
    finally:
        first.stop()
        second.stop()


def _kam(home: Path, *args: str, **env: str) -> subprocess.Popen:
    full = {**os.environ, "KAM_HOME": str(home), **backend_env(home), **env}
    for k in ("SLACK_BOT_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        if k not in env:
            full.pop(k, None)
    log = open(home.parent / f"kam-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115 - read while running
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=full, stdout=log,
                            stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _wait_output(proc: subprocess.Popen, text: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.log.seek(0)  # type: ignore[attr-defined]
        if text in proc.log.read():  # type: ignore[attr-defined]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_killed_scheduler_process_is_taken_over(tiered):
    settings, _ = tiered
    first = _kam(settings.home, "scheduler")
    second = None
    try:
        assert _wait_output(first, "scheduler: running"), "first scheduler never started"
        second = _kam(settings.home, "scheduler")
        assert _wait_output(second, "waiting for the scheduler lock")
        time.sleep(1.5)
        assert not _wait_output(second, "scheduler: running", timeout=0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = time.monotonic()
        assert _wait_output(second, "scheduler: running", timeout=30), "the second scheduler did not take over"
        assert time.monotonic() - killed < 5, "takeover took 5 s or more"
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()


@pytest.mark.postgres_only
def test_leader_whose_session_is_cut_stops_sending_and_the_other_takes_over(tiered):
    settings, store = tiered
    clock = ManualClock(MONDAY)
    first_out, second_out = ConsoleNotifier(echo=False), ConsoleNotifier(echo=False)
    first = start_in_background(None, settings, first_out, clock, store=store, poll=0.05)
    second = None
    try:
        assert first.leading.wait(30)
        second = start_in_background(None, settings, second_out, clock, store=store, poll=0.05)
        time.sleep(0.3)
        assert not second.leading.is_set()
        # the leader process lives on; only its database session is cut (a failover, an idle-session killer...)
        with store.engine.begin() as c:
            cut = c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks "
                                 "WHERE locktype = 'advisory' AND granted")).scalars().all()
        assert cut == [True]
        started = time.monotonic()
        assert second.leading.wait(5), "no takeover within 5 s"
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 5
        while first.leading.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not first.leading.is_set(), "the old leader still leads"
        assert not first.lock.held()
    finally:
        first.stop()
        if second is not None:
            second.stop()


@pytest.mark.postgres_only
def test_a_lost_lease_refuses_to_send(tiered):
    settings, store = tiered
    lock = SchedulerLock(store, settings)
    assert lock.try_acquire() and lock.held()
    out = ConsoleNotifier(echo=False)
    leased_out = LeasedNotifier(out, lock)
    leased_out.send_dm("alice@example.com", "while leading")
    with store.engine.begin() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"))
    with pytest.raises(LeaseLost):
        leased_out.send_dm("alice@example.com", "after the lease is gone")
    assert out.sent == [("DM alice@example.com", "while leading")]
    assert SchedulerLock(store, settings).try_acquire()  # free for the next leader
    lock.release()


@pytest.mark.slow
def test_once_takes_the_scheduler_lock(tiered):
    settings, store = tiered
    leader = SchedulerLock(store, settings)
    assert leader.try_acquire()
    try:
        once = _kam(settings.home, "scheduler", "--once", "sweep")
        assert once.wait(60) == 3
        once.log.seek(0)  # type: ignore[attr-defined]
        assert "another scheduler holds the scheduler lock" in once.log.read()  # type: ignore[attr-defined]
    finally:
        leader.release()
    again = _kam(settings.home, "scheduler", "--once", "sweep")
    assert again.wait(120) == 0


CHILD = """
import datetime as dt, sys, time
from knowledge.settings import Settings
from knowledge.store import Store
from bot.slack_notifier import SlackNotifier
from scheduler.sweep import run_sweep

class Slow:  # one message every 0.4 s, so a kill lands mid-sweep
    def __init__(self, inner): self.inner = inner
    def send_dm(self, person, text, blocks=None):
        time.sleep(0.4)
        return self.inner.send_dm(person, text, blocks)
    def post_channel(self, channel, text, blocks=None):
        time.sleep(0.4)
        return self.inner.post_channel(channel, text, blocks)

s = Settings()
store = Store(s)
r = run_sweep(store, s, Slow(SlackNotifier(s, store)), dt.datetime.fromisoformat(sys.argv[1]))
print("done", r.messages, r.nudges, r.retried, flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_sweep_then_restart_nothing_twice_nothing_missing(tiered):
    settings, store = tiered
    now = dt.datetime(2026, 12, 25, 12, tzinfo=dt.UTC)  # every rep past 08:00 local on their day
    start = dt.date(2026, 12, 1)
    reps = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
    for rep in reps:  # back from three weeks of downtime: a big catch-up batch each
        ledger.set_progress(store, "nudges", rep, start - dt.timedelta(days=1))
    with MockSlack() as mock:
        for email, uid in SLACK_IDS.items():
            mock.add_user(uid, email=email, tz=ZONES.get(email, "UTC"))
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": mock.base_url, "KAM_SLACK_CHANNEL_INTERVAL": "0",
               "KAM_SWEEP_HOUR": "8", "KAM_CATCHUP_DAYS": "60"}
        full = {**os.environ, "KAM_HOME": str(settings.home), **backend_env(settings.home), **env}
        child = subprocess.Popen([sys.executable, "-c", CHILD, now.isoformat()], cwd=ROOT, env=full,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        mock.wait_for("chat.postMessage", 2, timeout=60)
        time.sleep(0.15)  # inside the next 0.4 s pause: claimed, not sent
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        killed_posts = len(mock.calls("chat.postMessage"))
        assert child.returncode == -signal.SIGKILL
        progress = ledger.sweep_progress(store, "nudges")
        assert sum(1 for r in reps if progress.get(r, start) > start) < len(reps), "killed too late"

        again = subprocess.run([sys.executable, "-c", CHILD, now.isoformat()], cwd=ROOT, env=full,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert again.stdout.startswith("done")
        assert int(again.stdout.split()[3]) > 0, "the killed run's claimed batch was not retried"
        posts = mock.calls("chat.postMessage")
        assert len(posts) > killed_posts
    ids = [i for c in posts for i in ledger_ids(c)]
    assert ids and not [i for i, n in Counter(ids).items() if n > 1], "a nudge was sent twice"
    sent = {(r.kind, r.subject, r.occurrence, r.recipient) for r in ledger.deliveries(store)}
    assert len(sent) == len(ids)
    assert not [r for r in ledger.deliveries(store, status="claimed") if r.id in ids]
    # nothing missing: exactly what the catch-up range holds per rep
    tiers = load_tiers(store)
    want, throughs = set(), {}
    for rep in reps:
        local = now.astimezone(ZoneInfo(ZONES[rep]))  # Auckland is already at 01:00 on the 26th: not yet due
        through = throughs[rep] = local.date() - dt.timedelta(days=0 if local.hour >= 8 else 1)
        found = apply_state(nudges_between(store, settings, start, through, tiers, {rep}),
                            state_views(store, {rep}), start, through)
        want |= {(n.kind, n.subject, n.occurrence, n.recipient) for items in batches(found).values() for n in items}
    assert sent == want
    assert {r: ledger.sweep_progress(store, "nudges")[r] for r in reps} == throughs


def test_settings_reject_day_numbers(tmp_path):
    with pytest.raises(ValueError, match="day name"):
        make_settings(tmp_path, kam_digest_day="1")
    assert make_settings(tmp_path, kam_digest_day="Friday").kam_digest_day == "fri"
