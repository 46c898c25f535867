"""`kam import-crm` on the real Maven CRM export: counts, owners, managers, revenue, quirks, idempotence, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from knowledge.db import InteractionRow, KeyDateRow, YearlyRevenueRow
from knowledge.importers.crm import agent_email, import_crm
from knowledge.index import Index
from knowledge.loader import ProfileError
from knowledge.store import Store
from tests.conftest import make_settings
from tests.test_cli import kam

TODAY = dt.date(2026, 11, 23)


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict], fields: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def crm(shared_data: Path) -> Path:
    return shared_data / "maven_crm"


@pytest.fixture(scope="module")
def imported(crm: Path, tmp_path_factory: pytest.TempPathFactory):
    """The whole export imported once (about 1.5 s); tests only read it."""
    store = Store(make_settings(tmp_path_factory.mktemp("crm") / "kam"))
    start = time.perf_counter()
    report = import_crm(store, crm, today=TODAY)
    seconds = time.perf_counter() - start
    yield store, report, seconds
    store.engine.dispose()


def test_all_accounts_owners_and_people(imported, crm):
    store, report, seconds = imported
    assert report.skipped == [] and len(report.imported) == 85 and store.count_accounts() == 85
    assert seconds < 30
    deals = [r for r in _rows(crm / "sales_pipeline.csv") if r["account"]]
    # owner = the agent with the most deals on the account, computed here from the CSV
    for account in ("Isdom", "Acme Corporation", "Kan-code"):
        counts = Counter(r["sales_agent"] for r in deals if r["account"] == account)
        top = max(counts.values())
        assert store.load_profile(store.find_account(account)).owner in {
            agent_email(a) for a, n in counts.items() if n == top}
    teams = _rows(crm / "sales_teams.csv")
    people = {p.email: p for p in store.people()}
    managers = {r["manager"] for r in teams}
    assert {p.name for p in people.values() if p.role == "manager"} == managers == {
        "Dustin Brinkmann", "Melvin Marxen", "Cara Losch", "Rocco Neubert", "Celia Rouche", "Summer Sewald"}
    assert sum(p.role == "rep" for p in people.values()) == 35 and report.people == 41
    mei = people["mei-mei.johns@crm.example"]
    assert mei.name == "Mei-Mei Johns" and mei.manager == "melvin.marxen@crm.example"
    # a manager sees the accounts of their agents
    melvin = store.person("melvin.marxen@crm.example")
    darcel_owned = {s.id for s in store.summaries() if s.owner == "darcel.schlecht@crm.example"}
    assert darcel_owned and darcel_owned <= store.visible_account_ids(melvin)


def test_revenue_interactions_and_key_dates_match_the_csv(imported, crm):
    store, report, _ = imported
    deals = [r for r in _rows(crm / "sales_pipeline.csv") if r["account"]]
    won = [r for r in deals if r["deal_stage"] == "Won"]
    with store.session() as s:
        total = s.scalar(select(func.sum(YearlyRevenueRow.revenue)))
        n_won = s.scalar(select(func.sum(YearlyRevenueRow.deals)))
        interactions = s.scalar(select(func.count()).select_from(InteractionRow).where(InteractionRow.source == "crm"))
        key_dates = s.scalar(select(func.count()).select_from(KeyDateRow).where(KeyDateRow.source == "crm"))
    assert total == pytest.approx(sum(float(r["close_value"]) for r in won))
    assert n_won == len(won) == 4238
    assert interactions == sum(bool(r["engage_date"]) for r in deals)
    assert key_dates == sum(r["deal_stage"] in ("Engaging", "Prospecting") for r in deals)

    isdom_id = store.find_account("Isdom")
    isdom = store.load_profile(isdom_id)
    isdom_won = [r for r in won if r["account"] == "Isdom"]
    assert store.yearly_revenue(isdom_id) == {2017: pytest.approx(sum(float(r["close_value"]) for r in isdom_won))}
    # every won deal closed in 2017: revenue is 2017's, growth cannot be computed
    assert isdom.metrics.revenue == pytest.approx(sum(float(r["close_value"]) for r in isdom_won))
    assert isdom.metrics.growth is None and isdom.metrics.purchase_share is None
    assert isdom.metrics.as_of == dt.date(2017, 12, 31)
    assert isdom.industry == "medical" and isdom.region == "United States"
    assert "established in 2002" in isdom.background.summary and "4,540" in isdom.background.summary
    assert isdom.finance.revenue.startswith("USD 3,178.24 million") and isdom.finance.updated == dt.date(2017, 12, 31)
    opp = next(r for r in deals if r["account"] == "Isdom" and r["deal_stage"] == "Engaging")
    due = next(k for k in isdom.key_dates if opp["opportunity_id"] in k.title)
    assert due.kind == "review" and due.date == dt.date.fromisoformat(opp["engage_date"]) + dt.timedelta(days=45)
    meeting = next(i for i in isdom.interactions if opp["opportunity_id"] in i.summary)
    assert meeting.kind == "meeting" and meeting.by == agent_email(opp["sales_agent"])
    gtxpro = next(r for r in deals if r["account"] == "Isdom" and r["product"] == "GTXPro" and r["engage_date"])
    read_as = next(i for i in isdom.interactions if gtxpro["opportunity_id"] in i.summary)
    assert ": GTX Pro (" in read_as.summary  # the CSV's GTXPro, read through products.csv
    assert not any("GTXPro" in i.summary for i in isdom.interactions)


def test_quirks_are_reported_with_counts(imported):
    store, report, _ = imported
    assert report.quirks["blank_account"] == 1425
    assert report.quirks["product_normalised:GTXPro"] == 1480
    assert report.quirks["sector_corrected:technolgy"] == 12
    assert report.quirks["country_corrected:Philipines"] == 1
    assert report.quirks["open_without_dates"] == 163
    assert len(report.warnings) == len(report.quirks) < 10  # counted, not one line per row
    assert any("1425 rows with a blank account" in w for w in report.warnings)
    assert store.load_profile(store.find_account("Acme Corporation")).industry == "technology"
    assert store.load_profile(store.find_account("Zotware")).industry == "software"
    assert "Philippines" in {s.region for s in store.summaries()}


def _copy(crm: Path, dest: Path) -> Path:
    shutil.copytree(crm, dest)
    for p in dest.iterdir():
        p.chmod(0o644)
    return dest


def test_growth_over_two_years(crm, tmp_path, store):
    """Move a third of Isdom's won deals into 2016, then check growth against a hand computation on the CSV."""
    data = _copy(crm, tmp_path / "crm")
    rows = _rows(data / "sales_pipeline.csv")
    isdom_won = [r for r in rows if r["account"] == "Isdom" and r["deal_stage"] == "Won"]
    for r in isdom_won[::3]:
        r["close_date"] = "2016" + r["close_date"][4:]
        r["engage_date"] = "2016-01-15"
    _write(data / "sales_pipeline.csv", rows, list(rows[0]))
    report = import_crm(store, data, today=TODAY)
    assert report.skipped == []
    y2016 = sum(float(r["close_value"]) for r in isdom_won if r["close_date"].startswith("2016"))
    y2017 = sum(float(r["close_value"]) for r in isdom_won if r["close_date"].startswith("2017"))
    isdom = store.load_profile(store.find_account("Isdom"))
    assert isdom.metrics.revenue == pytest.approx(y2017)
    assert isdom.metrics.growth == pytest.approx((y2017 - y2016) / y2016, abs=1e-4)
    assert store.yearly_revenue(store.find_account("Isdom")) == {2016: pytest.approx(y2016),
                                                                 2017: pytest.approx(y2017)}
    # an account with nothing won in 2016 has no growth figure (growth from zero is not a number)
    assert store.load_profile(store.find_account("Zotware")).metrics.growth is None
    # in 2017 itself, 2017 is not a full year yet: revenue and growth are 2016's (no 2015 -> no growth)
    import_crm(store, data, today=dt.date(2017, 12, 31))
    assert store.load_profile(store.find_account("Isdom")).metrics.revenue == pytest.approx(y2016)


