"""Benchmark: a tier review of 100,000 accounts, history written included (goal: < 2 s on 2 cores).

Run:  python bench/tiering.py [--accounts 100000] [--reviews 3] [--json]

The accounts are generated straight into the accounts and metrics tables (bulk inserts, not YAML) in a fresh
SQLite database under a temporary KAM_HOME, with ~10% of each metric missing and 20% of the growth figures left
to be derived from two years of yearly revenue. Then:
  * review 1: first placement of every account (history + state written);
  * reviews 2..N: 5% of the accounts get new metrics between reviews, so hysteresis, streaks and change reasons
    are exercised; each review writes 100,000 history rows again.
Per review the phases are timed apart (load metrics: SQL -> numpy; load state: the hysteresis state; score and
place: numpy), then the full review end to end (the phases again, the change reasons and all the writes).
For scale, the same run measures the raw floor of the database work with the bare sqlite3 driver: the same
SELECT fetched into tuples, and the last review's 100,000 history rows inserted again into a copy of the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.db import AccountRow, MetricsRow, YearlyRevenueRow  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from skills.tiering.config import load_config  # noqa: E402
from skills.tiering.history import _prior, review  # noqa: E402
from skills.tiering.scoring import load_portfolio, place, score  # noqa: E402

TODAY = dt.date(2026, 11, 23)


def generate(store: Store, n: int, rng: np.random.Generator) -> None:
    ids = [f"acct-{i:06d}" for i in range(n)]
    owners = [f"rep{i % 400}@example.com" for i in range(n)]
    revenue = np.round(rng.lognormal(13, 1.4, n), 0)
    metrics = {
        "revenue": revenue,
        "profit_margin": np.round(rng.normal(0.15, 0.07, n).clip(-0.2, 0.6), 3),
        "purchase_share": np.round(rng.beta(2, 4, n), 3),
        "growth": np.round(rng.normal(0.05, 0.12, n), 3),
        "potential": rng.integers(1, 6, n).astype(float),
        "footprint": rng.integers(1, 6, n).astype(float),
        "tech_cooperation": rng.integers(1, 6, n).astype(float),
        "satisfaction": np.round(rng.uniform(1, 5, n), 1),
        "complaints": rng.poisson(2, n).astype(float),
    }
    for name, col in metrics.items():
        col[rng.random(n) < (0.2 if name == "growth" else 0.1)] = np.nan
    with store.engine.begin() as conn:
        conn.execute(AccountRow.__table__.insert(), [
            {"id": a, "name": f"Account {a}", "name_key": f"account {a}", "owner": o, "team": [], "source": "bench",
             "revision": 1, "indexed_revision": 1} for a, o in zip(ids, owners, strict=True)])
        cols = {k: [None if np.isnan(v) else (int(v) if k == "complaints" else float(v)) for v in c.tolist()]
                for k, c in metrics.items()}
        conn.execute(MetricsRow.__table__.insert(), [
            {"account_id": a, **{k: cols[k][i] for k in cols}} for i, a in enumerate(ids)])
        no_growth = [i for i in range(n) if cols["growth"][i] is None and not np.isnan(revenue[i])]
        conn.execute(YearlyRevenueRow.__table__.insert(), [
            {"account_id": ids[i], "year": y, "revenue": float(revenue[i] * f), "deals": 3}
            for i in no_growth for y, f in ((2024, 1.0), (2025, rng.uniform(0.7, 1.4)))])


def perturb(store: Store, n: int, rng: np.random.Generator, share: float = 0.05) -> None:
    picks = rng.choice(n, int(n * share), replace=False)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE metrics SET satisfaction = ?, tech_cooperation = ?, purchase_share = ? WHERE account_id = ?",
            [(float(rng.uniform(1, 5)), float(rng.integers(1, 6)), float(rng.beta(2, 3)), f"acct-{i:06d}")
             for i in picks.tolist()])


def raw_floor(store: Store) -> dict[str, float]:
    """The database work alone, with the sqlite3 driver and no Python around it: the whole-portfolio SELECT,
    and an executemany of the last review's 100,000 history rows (same values) into a copy of the history
    table with the same indexes, in the same WAL database, committed."""
    conn = sqlite3.connect(store.engine.url.database)
    t = time.perf_counter()
    conn.execute("SELECT a.id, m.revenue, m.profit_margin, m.purchase_share, m.growth, m.potential, "
                 "m.footprint, m.tech_cooperation, m.satisfaction, m.complaints FROM accounts a "
                 "LEFT JOIN metrics m ON m.account_id = a.id ORDER BY a.id").fetchall()
    select_s = time.perf_counter() - t
    cols = ("review_id, account_id, at, kind, old_tier, new_tier, scored_tier, importance, strength, raw, "
            "contributions, reason, by")
    rows = conn.execute(f"SELECT {cols} FROM tier_history WHERE review_id = (SELECT max(id) FROM tier_reviews)"
                        ).fetchall()
    conn.execute("CREATE TABLE floor_history AS SELECT * FROM tier_history WHERE 0")
    conn.execute("CREATE INDEX ix_floor_account ON floor_history (account_id, id)")
    conn.commit()
    t = time.perf_counter()
    conn.executemany(f"INSERT INTO floor_history ({cols}) VALUES ({', '.join('?' * 13)})", rows)
    conn.commit()
    insert_s = time.perf_counter() - t
    conn.execute("DROP TABLE floor_history")
    conn.commit()
    conn.close()
    return {"select_portfolio_s": round(select_s, 3), "insert_history_rows_s": round(insert_s, 3), "rows": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform()}, "accounts": args.accounts}
    with tempfile.TemporaryDirectory() as home:
        store = Store(Settings(_env_file=None, kam_home=Path(home)))  # type: ignore[call-arg]
        config = load_config()
        t = time.perf_counter()
        generate(store, args.accounts, rng)
        out["generate_s"] = round(time.perf_counter() - t, 2)
        reviews = []
        for k in range(args.reviews):
            if k:
                perturb(store, args.accounts, rng)
            t0 = time.perf_counter()
            portfolio = load_portfolio(store, TODAY)
            t1 = time.perf_counter()
            with store.engine.connect() as conn:
                prior = _prior(conn, portfolio)[0]
            t2 = time.perf_counter()
            scores = score(portfolio, config)
            t3 = time.perf_counter()
            place(scores, config, prior)
            t4 = time.perf_counter()
            result = review(store, config, by="bench", today=TODAY)
            t5 = time.perf_counter()
            reviews.append({"review": k + 1, "load_metrics_s": round(t1 - t0, 3), "load_state_s": round(t2 - t1, 3),
                            "score_s": round(t3 - t2, 3), "place_s": round(t4 - t3, 3),
                            "review_total_s": round(t5 - t4, 3), "changes": len(result.changes),
                            "tiers": result.tiers})
        out["reviews"] = reviews
        out["raw_floor"] = raw_floor(store)
        db = Path(home) / "kam.db"
        out["db_mb_after"] = round(sum(p.stat().st_size for p in db.parent.glob("kam.db*")) / 1e6, 1)
        store.engine.dispose()
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.accounts} accounts generated in {out['generate_s']} s; machine {out['machine']}")
    print(f"raw floor: {out['raw_floor']}")
    for r in reviews:
        print(f"review {r['review']}: total {r['review_total_s']} s (phases measured apart: load metrics "
              f"{r['load_metrics_s']}, load state {r['load_state_s']}, score {r['score_s']}, place {r['place_s']}); "
              f"{r['changes']} changes; {r['tiers']}")
    print(f"database after {len(reviews)} reviews: {out['db_mb_after']} MB")


if __name__ == "__main__":
    main()
