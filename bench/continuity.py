"""Handover and lifetime-value timings on generated profiles (bench/generate.py: 50 accounts a rep).

    python -m bench.continuity [--accounts 10000] [--json]

Measures, on SQLite in a temporary KAM_HOME (no index: the bot re-indexes only the handed-over accounts):
  * clv_all_s: lifetime value of every account (`kam accounts --sort clv`, a manager's App Home)
  * handover_s: one rep's 50 accounts handed over (owner and team edits, nudges, briefs with tier reasons)
  * brief_s: one brief alone
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from bench.generate import generate
from knowledge.importers.profiles import ingest_dir
from knowledge.settings import Settings
from knowledge.store import Store

TODAY = dt.date(2026, 11, 23)


def run(n: int) -> dict[str, float | int]:
    from skills.clv import portfolio_clv
    from skills.handover import brief, handover
    from skills.tiering.config import load_config
    from skills.tiering.history import review

    with tempfile.TemporaryDirectory() as tmp:
        data = generate(Path(tmp) / "profiles", n)
        settings = Settings(_env_file=None, kam_home=Path(tmp) / "kam")  # type: ignore[call-arg]
        store = Store(settings)
        t = time.perf_counter()
        report = ingest_dir(store, data)
        ingest_s = time.perf_counter() - t
        review(store, load_config(), today=TODAY)
        t = time.perf_counter()
        values = portfolio_clv(store, today=TODAY)
        clv_all_s = time.perf_counter() - t
        counts: dict[str, int] = {}
        for s in store.summaries():
            counts[s.owner] = counts.get(s.owner, 0) + 1
        rep = max(counts, key=lambda o: counts[o])
        person = store.person(rep)
        assert person is not None
        other = next(p for p in store.people() if p.manager == person.manager and p.email != rep)
        first = next(s.id for s in store.summaries() if s.owner == rep)
        t = time.perf_counter()
        brief(store, settings, first, rep, other.email, TODAY)
        brief_s = time.perf_counter() - t
        t = time.perf_counter()
        result = handover(store, settings, rep, other.email, None, person.manager, today=TODAY)
        handover_s = time.perf_counter() - t
        store.engine.dispose()
        return {"accounts": n, "imported": len(report.imported), "ingest_s": round(ingest_s, 1),
                "clv_all_s": round(clv_all_s, 3), "clv_known": sum(v.value is not None for v in values.values()),
                "brief_s": round(brief_s, 3), "handover_accounts": len(result.accounts),
                "handover_s": round(handover_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = run(args.accounts)
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