@pytest.mark.slow  # ~10-20 s: embeds ~2,000 chunks
def test_full_reimport_changes_nothing_and_embeds_nothing(crm, settings, embedder):
    store = Store(settings)
    start = time.perf_counter()
    first = import_crm(store, crm, today=TODAY)
    import_seconds = time.perf_counter() - start
    with Index(settings, embedder=embedder) as index:
        start = time.perf_counter()
        sync = index.sync(store)
        sync_seconds = time.perf_counter() - start
        assert sync.embedded > 85 * 10
        with store.session() as s:
            before = (s.scalar(select(func.count()).select_from(InteractionRow)),
                      s.scalar(select(func.count()).select_from(KeyDateRow)))
        again = import_crm(store, crm, today=TODAY)
        assert again.imported == [] and len(again.unchanged) == 85 and again.quirks == first.quirks
        with store.session() as s:
            after = (s.scalar(select(func.count()).select_from(InteractionRow)),
                     s.scalar(select(func.count()).select_from(KeyDateRow)))
        assert after == before
        resync = index.sync(store)
        assert resync.embedded == 0 and resync.deleted == 0 and resync.accounts == 0
    print(f"\nfull CRM import {import_seconds:.2f}s, indexing {sync.embedded} chunks {sync_seconds:.2f}s")


