"""Benchmark: the daily sweep with service cases: 10,000 accounts (as bench/sweep.py seeds them) and 50,000 cases,
today's sweep figure (no cases) measured beside it in the same run.

    .venv/bin/python bench/cases.py [--accounts 10000] [--cases 50000] [--reps 50] [--backend embedded|postgres]

Cases are opened over the last 120 days: 60% closed, 10% resolved (waiting for the customer), 30% still running
(open, acknowledged, reopened), severities 20/60/20 low/normal/high, owners in five time zones. Sending is excluded
(a counting notifier).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402

from bench.sweep import MONDAY, TODAY, CountingNotifier, seed, timed  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from scheduler.sweep import run_sweep  # noqa: E402
from skills.case_models import CaseRow  # noqa: E402
from skills.cases import case_nudges  # noqa: E402
from skills.digest import build_digest  # noqa: E402
from skills.nudges import nudges_between  # noqa: E402


def seed_cases(store: Store, accounts: int, reps: int, n: int, rng: random.Random) -> dict[str, int]:
    rows, states = [], {}
    now = dt.datetime.combine(TODAY, dt.time(0, 0))
    for i in range(n):
        a = rng.randrange(accounts)
        opened = now - dt.timedelta(minutes=rng.randint(0, 120 * 24 * 60))
        r = rng.random()
        state = "closed" if r < 0.6 else "resolved" if r < 0.7 else rng.choice(("open", "acknowledged", "reopened"))
        states[state] = states.get(state, 0) + 1
        ack = opened + dt.timedelta(hours=rng.randint(1, 30)) if state != "open" else None
        resolved = opened + dt.timedelta(days=rng.randint(1, 12)) if state in ("resolved", "closed") else None
        rows.append({"account_id": f"acct-{a:05d}", "text": f"case {i}: the film tears on line {i % 7}",
                     "severity": rng.choices(("low", "normal", "high"), (2, 6, 2))[0], "state": state,
                     "opened_by": f"rep{a % reps}@example.com", "owner": f"rep{a % reps}@example.com",
                     "source": "cli", "opened_at": opened, "acknowledged_at": ack, "resolved_at": resolved,
                     "confirmed_at": resolved + dt.timedelta(days=2) if state == "closed" else None,
                     "reopened_at": opened + dt.timedelta(days=3) if state == "reopened" else None,
                     "reopen_count": 1 if state == "reopened" else 0,
                     "satisfaction": rng.randint(1, 5) if state == "closed" else None, "note": None,
                     "channel": None, "thread_ts": None, "updated_at": opened})
    with store.session() as s:
        for k in range(0, len(rows), 20000):
            s.execute(insert(CaseRow), rows[k:k + 20000])
    return states


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--cases", type=int, default=50_000)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--backend", default="embedded", help="embedded, or postgres (inside .ci/services.sh)")
    args = ap.parse_args()
    from bench.backends import backend_env

    env = backend_env(args.backend)
    os.environ.clear()
    os.environ.update(env)
    print(f"backend: {args.backend}")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, kam_home=Path(tmp) / "kam")  # type: ignore[call-arg]
        store = Store(settings)
        tiers = seed(store, args.accounts, args.reps, rng)
        accounts = {f"acct-{i:05d}": (f"Account {i}", f"rep{i % args.reps}@example.com")
                    for i in range(args.accounts)}
        notifier = CountingNotifier()
        now = dt.datetime.combine(TODAY, dt.time(23, 30), tzinfo=dt.UTC)

        def sweep() -> int:
            with store.session() as s:  # a fresh ledger each time: every nudge is claimed and marked
                s.execute(text("delete from delivery_ledger"))
                s.execute(text("delete from sweep_progress"))
            return run_sweep(store, settings, notifier, now, tiers=tiers).nudges

        print(f"seeded {args.accounts} accounts")
        before = timed("today's sweep: nudges for a Tuesday, no cases (compute)",
                       lambda: nudges_between(store, settings, TODAY, TODAY, tiers))
        n0 = timed("today's full sweep, no cases: compute + claim + render + mark sent", sweep)
        t0 = time.perf_counter()
        states = seed_cases(store, args.accounts, args.reps, args.cases, rng)
        print(f"seeded {args.cases} cases {states} in {time.perf_counter() - t0:.1f} s")
        only = timed("case nudges alone (case_due / case_overdue, compute)",
                     lambda: case_nudges(store, settings, TODAY, TODAY, accounts, tiers))
        after = timed("nudges for a Tuesday with the cases (compute)",
                      lambda: nudges_between(store, settings, TODAY, TODAY, tiers))
        timed("nudges for a Monday with the cases (+ weekly checks)",
              lambda: nudges_between(store, settings, MONDAY, MONDAY, tiers))
        n1 = timed("full sweep with the cases: compute + claim + render + mark sent", sweep)
        digest = timed(f"digest for a manager of {args.reps} reps, with case escalations (build)",
                       lambda: build_digest(store, settings, "boss@example.com", MONDAY, tiers=tiers))
        print(f"  -> {len(before)} nudges without cases, {len(after)} with ({len(only)} case nudges); "
              f"full sweeps sent {n0} and {n1}; digest: {digest.totals['case_escalations']} new case escalations, "
              f"{digest.totals['cases_escalated_open']} escalated in all")
        store.engine.dispose()


if __name__ == "__main__":
    main()
