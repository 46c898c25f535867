"""Tiering: hand-computed scores, unknown metrics, config errors, hysteresis, overrides, key cap, history, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from knowledge.db import MetricsRow, YearlyRevenueRow
from knowledge.importers.profiles import ingest_dir
from knowledge.store import Store
from skills.tiering.config import FACTORS, TieringConfigError, load_config, parse_config
from skills.tiering.history import (
    OverrideError,
    current_tiers,
    explain,
    listing,
    review,
    set_override,
    what_if,
)
from skills.tiering.models import TierHistoryRow, TierOverrideRow
from skills.tiering.scoring import Portfolio, PriorState, Scores, load_portfolio, place, score
from tests.conftest import EXAMPLES, make_settings

TODAY = dt.date(2026, 11, 23)
INTENDED = {
    "key": {"Hanshan Packaging Co.", "江南乳业股份有限公司", "Borealis Beverage Group", "Siam Meridian Auto Parts"},
    "strategic": {"Acme Industrial", "康源制药集团", "Pacific Rim Logistics", "Helvetia Pharma AG"},
    "maintenance": {"Northwind Foods", "Cascade Labels & Print", "深圳锐芯电子有限公司", "Kiwi Fresh Exports"},
    "opportunity": {"Lakeside Brewing Co.", "Orion Circuit Assemblies", "四川天府精细化工有限公司",
                    "Bayview Cold Chain Logistics"},
}

SMALL = """
importance:
  threshold: 0.5
  factors:
    revenue: {weight: 1, normalise: portfolio, method: minmax}
    purchase_share: {weight: 3, normalise: bands, bands: [[0, 0], [1, 1]]}
strength:
  threshold: 0.5
  factors:
    satisfaction: {weight: 1, normalise: bands, bands: [[1, 0], [5, 1]]}
    complaints: {weight: 1, normalise: bands, bands: [[0, 0], [10, 1]], direction: negative}
