"""Benchmark: the competitor watch over 10,000 accounts (goal: the day's competitor check under 1 s), with today's
sweep figure beside it in the same run.

    .venv/bin/python bench/rivals.py [--accounts 10000] [--reps 50] [--backend embedded|postgres]

Seeds the accounts of bench/sweep.py, then per account 4 rivals with a year of dated shares and satisfaction
(about 8 points each, 400,000 supplier-history rows), our own share and satisfaction, and one day's changes: 5% of
the accounts with moved shares, 500 new notes (a tenth naming a rival) and 50 removed decision makers.
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

from sqlalchemy import delete, insert, text  # noqa: E402

from bench.sweep import TODAY, CountingNotifier, seed, timed  # noqa: E402
from knowledge.db import DimensionRow, MetricsRow  # noqa: E402
from knowledge.history import ProfileChangeRow  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from knowledge.supplier_history import OURS, SupplierHistoryRow  # noqa: E402
from scheduler.sweep import run_sweep  # noqa: E402
from skills.nudges import nudges_between  # noqa: E402
from skills.rivals.nudging import competitor_nudges  # noqa: E402
from skills.rivals.report import rivals_report  # noqa: E402

RIVALS = ["Siemens", "Tetra Pak", "Omron", "Festo", "SMC", "Krones", "Beckhoff", "Syntegon", "汇川技术", "Rockwell"]


def seed_rivals(store: Store, accounts: int, rng: random.Random) -> int:
    start = dt.datetime.combine(TODAY - dt.timedelta(days=400), dt.time(9))
    # 22:00 UTC the day before: in TODAY's batch in Shanghai, Berlin, Los Angeles and UTC, the next one in Auckland
    today = dt.datetime.combine(TODAY - dt.timedelta(days=1), dt.time(22))
    dims, metrics, history, changes = [], [], [], []
    for i in range(accounts):
        aid = f"acct-{i:05d}"
        names = rng.sample(RIVALS, 4)
        shares = [round(rng.uniform(0.05, 0.2), 3) for _ in names]
        dims.append({"account_id": aid, "name": "suppliers", "updated": TODAY,
                     "data": {"strategy": "x", "items": [{"name": n, "share": s, "satisfaction": rng.randint(1, 5)}
                                                         for n, s in zip(names, shares, strict=True)]}})
        metrics.append({"account_id": aid, "revenue": rng.randint(100_000, 5_000_000),
                        "purchase_share": round(rng.uniform(0.1, 0.4), 3), "satisfaction": rng.uniform(2, 5)})
        for party in [*names, OURS]:
            for metric in ("share", "satisfaction"):
                when = start
                for k in range(4):
                    history.append({"account_id": aid, "party": party, "metric": metric, "initial": k == 0,
                                    "value": rng.uniform(0.05, 0.3) if metric == "share" else float(rng.randint(1, 5)),
                                    "source": "file", "actor": "bench", "origin": "bench", "at": when})
                    when += dt.timedelta(days=rng.randint(60, 120))
        changes.append({"account_id": aid, "path": "background.summary", "old": None, "new": "x", "source": "file",
                        "actor": "bench", "origin": "bench", "at": start})  # the first load
        if i % 20 == 0:  # today's moved shares
            history.append({"account_id": aid, "party": names[0], "metric": "share", "initial": False,
                            "value": 0.35, "source": "slack", "actor": "bench", "origin": None, "at": today})
        if i % 20 == 1:
            text_ = f"Met the plant manager; {names[1]} pitched a retrofit." if i % 200 == 1 else "Routine call."
            changes.append({"account_id": aid, "path": f"notes[{TODAY} suppliers]", "old": None,
                            "new": {"date": TODAY.isoformat(), "dimension": "suppliers", "text": text_},
                            "source": "slack", "actor": "bench", "origin": None, "at": today})
        if i % 200 == 2:
            for path, old in ((f"contacts[Contact {i}-0].name", f"Contact {i}-0"),
                              (f"contacts[Contact {i}-0].role", "decision_maker")):
                changes.append({"account_id": aid, "path": path, "old": old, "new": None, "source": "slack",
                                "actor": "bench", "origin": None, "at": today})
    with store.session() as s:
        s.execute(delete(DimensionRow).where(DimensionRow.name == "suppliers"))
        for table, rows in ((DimensionRow, dims), (MetricsRow, metrics), (SupplierHistoryRow, history),
                            (ProfileChangeRow, changes)):
            for k in range(0, len(rows), 20000):
                s.execute(insert(table), rows[k:k + 20000])
    return len(history)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
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
        t0 = time.perf_counter()
        tiers = seed(store, args.accounts, args.reps, rng)
        rows = seed_rivals(store, args.accounts, rng)
        print(f"seeded {args.accounts} accounts and {rows} supplier-history rows in {time.perf_counter() - t0:.1f} s")
        by_owner = {f"acct-{i:05d}": (f"Account {i}", f"rep{i % args.reps}@example.com")
                    for i in range(args.accounts)}

        found = timed("competitor check for a day (all reps, compute only)",
                      lambda: competitor_nudges(store, settings, TODAY, TODAY, by_owner, tiers))
        kinds: dict[str, int] = {}
        for n in found:
            kinds[n.extra["alert"]] = kinds.get(n.extra["alert"], 0) + 1
        print(f"  -> {len(found)} competitor alerts: {kinds}")
        import skills.nudges as nudges_module

        watch = nudges_module._competitor_nudges
        nudges_module._competitor_nudges = lambda *a, **k: []  # type: ignore[assignment]
        before = timed("today's nudges without the competitor check (compute only)",
                       lambda: nudges_between(store, settings, TODAY, TODAY, tiers))
        nudges_module._competitor_nudges = watch  # type: ignore[assignment]
        print(f"  -> {len(before)} nudges")
        daily = timed("today's nudges, competitor alerts included (compute only)",
                      lambda: nudges_between(store, settings, TODAY, TODAY, tiers))
        print(f"  -> {len(daily)} nudges")
        notifier = CountingNotifier()
        now = dt.datetime.combine(TODAY, dt.time(23, 30), tzinfo=dt.UTC)

        def sweep() -> int:
            with store.session() as s:
                s.execute(text("delete from delivery_ledger"))
                s.execute(text("delete from sweep_progress"))
            return run_sweep(store, settings, notifier, now, tiers=tiers).nudges

        n = timed("today's full sweep: compute + claim + render + mark sent", sweep)
        print(f"  -> {n} nudges sent per sweep")
        rep = store.person("rep0@example.com")
        views = timed(f"kam rivals for one rep ({args.accounts // args.reps} accounts)",
                      lambda: rivals_report(store, rep, TODAY, tiers))
        print(f"  -> {len(views)} rivals")
        timed(f"kam rivals over all {args.accounts} accounts", lambda: rivals_report(store, None, TODAY, tiers))
        store.engine.dispose()


if __name__ == "__main__":
    main()
