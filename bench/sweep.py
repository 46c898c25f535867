"""Benchmark: the daily nudge sweep over 10,000 accounts with 100,000 key dates and 100,000 contacts, and the
weekly digest of a manager with 50 reps.

    /tmp/v/bin/python bench/sweep.py [--accounts 10000] [--reps 50]

Compares against the raw cost of reading the same rows (one SELECT each) in the same run. Sending is excluded: the
notifier only counts.
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

from bot.notifier import Sent  # noqa: E402
from bot.render_nudges import digest_message  # noqa: E402
from knowledge.db import (  # noqa: E402
    AccountMemberRow,
    AccountRow,
    ContactRow,
    DimensionRow,
    InteractionRow,
    KeyDateRow,
    PersonRow,
)
from knowledge.profile import CONTACT_ROLES, DIMENSIONS, KEY_DATE_KINDS  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from scheduler.sweep import run_sweep  # noqa: E402
from skills.digest import build_digest  # noqa: E402
from skills.nudges import nudges_between  # noqa: E402

TODAY = dt.date(2026, 11, 24)  # a Tuesday: daily nudges only
MONDAY = dt.date(2026, 11, 23)  # weekly checks too
ZONES = ["Asia/Shanghai", "America/Los_Angeles", "Europe/Berlin", "Pacific/Auckland", "UTC"]


class CountingNotifier:
    def __init__(self) -> None:
        self.messages = 0

    def send_dm(self, person: str, text_: str, blocks: list | None = None) -> Sent:
        self.messages += 1
        return Sent("D" + person, str(self.messages))

    def post_channel(self, channel: str, text_: str, blocks: list | None = None) -> Sent:
        raise AssertionError("the sweep never posts to a channel")


def seed(store: Store, accounts: int, reps: int, rng: random.Random) -> dict[str, str]:
    people = [{"email": "boss@example.com", "name": "Boss", "role": "manager", "timezone": "Europe/London"}]
    people += [{"email": f"rep{i}@example.com", "name": f"Rep {i}", "role": "rep", "manager": "boss@example.com",
                "timezone": ZONES[i % len(ZONES)]} for i in range(reps)]
    acc, members, kds, contacts, dims, inters, tiers = [], [], [], [], [], [], {}
    for i in range(accounts):
        aid, owner = f"acct-{i:05d}", f"rep{i % reps}@example.com"
        acc.append({"id": aid, "name": f"Account {i}", "name_key": f"account {i}", "owner": owner, "team": [],
                    "industry": "Manufacturing" if i % 7 else None, "region": "EU", "source": "bench",
                    "revision": 1, "indexed_revision": 1})
        members.append({"account_id": aid, "member": owner, "relation": "owner"})
        tiers[aid] = ("key", "strategic", "maintenance", "opportunity")[i % 4]
        for _ in range(10):
            kds.append({"account_id": aid, "date": TODAY + dt.timedelta(days=rng.randint(-30, 400)),
                        "kind": rng.choice(KEY_DATE_KINDS), "title": f"Key date {rng.random():.6f}",
                        "remind": None if rng.random() < 0.7 else [rng.randint(0, 60)], "source": "profile"})
        for j in range(10):
            bday = f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            contacts.append({"account_id": aid, "position": j, "name": f"Contact {i}-{j}", "title": "Manager",
                             "role": rng.choice(CONTACT_ROLES), "birthday": bday if rng.random() < 0.6 else None})
        for dim in DIMENSIONS:
            dims.append({"account_id": aid, "name": dim, "data": {"summary": "x", "items": [{"name": "y"}]},
                         "updated": TODAY - dt.timedelta(days=rng.randint(0, 400))})
        for _ in range(3):
            inters.append({"account_id": aid, "date": TODAY - dt.timedelta(days=rng.randint(0, 200)), "kind": "call",
                           "by": owner, "summary": "call", "source": "profile"})
    with store.session() as s:
        s.execute(insert(PersonRow), people)
        for table, rows in ((AccountRow, acc), (AccountMemberRow, members), (KeyDateRow, kds),
                            (ContactRow, contacts), (DimensionRow, dims), (InteractionRow, inters)):
            for k in range(0, len(rows), 20000):
                s.execute(insert(table), rows[k:k + 20000])
    return tiers


def timed(label: str, fn, repeat: int = 3):  # noqa: ANN001, ANN201
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:<62} {best * 1000:8.1f} ms")
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--backend", default="embedded", help="embedded, or postgres (inside .ci/services.sh)")
    args = ap.parse_args()
    from bench.backends import backend_env

    env = backend_env(args.backend)  # DATABASE_URL of a fresh database, or none
    os.environ.clear()
    os.environ.update(env)
    print(f"backend: {args.backend}")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, kam_home=Path(tmp) / "kam")  # type: ignore[call-arg]
        store = Store(settings)
        t0 = time.perf_counter()
        tiers = seed(store, args.accounts, args.reps, rng)
        with store.session() as s:
            n_kd = s.execute(text("select count(*) from key_dates")).scalar()
            n_ct = s.execute(text("select count(*) from contacts")).scalar()
        print(f"seeded {args.accounts} accounts, {n_kd} key dates, {n_ct} contacts, {args.reps} reps "
              f"in {time.perf_counter() - t0:.1f} s")

        def raw() -> int:
            with store.session() as s:
                a = s.execute(text("select account_id, date, kind, title, remind from key_dates where date >= :d"),
                              {"d": TODAY}).all()
                b = s.execute(text("select account_id, name, birthday from contacts where role = 'decision_maker' "
                                   "and birthday is not null")).all()
            return len(a) + len(b)

        timed("raw: SELECT the key dates and DM birthdays (rows only)", raw)
        daily = timed("nudges for a Tuesday (all reps, compute only)",
                      lambda: nudges_between(store, settings, TODAY, TODAY, tiers))
        weekly = timed("nudges for a Monday (+ coverage and freshness checks)",
                       lambda: nudges_between(store, settings, MONDAY, MONDAY, tiers))
        print(f"  -> {len(daily)} nudges on the Tuesday, {len(weekly)} on the Monday")

        notifier = CountingNotifier()
        now = dt.datetime.combine(TODAY, dt.time(23, 30), tzinfo=dt.UTC)  # every zone past 08:00 on some day

        def sweep() -> int:
            with store.session() as s:  # a fresh ledger each time: every nudge is claimed and marked
                s.execute(text("delete from delivery_ledger"))
                s.execute(text("delete from sweep_progress"))
            return run_sweep(store, settings, notifier, now, tiers=tiers).nudges

        n = timed("full sweep: compute + claim + render + mark sent (no network)", sweep)
        print(f"  -> {n} nudges, {notifier.messages // 3} messages per sweep")
        digest = timed(f"digest for a manager of {args.reps} reps (build)",
                       lambda: build_digest(store, settings, "boss@example.com", MONDAY, tiers=tiers))
        timed("digest render (Block Kit)", lambda: digest_message(digest))
        print(f"  -> digest totals: {digest.totals}")
        store.engine.dispose()


if __name__ == "__main__":
    main()