hysteresis: {margin: 0.05, consecutive_reviews: 2}
"""


def small_config(**changes: object):
    data = yaml.safe_load(SMALL)
    data.update(changes)
    return parse_config(data)


def portfolio(rows: dict[str, dict[str, float]]) -> Portfolio:
    raw = np.full((len(rows), len(FACTORS)), np.nan)
    for i, values in enumerate(rows.values()):
        for name, v in values.items():
            raw[i, FACTORS.index(name)] = v
    return Portfolio(list(rows), raw, np.zeros(len(rows), dtype=bool))


@pytest.fixture()
def sample_store(tmp_path: Path) -> Store:
    store = Store(make_settings(tmp_path / "kam"))
    report = ingest_dir(store, EXAMPLES)
    assert not report.skipped
    return store


def by_name(store: Store) -> dict[str, str]:
    return {s.name: s.id for s in store.summaries()}


# ------------------------------------------------------------------------------------------------ scoring
def test_hand_computed_scores_weights_renormalised_and_missing_is_unknown():
    config = small_config()
    assert config.weights("importance") == {"revenue": 0.25, "purchase_share": 0.75}
    assert config.weights_normalised("importance")
    assert config.weights("strength") == {"satisfaction": 0.5, "complaints": 0.5}
    p = portfolio({
        "a": {"revenue": 100, "purchase_share": 0.8, "satisfaction": 5, "complaints": 0},
        "b": {"revenue": 300, "purchase_share": 0.2, "satisfaction": 3, "complaints": 5},
        "c": {"revenue": 200},  # purchase share and both strength factors unknown
    })
    s = score(p, config)
    # a: 0.25*0 + 0.75*0.8; b: 0.25*1 + 0.75*0.2; c: revenue alone (its weight renormalised to 1) = 0.5
    assert s.importance == pytest.approx([0.6, 0.4, 0.5])
    assert s.strength[:2] == pytest.approx([1.0, 0.5]) and np.isnan(s.strength[2])
    assert s.coverage["importance"] == pytest.approx([1.0, 1.0, 0.25])
    rev, ps = FACTORS.index("revenue"), FACTORS.index("purchase_share")
    assert s.contrib[0, ps] == pytest.approx(0.6) and s.contrib[2, rev] == pytest.approx(0.5)
    assert np.isnan(s.contrib[2, ps])  # unknown, not zero
    tiers = place(s, config).tier_names()
    # a high/high; b low(0.4)/high(0.5 is at the threshold); c 0.5 importance = high, strength unknown -> low
    assert tiers == ["key", "maintenance", "strategic"]


def test_percentile_ties_share_their_mid_rank():
    config = small_config(importance={"threshold": 0.5, "factors": {"revenue": {"weight": 1}}})
    s = score(portfolio({k: {"revenue": v} for k, v in zip("abcd", [10, 20, 20, 30], strict=True)}), config)
    assert s.importance == pytest.approx([0.0, 0.5, 0.5, 1.0])


def test_hysteresis_holds_on_oscillating_scores_and_moves_on_margin_or_streak():
    config = small_config()
    prior = PriorState.empty(1)

    def step(imp: float) -> str:
        nonlocal prior
        s = Scores(np.zeros((1, 9)), np.zeros((1, 9)), {}, np.array([imp]), np.array([0.9]), {})
        p = place(s, config, prior)
        prior = PriorState(np.array([True]), p.high_importance, p.high_strength, p.streak_importance,
                           p.streak_strength)
        return p.tier_names()[0]

    assert step(0.60) == "key"  # first placement: no hysteresis
    assert [step(v) for v in [0.48, 0.52, 0.47, 0.53, 0.49, 0.51]] == ["key"] * 6  # flapping inputs: no change
    assert step(0.48) == "key"  # across the boundary once, within the margin: held
    assert step(0.49) == "maintenance"  # across it two reviews in a row: moves
    assert step(0.52) == "maintenance" and step(0.60) == "key"  # 0.60 clears 0.5 + margin at once
    assert step(0.44) == "maintenance"  # 0.44 is below 0.5 - margin: at once


def test_key_cap_demotes_lowest_combined_scores():
    config = small_config(key_cap=2)
    rows = {k: {"revenue": 1, "purchase_share": ps, "satisfaction": 5, "complaints": 0}
            for k, ps in zip("abcd", [0.9, 0.6, 0.8, 0.7], strict=True)}
    p = place(score(portfolio(rows), config), config)
    assert p.tier_names() == ["key", "strategic", "key", "strategic"]
    assert p.capped.tolist() == [False, True, False, True]


# ------------------------------------------------------------------------------------------------ config errors
@pytest.mark.parametrize("edit, field, words", [
    (lambda d: d["importance"]["factors"]["revenue"].update(wieght=1), "importance.factors.revenue.wieght",
     "unknown key 'wieght'"),
    (lambda d: d["importance"]["factors"]["revenue"].update(weight=-1), "importance.factors.revenue.weight",
     "greater than or equal to 0"),
    (lambda d: d["strength"]["factors"].update(loyalty={"weight": 1}), "strength.factors.loyalty",
     "unknown factor 'loyalty'"),
    (lambda d: d["strength"].update(threshold=1.5), "strength.threshold", "less than or equal to 1"),
    (lambda d: [f.update(weight=0) for f in d["strength"]["factors"].values()], "strength.factors",
     "weights sum to 0"),
    (lambda d: d["importance"]["factors"]["purchase_share"].update(bands=[[0.5, 0], [0.1, 1]]),
     "importance.factors.purchase_share", "strictly increasing"),
    (lambda d: d["strength"]["factors"].update(revenue={"weight": 1}), "strength.factors.revenue",
     "already on the importance axis"),
    (lambda d: d.update(colour="red"), "colour", "unknown key 'colour'"),
    (lambda d: d["hysteresis"].update(consecutive_reviews=0), "hysteresis.consecutive_reviews",
     "greater than or equal to 1"),
])
def test_invalid_config_names_the_key_and_line(tmp_path: Path, edit, field: str, words: str):
    data = yaml.safe_load(SMALL)
    edit(data)
    path = tmp_path / "tiering.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(TieringConfigError) as err:
        load_config(path)
    assert err.value.field == field and words in err.value.message, str(err.value)
    assert err.value.line is not None and str(err.value).startswith(f"{path}:{err.value.line}: {field}")
    line = path.read_text().splitlines()[err.value.line - 1]
    assert field.split(".")[-1] in line


def test_default_config_is_valid_and_documented():
    config = load_config()
    assert set(config.importance.factors) == {"revenue", "profit_margin", "purchase_share", "growth", "potential",
                                             "footprint"}
    assert set(config.strength.factors) == {"tech_cooperation", "satisfaction", "complaints"}
    assert config.strength.factors["complaints"].direction == "negative" and config.key_cap == 25


# ------------------------------------------------------------------------------------------------ the sample portfolio
def test_sample_accounts_land_in_their_intended_tiers(sample_store: Store):
    result = review(sample_store, load_config(), today=TODAY)
    assert result.tiers == {"key": 4, "strategic": 4, "maintenance": 4, "opportunity": 4}
    assert result.placed_first_time == 16 and result.changes == []
    names = {s.id: s.name for s in sample_store.summaries()}
    got: dict[str, set[str]] = {}
    for aid, tier in current_tiers(sample_store, TODAY).items():
        got.setdefault(tier, set()).add(names[aid])
    assert got == INTENDED


def test_review_records_history_and_explains_a_change(sample_store: Store):
    config = load_config()
    review(sample_store, config, today=TODAY)
    acme = by_name(sample_store)["Acme Industrial"]
    with sample_store.session() as s:  # the account's relationship improves a lot
        s.execute(update(MetricsRow).where(MetricsRow.account_id == acme)
                  .values(tech_cooperation=5, satisfaction=4.6, complaints=1))
    result = review(sample_store, config, today=TODAY)
    assert [(c.account, c.old_tier, c.new_tier, c.cause) for c in result.changes] == \
        [("Acme Industrial", "strategic", "key", "scores")]
    assert result.changes[0].reason == ("Acme Industrial: strategic -> key: tech cooperation 2/5 -> 5/5, "
                                        "satisfaction 2.9/5 -> 4.6/5")
    with sample_store.session() as s:
        rows = s.scalars(select(TierHistoryRow).where(TierHistoryRow.account_id == acme)
                         .order_by(TierHistoryRow.id)).all()
        assert [(r.kind, r.old_tier, r.new_tier) for r in rows] == [("review", None, "strategic"),
                                                                  ("review", "strategic", "key")]
        contrib = json.loads(rows[-1].contributions)
        assert sum(c for c in contrib[:6] if c is not None) == pytest.approx(rows[-1].importance, abs=1e-4)
        assert s.scalar(select(func.count()).select_from(TierHistoryRow)) == 32
    status = {r.id: r for r in listing(sample_store, TODAY)}[acme]
    assert (status.tier, status.previous_tier) == ("key", "strategic")


def test_missing_metrics_are_unknown_in_explanations_and_growth_comes_from_history(sample_store: Store):
    tianfu = by_name(sample_store)["四川天府精细化工有限公司"]
    config = load_config()
    e = explain(sample_store, config, tianfu, today=TODAY)
    growth = next(f for f in e.factors if f.factor == "growth")
    assert (growth.known, growth.value, growth.contribution, growth.source) == (False, "unknown", None, "unknown")
    assert any("unknown importance factors: growth" in n and "not counted as zero" in n for n in e.notes)
    known = [f for f in e.factors if f.axis == "importance" and f.known]
    assert sum(f.effective_weight for f in known) == pytest.approx(1.0, abs=1e-3)
    with sample_store.session() as s:  # CRM history: 2024 -> 2025 revenue (2026 is not complete yet)
        s.add_all([YearlyRevenueRow(account_id=tianfu, year=y, revenue=r) for y, r in
                   [(2024, 80_000), (2025, 100_000), (2026, 10_000)]])
    p = load_portfolio(sample_store, TODAY)
    assert p.raw[p.position()[tianfu], FACTORS.index("growth")] == pytest.approx(0.25)
    growth = next(f for f in explain(sample_store, config, tianfu, today=TODAY).factors if f.factor == "growth")
    assert (growth.value, growth.source) == ("+25%", "derived from yearly revenue")


def test_explain_names_the_near_boundary_and_normalised_weights(sample_store: Store, tmp_path: Path):
    data = yaml.safe_load(Path(load_config.__globals__["DEFAULT_CONFIG"]).read_text())
    for f in data["importance"]["factors"].values():
        f["weight"] *= 10  # sums to 10: divided back to 1
    data["strength"]["threshold"] = 0.35  # Acme's strength 0.366 is now just above it
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data))
    acme = by_name(sample_store)["Acme Industrial"]
    e = explain(sample_store, load_config(path), acme, today=TODAY)
    assert any("importance weights in the config sum to 10" in n for n in e.notes)
    strength = next(a for a in e.axes if a.axis == "strength")
    assert strength.near and "near the strength boundary 0.35" in strength.note
    assert not next(a for a in e.axes if a.axis == "importance").near


# ------------------------------------------------------------------------------------------------ overrides
def test_overrides_need_a_manager_of_the_account_and_expire(sample_store: Store):
    store, config = sample_store, load_config()
    review(store, config, today=TODAY)
    acme = by_name(store)["Acme Industrial"]
    with pytest.raises(OverrideError, match="only admins, and managers"):
        set_override(store, acme, "key", "pushy", store.person("bob@example.com"), today=TODAY)
    lakeside = by_name(store)["Lakeside Brewing Co."]
    with pytest.raises(OverrideError, match="may not override"):  # noah manages carol, dave, erin; not bob
        set_override(store, lakeside, "key", "x", store.person("noah@example.com"), today=TODAY)
    with pytest.raises(OverrideError, match="needs a reason"):
        set_override(store, acme, "key", " ", store.person("mia@example.com"), today=TODAY)
    with pytest.raises(OverrideError, match="in the past"):
        set_override(store, acme, "key", "x", store.person("mia@example.com"), until=TODAY - dt.timedelta(1),
                     today=TODAY)
    until = TODAY + dt.timedelta(days=30)
    change = set_override(store, acme, "key", "CEO sponsorship signed", store.person("mia@example.com"),
                          until=until, today=TODAY)
    assert (change.old_tier, change.new_tier) == ("strategic", "key") and "by mia@example.com" in change.reason
    assert current_tiers(store, TODAY)[acme] == "key"
    e = explain(store, config, acme, today=TODAY)
    assert e.override["reason"] == "CEO sponsorship signed" and e.tier == "key" and e.scored_tier == "strategic"
    assert review(store, config, today=TODAY).changes == []  # an override outlives reviews
    later = until + dt.timedelta(days=1)
    assert current_tiers(store, later)[acme] == "strategic"  # expired: the scores rule again
    result = review(store, config, today=later)
    assert result.expired_overrides == [acme]
    assert [(c.old_tier, c.new_tier, c.cause) for c in result.changes] == [("key", "strategic", "override_expired")]
    with store.session() as s:
        kinds = s.scalars(select(TierHistoryRow.kind).where(TierHistoryRow.account_id == acme)
                          .order_by(TierHistoryRow.id)).all()
        assert kinds == ["review", "override", "review", "override_expired", "review"]
        assert s.scalar(select(TierOverrideRow.cleared_by)) == "expired"


def test_admin_override_and_auto_clears_it(sample_store: Store):
    store = sample_store
    review(store, load_config(), today=TODAY)
    orion = by_name(store)["Orion Circuit Assemblies"]
    ada = store.person("ada@example.com")
    set_override(store, orion, "strategic", "new plant in Penang", ada, today=TODAY)
    assert current_tiers(store, TODAY)[orion] == "strategic"
    cleared = set_override(store, orion, "auto", "plant cancelled", ada, today=TODAY)
    assert (cleared.new_tier, cleared.cause) == ("opportunity", "override_cleared")
    assert current_tiers(store, TODAY)[orion] == "opportunity"
    with pytest.raises(OverrideError, match="unknown tier"):
        set_override(store, orion, "gold", "x", ada, today=TODAY)


def test_key_cap_in_a_review_explains_the_demotion(sample_store: Store):
    data = yaml.safe_load(Path(load_config.__globals__["DEFAULT_CONFIG"]).read_text())
    review(sample_store, parse_config(data), today=TODAY)
    data["key_cap"] = 3
    result = review(sample_store, parse_config(data), today=TODAY)
    assert [(c.account, c.cause, c.new_tier) for c in result.changes] == \
        [("Borealis Beverage Group", "key_cap", "strategic")]
    assert "key cap of 3 reached" in result.changes[0].reason


def test_what_if_lists_changes_and_saves_nothing(sample_store: Store):
    config = load_config()
    review(sample_store, config, today=TODAY)
    data = yaml.safe_load(Path(load_config.__globals__["DEFAULT_CONFIG"]).read_text())
    data["strength"]["threshold"] = 0.35
    with sample_store.session() as s:
        before = s.scalar(select(func.count()).select_from(TierHistoryRow))
    result = what_if(sample_store, parse_config(data), config, today=TODAY)
    with sample_store.session() as s:
        assert s.scalar(select(func.count()).select_from(TierHistoryRow)) == before
    moved = {c.account: (c.old_tier, c.new_tier) for c in result.changes}
    assert moved["Acme Industrial"] == ("strategic", "key")  # strength 0.37 clears a 0.35 bar
    assert result.before == {"key": 4, "strategic": 4, "maintenance": 4, "opportunity": 4}
    assert sum(result.after.values()) == 16 and result.after["key"] > 4
    assert current_tiers(sample_store, TODAY)[by_name(sample_store)["Acme Industrial"]] == "strategic"


# ------------------------------------------------------------------------------------------------ commands
@pytest.fixture()
def cli(sample_store: Store):
    from cli.context import reset_context
    from cli.main import app

    reset_context(sample_store.settings)
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == code, result.output
        return result

    yield run
    reset_context()


def test_cli_tiers_review_list_explain_override_what_if(cli, tmp_path: Path):
    assert json.loads(cli("tiers", "--json").stdout)[0]["tier"] is None  # nothing reviewed yet
    done = json.loads(cli("tiers", "review", "--json").stdout)
    assert done["tiers"] == {"key": 4, "strategic": 4, "maintenance": 4, "opportunity": 4}
    items = json.loads(cli("tiers", "--json").stdout)
    assert len(items) == 16
    assert {"account", "id", "tier", "importance", "strength", "previous_tier"} <= set(items[0])
    hanshan = next(i for i in items if i["account"] == "Hanshan Packaging Co.")
    assert hanshan["tier"] == "key" and hanshan["importance"] > 0.5 and hanshan["previous_tier"] is None

    e = json.loads(cli("tiers", "explain", "Hanshan Packaging Co.", "--json").stdout)
    assert e["tier"] == "key" and {f["factor"] for f in e["factors"]} == set(FACTORS) - {"clv"}  # off by default
    assert "weight" in e["factors"][0] and "contribution" in e["factors"][0]
    assert "tech cooperation" in cli("tiers", "explain", "hanshan-packaging-co").stdout

    keys = json.loads(cli("accounts", "--tier", "key", "--json").stdout)
    assert {a["account"] for a in keys} == INTENDED["key"] and all(a["tier"] == "key" for a in keys)

    refused = cli("tiers", "override", "Acme Industrial", "key", "--reason", "x", "--as", "bob@example.com", code=1)
    assert "only admins" in refused.output
    done = cli("tiers", "override", "Acme Industrial", "key", "--reason", "exec sponsor", "--until", "2027-01-31",
               "--as", "mia@example.com")
    assert "strategic -> key" in done.stdout
    acme = next(i for i in json.loads(cli("tiers", "--json").stdout) if i["account"] == "Acme Industrial")
    assert acme["tier"] == "key" and acme["override"]["until"] == "2027-01-31" and acme["previous_tier"] == "strategic"

    other = tmp_path / "other.yaml"
    data = yaml.safe_load(Path(load_config.__globals__["DEFAULT_CONFIG"]).read_text())
    data["importance"]["threshold"] = 0.8
    other.write_text(yaml.safe_dump(data))
    wi = json.loads(cli("tiers", "what-if", "--config", str(other), "--json").stdout)
    assert wi["after"]["key"] < wi["before"]["key"] and all(c["cause"] == "config" for c in wi["changes"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("importance:\n  threshold: 0.5\n  factors:\n    revenu: {weight: 1}\n")
    failed = cli("tiers", "what-if", "--config", str(bad), code=1)
    assert f"{bad}:4" in failed.output and "unknown factor 'revenu'" in failed.output


def test_demo_console_tiers(cli, sample_store: Store, capsys):
    from cli.demo_cmd import COMMANDS

    handler = COMMANDS["tiers"][1]
    state = {"user": "mia@example.com"}
    handler(state, "review")
    handler(state, "")
    handler(state, "explain Acme Industrial")
    handler(state, 'override "Acme Industrial" key exec sponsor')
    out = capsys.readouterr().out
    assert "4 key" in out and "Acme Industrial" in out and "strategic -> key" in out
    assert current_tiers(sample_store)[by_name(sample_store)["Acme Industrial"]] == "key"