# ------------------------------------------------------------------ a small export with every quirk
@pytest.fixture()
def small_crm(crm: Path, tmp_path: Path) -> Path:
    """The first 400 pipeline rows, one agent missing from the teams, a bad date, a bad number."""
    data = _copy(crm, tmp_path / "small")
    rows = _rows(data / "sales_pipeline.csv")[:400]
    won = [r for r in rows if r["deal_stage"] == "Won" and r["account"]]
    won[0]["close_date"] = "2017-13-45"
    won[1]["close_value"] = "12O0"
    _write(data / "sales_pipeline.csv", rows, list(rows[0]))
    teams = _rows(data / "sales_teams.csv")
    _write(data / "sales_teams.csv", [t for t in teams if t["sales_agent"] != "Moses Frase"], list(teams[0]))
    return data


def test_small_export_reimport_embeds_nothing(small_crm, settings, embedder):
    store = Store(settings)
    import_crm(store, small_crm, today=TODAY)
    with Index(settings, embedder=embedder) as index:
        assert index.sync(store).embedded > 0
        again = import_crm(store, small_crm, today=TODAY)
        assert again.imported == [] and again.unchanged
        assert index.sync(store).embedded == 0


def test_small_export_quirks(small_crm, store):
    report = import_crm(store, small_crm, today=TODAY)
    assert report.skipped == []
    assert report.quirks["bad_date:close_date"] == 1 and report.quirks["bad_number:close_value"] == 1
    assert report.quirks["won_incomplete"] == 2
    moses_rows = sum(r["sales_agent"] == "Moses Frase" for r in _rows(small_crm / "sales_pipeline.csv"))
    assert report.quirks["agent_not_in_teams:Moses Frase"] == moses_rows
    moses = store.person("moses.frase@crm.example")
    assert moses.role == "rep" and moses.manager is None
    assert any("'2017-13-45'" in w for w in report.warnings)


@pytest.mark.parametrize("damage, expect", [
    ("missing_column", ["sales_pipeline.csv", "close_value"]),
    ("missing_file", ["products.csv", "missing file"]),
    ("not_utf8", ["accounts.csv:5", "UTF-8"]),
])
def test_bad_export_is_refused_and_nothing_is_lost(small_crm, store, damage, expect, tmp_path):
    first = import_crm(store, small_crm, today=TODAY)
    before = {s.id: store.load_profile(s.id) for s in store.summaries()}
    assert before and first.skipped == []
    broken = _copy(small_crm, tmp_path / "broken")
    if damage == "missing_column":
        rows = _rows(broken / "sales_pipeline.csv")
        fields = [f for f in rows[0] if f != "close_value"]
        _write(broken / "sales_pipeline.csv", [{f: r[f] for f in fields} for r in rows], fields)
    elif damage == "missing_file":
        (broken / "products.csv").unlink()
    else:
        lines = (broken / "accounts.csv").read_bytes().split(b"\n")
        lines[4] = lines[4].replace(b",", b"\xe9,", 1)  # a Latin-1 "é" on line 5
        (broken / "accounts.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(ProfileError) as err:
        import_crm(store, broken, today=TODAY)
    assert all(e in str(err.value) for e in expect), str(err.value)
    assert {s.id: store.load_profile(s.id) for s in store.summaries()} == before


def test_crm_account_already_kept_in_a_profile_keeps_its_profile(small_crm, store):
    from knowledge.profile import AccountProfile, Finance

    name = next(r["account"] for r in _rows(small_crm / "sales_pipeline.csv") if r["account"])
    hand = AccountProfile(account=name, owner="alice@example.com", finance=Finance(budget="USD 2M for 2027"))
    account_id, _ = store.save_profile(hand, "/profiles/hand.yaml")
    report = import_crm(store, small_crm, today=TODAY)
    assert report.quirks["account_from_other_source"] == 1
    merged = store.load_profile(account_id)
    assert merged.owner == "alice@example.com" and merged.finance.budget == "USD 2M for 2027"
    assert merged.metrics.revenue is not None and any(i.by.endswith("@crm.example") for i in merged.interactions)
    assert import_crm(store, small_crm, today=TODAY).imported == []


def test_cli_import_crm(small_crm, tmp_path):
    home = tmp_path / "kam"
    done = kam(home, "import-crm", str(small_crm), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["importer"] == "crm" and report["imported"] and report["embedded"] > 0
    assert report["quirks"]["bad_date:close_date"] == 1
    (small_crm / "sales_teams.csv").unlink()
    failed = kam(home, "import-crm", str(small_crm))
    assert failed.returncode == 1 and "sales_teams.csv" in failed.stderr and "missing file" in failed.stderr
