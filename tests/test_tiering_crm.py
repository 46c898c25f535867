"""Tiering on the maven_crm import: the distribution docs/tiering.md explains (revenue known, strength unknown)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from knowledge.store import Store
from skills.tiering.config import FACTORS, load_config
from skills.tiering.history import explain, listing, review
from skills.tiering.scoring import load_portfolio
from tests.conftest import make_settings

TODAY = dt.date(2026, 11, 23)


@pytest.mark.slow
def test_maven_crm_tiers_split_by_revenue_with_strength_unknown(tmp_path: Path, shared_data: Path):
    crm = pytest.importorskip("knowledge.importers.crm")
    store = Store(make_settings(tmp_path / "kam"))
    report = crm.import_crm(store, shared_data / "maven_crm", today=TODAY)
    assert len(report.imported) == 85
    config = load_config()
    result = review(store, config, today=TODAY)
    assert result.tiers == {"key": 0, "strategic": 43, "maintenance": 0, "opportunity": 42}

    p = load_portfolio(store, TODAY)
    known = dict(zip(FACTORS, (~np.isnan(p.raw)).sum(axis=0).tolist(), strict=True))
    assert known["revenue"] == 85 and sum(known.values()) == 85  # the CRM fills revenue only (deals: 2017 only)
    rows = listing(store, TODAY)
    assert all(r.strength is None for r in rows)
    by_revenue = sorted(rows, key=lambda r: r.importance)
    assert {r.tier for r in by_revenue[:42]} == {"opportunity"} and {r.tier for r in by_revenue[42:]} == {"strategic"}
    e = explain(store, config, by_revenue[-1].id, TODAY)
    assert any("30% of the importance weight is known" in n for n in e.notes)
    assert any("no strength factor is known" in n for n in e.notes)
