"""The deployment, shaken: `kam run --http` (bot, scheduler off) and `kam scheduler` as separate processes with
their Slack tokens set against the mock Slack, 120 simulated days (KAM_CLOCK_FILE), signed mentions (some resent
as Slack's retries), slash commands, and kill -9 of each process at random moments (a seeded RNG: a failure
reproduces). Every nudge due in those days is posted exactly once, every acknowledged mention answered exactly
once."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from bot.runtime import UNDELIVERED
from knowledge.settings import Settings
from knowledge.store import Store
from scheduler import ledger
from scheduler.clock import FileClock, zone_of
from scheduler.sweep import owners
from skills.nudges import due_on
from tests.conftest import ROOT
from tests.deployed import Proc, free_port, kam_env, wait_replies
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import ALICE, EMAIL_USER, SECRET, mock_users
from tests.test_scheduler import SLACK_IDS, ZONES

SEED = int(os.environ.get("KAM_KILL_SEED", "20261201"))
DAY0, DAYS = dt.date(2026, 12, 1), 120
AT = dt.time(20)  # UTC each simulated day: Los Angeles at noon, Berlin in the evening, Auckland the next morning
QUESTIONS = [(EMAIL_USER, "who decides at Acme?"), (ALICE, "who decides at Hanshan?"),
             (EMAIL_USER, "what are Acme's suppliers?"), (ALICE, "when is the Hanshan renewal?")]


@dataclass
class Mention:
    body: bytes
    ts: str
    tries: int = 0
    acked: bool = False


def _through(now: dt.datetime, zone: ZoneInfo, settings: Settings) -> dt.date:
    """The last local day a sweep at `now` covers for someone in `zone` (sweep.run_sweep's rule)."""
    local = now.astimezone(zone)
    return local.date() if local.hour >= settings.kam_sweep_hour else local.date() - dt.timedelta(days=1)


def _send(url: str, mention: Mention) -> None:
    """One delivery as Slack makes it: a retry (X-Slack-Retry-Num) when an earlier one was not acknowledged."""
    try:
        status, _ = sr.send(url, SECRET, mention.body, retry_num=mention.tries or None,
                            retry_reason="http_error" if mention.tries else None, timeout=5)
    except OSError:
        status = 0
    mention.tries += 1
    mention.acked = mention.acked or status == 200


@pytest.mark.slow
def test_kill9_of_bot_and_scheduler_over_120_days_sends_each_nudge_and_answer_once(sample_kb) -> None:  # noqa: ANN001
    from skills.tiering.config import config_path, load_config
    from skills.tiering.history import review

    settings, store, index = sample_kb
    index.close()  # the bot process owns the index now
    rng = random.Random(SEED)
    review(store, load_config(config_path(settings)), by="test", today=DAY0 - dt.timedelta(days=1))
    recipients = owners(store, store.people())
    for ident in recipients:  # swept through the day before: the simulation starts on DAY0
        ledger.set_progress(store, "nudges", ident, DAY0 - dt.timedelta(days=1))
    clock = settings.home.parent / "clock"
    FileClock.write(clock, dt.datetime.combine(DAY0, AT, tzinfo=dt.UTC))

    with MockSlack(users=mock_users()) as mock:
        for email, uid in SLACK_IDS.items():
            mock.add_user(uid, email=email, tz=ZONES.get(email, "UTC"))
        port = free_port()
        logs = settings.home.parent
        bot = Proc("bot", ["run", "--http", "--port", str(port)],
                   kam_env(settings.home, mock, KAM_SLACK_EVENT_LEASE="2", KAM_SLACK_PLACEHOLDER_AFTER="1"),
                   logs, url=f"http://127.0.0.1:{port}/slack/events")
        scheduler = Proc("scheduler", ["scheduler"],
                         kam_env(settings.home, mock, KAM_CLOCK_FILE=str(clock), PYTHONFAULTHANDLER="1",
                                 KAM_CATCHUP_DAYS="30",
                                 KAM_MANAGERS_CHANNEL="C0MANAGERS"), logs)
        bot_kills = set(rng.sample(range(3, DAYS - 3), 6))
        scheduler_kills = set(rng.sample(range(3, DAYS - 3), 5))
        mentions: list[Mention] = []
        commands: Counter = Counter()
        started = time.monotonic()
        try:
            bot.start()
            scheduler.start()
            for n in range(DAYS):
                day = DAY0 + dt.timedelta(days=n)
                now = dt.datetime.combine(day, AT, tzinfo=dt.UTC)
                FileClock.write(clock, now)
                if n in scheduler_kills:  # most likely in the middle of the day's sweep
                    time.sleep(rng.uniform(0, 0.5))
                    scheduler.kill9()
                    scheduler.start()
                if n in bot_kills or rng.random() < 0.4:  # a kill day has a mention in flight
                    user, question = rng.choice(QUESTIONS)
                    ts = sr.new_ts()
                    mentions.append(Mention(sr.event_body("app_mention", text=question, user=user, ts=ts,
                                                          channel="C0DEPLOY"), ts))
                for m in [m for m in mentions if not m.acked]:  # new ones, and Slack's retries of unacked ones
                    _send(bot.url, m)
                    if m.acked and m.tries == 1 and rng.random() < 0.25:  # Slack took the ack for a timeout
                        _send(bot.url, m)
                if rng.random() < 0.1:
                    try:
                        status, reply = sr.send(bot.url, SECRET, sr.slash_command_body(text="help", user_id=ALICE))
                    except OSError:  # the bot is restarting: Slack shows the user an error, nothing was acked
                        status, reply = 0, ""
                    commands["ok" if status == 200 and "kam-bot help" in reply else f"status {status}"] += 1
                if n in bot_kills:  # within the moment after the last acknowledgement: mostly before its answer
                    time.sleep(rng.uniform(0, 0.4))
                    bot.kill9()
                    bot.start(wait=None)  # mentions meanwhile are refused, so resent later, as Slack does
                _wait_swept(store, settings, recipients, now, scheduler)
            deadline = time.monotonic() + 120
            while any(not m.acked for m in mentions) and time.monotonic() < deadline:
                for m in mentions:
                    if not m.acked:
                        _send(bot.url, m)
                time.sleep(0.5)
            per = wait_replies(mock, [m.ts for m in mentions], timeout=120, quiet=3.0)
        finally:
            bot.stop()
            scheduler.stop()
        elapsed = time.monotonic() - started

        # every mention acknowledged and answered exactly once (the answer itself, never an apology)
        assert mentions and all(m.acked for m in mentions), bot.log()[-3000:]
        wrong = {m.ts: per[m.ts] for m in mentions if per[m.ts] != 1}
        assert not wrong, (wrong, bot.log()[-3000:])
        assert not [c for c in mock.calls("chat.postMessage") if c.params.get("text") == UNDELIVERED]
        assert commands.keys() <= {"ok", "status 0", "status 502"}  # a command is answered in its own reply
        # every nudge due in the 120 days posted exactly once
        _assert_each_nudge_once(store, settings, recipients, mock, now)
        assert bot.starts == 1 + len(bot_kills) and scheduler.starts == 1 + len(scheduler_kills)
        print(f"\n{DAYS} days, {len(mentions)} mentions, {sum(commands.values())} commands, "
              f"{len(bot_kills)} + {len(scheduler_kills)} kills, {elapsed:.0f} s")
    store.engine.dispose()


def _wait_swept(store: Store, settings: Settings, recipients: dict, now: dt.datetime, scheduler: Proc,
                timeout: float = 60.0) -> None:
    """Until every recipient's progress reached the day `now` makes due: the next day only moves the clock on
    once this one is swept (a longer gap would be caught up as one late message, by design)."""
    want = {ident: _through(now, zone_of(person, settings), settings) for ident, person in recipients.items()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = ledger.sweep_progress(store, "nudges")
        if all(progress.get(i, dt.date.min) >= d for i, d in want.items()):
            return
        time.sleep(0.05)
    if scheduler.proc is not None and scheduler.proc.poll() is None:  # where it is stuck (PYTHONFAULTHANDLER)
        os.kill(scheduler.proc.pid, signal.SIGABRT)
        time.sleep(1)
    raise AssertionError(f"not swept through {now}: {ledger.sweep_progress(store, 'nudges')}\n{scheduler.log()}")


def _assert_each_nudge_once(store: Store, settings: Settings, recipients: dict, mock: MockSlack,
                            end: dt.datetime) -> None:
    sent = [r for r in ledger.deliveries(store, status=None) if r.kind not in ("digest", "tier_review")]
    assert all(r.status == "sent" for r in sent), [r for r in sent if r.status != "sent"]
    due = set()
    for ident, person in recipients.items():
        last = _through(end, zone_of(person, settings), settings)
        day = DAY0
        while day <= last:
            due |= {(n.kind, n.subject, n.occurrence, n.recipient) for n in due_on(store, settings, day,
                                                                                   recipient=ident)}
            day += dt.timedelta(days=1)
    assert {(r.kind, r.subject, r.occurrence, r.recipient) for r in sent} == due
    posted: Counter = Counter()
    for c in mock.calls("chat.postMessage"):
        if c.response.get("ok"):
            posted.update(b.get("block_id") for b in c.params.get("blocks") or [])
    assert {r.id: posted[f"nudge:{r.id}"] for r in sent} == {r.id: 1 for r in sent}
    digests = [r for r in ledger.deliveries(store, kind="digest", status=None)]
    assert digests and {r.id: posted[f"delivery:{r.id}"] for r in digests} == {r.id: 1 for r in digests}
    # the CLI agrees with what was due, on a day with nudges
    busy = max({r.local_day for r in sent}, key=lambda d: sum(r.local_day == d for r in sent))
    out = subprocess.run([sys.executable, "-m", "cli.main", "nudges", "--on", busy.isoformat(), "--json"],
                         cwd=ROOT, env={**os.environ, **_cli_env(store)}, capture_output=True, text=True, timeout=120)
    listed = {(n["kind"], n["subject"], n["occurrence"], n["recipient"]) for n in json.loads(out.stdout)}
    assert listed and listed <= due, out.stderr


def _cli_env(store: Store) -> dict[str, str]:
    from tests.conftest import backend_env

    home = store.settings.home
    return {"KAM_HOME": str(home), **backend_env(home)}
