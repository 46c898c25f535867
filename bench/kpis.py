"""Benchmark: KAM KPIs of a manager with 50 reps over 10,000 accounts (goal: < 1 s), and chart rendering.

    python bench/kpis.py [--accounts 10000] [--reps 50] [--backend embedded|postgres]

The accounts, contacts, dimensions and interactions are seeded as bench/sweep.py seeds them (10 contacts, 6
dimensions and 3 interactions per account), plus metrics for every account, two years of revenue for half of
them, a tier history with 5% of the accounts moving inside the period, and 20,000 sent key-date nudges of which
a third were marked done and a sixth snoozed. Tiers come from a real tier review. Timed (best of 3):
  * `compute` for the manager (every KPI, every rep) and for one rep;
  * the weekly snapshots (everyone, 50 reps, the team);
  * the tier matrix: data and PNG (10,000 points, 80 names placed);
  * the KPI trends: data for 12 weeks (without snapshots; then with 11 weekly snapshots) and PNG (50 reps).
Wall and CPU time are both printed: on a shared machine the wall time includes waiting for a core.
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

from sqlalchemy import insert  # noqa: E402

from bench.sweep import seed  # noqa: E402
from knowledge.db import MetricsRow, YearlyRevenueRow  # noqa: E402
from knowledge.profile import KEY_DATE_KINDS  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from scheduler.ledger import DeliveryRow, NudgeStateRow  # noqa: E402
from skills.charts import kpi_trend_data, render_kpi_trends, render_tier_matrix, tier_matrix_data  # noqa: E402
from skills.kpi_snapshots import take_snapshots  # noqa: E402
from skills.kpis import compute  # noqa: E402
from skills.tiering.config import config_path, load_config  # noqa: E402
from skills.tiering.current import current_tiers  # noqa: E402
from skills.tiering.history import review  # noqa: E402
from skills.tiering.models import TierHistoryRow  # noqa: E402

END = dt.date(2026, 11, 24)


def seed_more(store: Store, accounts: int, reps: int, rng: random.Random) -> None:
    metrics, yearly, deliveries, states = [], [], [], []
    for i in range(accounts):
        aid = f"acct-{i:05d}"
        metrics.append({"account_id": aid, "revenue": rng.lognormvariate(13, 1.4),
                        "profit_margin": rng.uniform(0, 0.3), "purchase_share": rng.uniform(0, 0.8),
                        "growth": rng.uniform(-0.1, 0.3), "potential": rng.randint(1, 5),
                        "footprint": rng.randint(1, 5), "tech_cooperation": rng.randint(1, 5),
                        "satisfaction": rng.uniform(1, 5), "complaints": rng.randint(0, 6), "as_of": END})
        if i % 2:
            base = rng.lognormvariate(13, 1.4)
            yearly += [{"account_id": aid, "year": END.year - 2, "revenue": base, "deals": 3},
                       {"account_id": aid, "year": END.year - 1, "revenue": base * rng.uniform(0.8, 1.4),
                        "deals": 3}]
    for n in range(20_000):
        i = rng.randrange(accounts)
        rep, kind = f"rep{i % reps}@example.com", rng.choice(KEY_DATE_KINDS)
        due = END - dt.timedelta(days=rng.randint(0, 120))
        subject = f"kd:acct-{i:05d}:{due.isoformat()}:{kind}:{n:010x}"
        deliveries.append({"kind": kind, "subject": subject, "occurrence": f"{due.isoformat()}/-7d",
                           "recipient": rep, "status": "sent", "attempts": 1, "late": False,
                           "payload": {"subject": subject, "cycle": due.isoformat()}})
        roll = rng.random()
        if roll < 0.5:
            states.append({"recipient": rep, "kind": kind, "subject": subject, "cycle": due.isoformat(),
                           "status": "done" if roll < 0.33 else "snoozed", "payload": {},
                           "updated_at": dt.datetime.combine(due - dt.timedelta(days=rng.randint(-5, 5)),
                                                             dt.time(9))})
    with store.session() as s:
        for table, rows in ((MetricsRow, metrics), (YearlyRevenueRow, yearly), (DeliveryRow, deliveries),
                            (NudgeStateRow, states)):
            for k in range(0, len(rows), 10000):
                s.execute(insert(table), rows[k:k + 10000])


def seed_moves(store: Store, accounts: int, rng: random.Random) -> None:
    tiers = ("key", "strategic", "maintenance", "opportunity")
    rows = []
    for i in rng.sample(range(accounts), accounts // 20):
        old, new = rng.sample(tiers, 2)
        rows.append({"account_id": f"acct-{i:05d}", "kind": "override", "old_tier": old, "new_tier": new,
                     "at": dt.datetime.combine(END - dt.timedelta(days=rng.randint(0, 80)), dt.time(10)),
                     "reason": "bench", "by": "boss@example.com"})
    with store.session() as s:
        s.execute(insert(TierHistoryRow), rows)


def timed(label: str, fn, repeat: int = 3):  # noqa: ANN001, ANN201
    """Best of `repeat`: wall time, and this process's CPU time (what other load on the machine does not add)."""
    best, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    print(f"{label:<62} {best * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms CPU")
    return result


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
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, kam_home=Path(tmp) / "kam")  # type: ignore[call-arg]
        store = Store(settings)
        t0 = time.perf_counter()
        seed(store, args.accounts, args.reps, rng)
        seed_more(store, args.accounts, args.reps, rng)
        config = load_config(config_path(settings))
        review(store, config, by="bench", today=END)
        review(store, config, by="bench", today=END)
        seed_moves(store, args.accounts, rng)
        tiers = current_tiers(store, END)
        print(f"seeded {args.accounts} accounts, {args.reps} reps, 20,000 key-date nudges, 2 reviews "
              f"in {time.perf_counter() - t0:.1f} s")

        team = timed(f"kpis: manager of {args.reps} reps, {args.accounts} accounts (90 days)",
                     lambda: compute(store, settings, end=END, manager="boss@example.com"))
        timed("kpis: the same, tiers loaded inside (what `kam kpis` does)",
              lambda: compute(store, settings, end=END, manager="boss@example.com", tiers=None))
        timed("kpis: one rep", lambda: compute(store, settings, end=END, rep="rep0@example.com", tiers=tiers))
        t = team.total
        print(f"  -> {len(team.reps)} reps; cadence {t.cadence.value:.1%}, multi-threading "
              f"{t.multithreading.value:.1%}, follow-through {t.follow_through.value:.1%} of "
              f"{t.follow_through.total}, moves +{t.tier_movement.upgrades}/-{t.tier_movement.downgrades}")
        timed("weekly snapshots (everyone, every rep, the team)", lambda: take_snapshots(store, settings, END))
        data = timed("tier matrix: data (listing + last two reviews)", lambda: tier_matrix_data(store, config))
        png = timed(f"tier matrix: PNG of {len(data.points)} points, 80 names", lambda: render_tier_matrix(data))
        print(f"  -> {len(png) / 1024:.0f} KiB")
        timed("KPI trends: data, 12 weeks, no snapshot before (12 computed)",
              lambda: kpi_trend_data(store, settings, end=END - dt.timedelta(days=1), manager="boss@example.com"),
              repeat=1)
        for week in range(1, 12):  # what the weekly job leaves behind
            take_snapshots(store, settings, END - dt.timedelta(days=7 * week))
        trend = timed("KPI trends: data, 12 weeks, 11 from snapshots (1 computed)",
                      lambda: kpi_trend_data(store, settings, end=END, manager="boss@example.com"))
        png = timed(f"KPI trends: PNG, {len(trend.series)} reps x 6 panels", lambda: render_kpi_trends(trend))
        print(f"  -> {len(png) / 1024:.0f} KiB")
        store.engine.dispose()


if __name__ == "__main__":
    main()
