"""Customer lifetime value (skills/clv.py, docs/clv.md): hand-computed values on a sample account and a small
made-up one, the parameters file and its errors, and where the value shows (kam show, tiers explain, accounts
--sort clv, Ask)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from knowledge.kb import KnowledgeBase
from knowledge.profile import AccountProfile
from skills.ask import ask
from skills.clv import ClvConfigError, account_clv, lifetime_value, load_config
from tests.test_cli import kam

TODAY = dt.date(2026, 11, 23)
ACME = "acme-industrial"

# Acme Industrial's metrics (examples/accounts/acme-industrial.yaml): revenue 3,800,000, margin 0.17, growth 0.11,
# satisfaction 2.9, complaints 6; not reviewed, so "untiered" (5 years) under skills/clv.yaml.
# years  = 5 x (1 + 0.2 x (2.9 - 3.5)) x 1 / (1 + 0.05 x 6) = 5 x 0.88 x 0.769231 = 3.384615
# growth fades by 0.8 a year: 0.11, 0.088, 0.0704, 0.05632
# revenue: 4,218,000; 4,589,184; 4,912,262.55; 5,188,921.17
# margin x revenue / 1.1^t: 651,872.73; 644,761.39; 627,411.45; 602,497.51 (x 0.384615 = 231,729.81)
ACME_YEARS = 3.384615
ACME_CLV = 651_872.73 + 644_761.39 + 627_411.45 + 231_729.81  # 2,155,775.38
# as a key account (10 years): 6.769231 years, so six whole years and 0.769231 of the seventh
# years 5-7 growth 0.045056, 0.036045, 0.028836; revenue 5,422,713.21; 5,618,173.83; 5,780,178.59
# discounted: 572,403.30; 539,123.15; 504,244.75 x 0.769231 = 387,880.58
ACME_KEY_CLV = 651_872.73 + 644_761.39 + 627_411.45 + 602_497.51 + 572_403.30 + 539_123.15 + 387_880.58


def test_acme_hand_computed(sample_kb) -> None:
    _, store, _ = sample_kb
    c = account_clv(store, ACME, TODAY)
    assert c.tier is None and c.tier_years == 5
    assert c.satisfaction_factor == pytest.approx(0.88) and c.complaints_factor == pytest.approx(1 / 1.3, abs=1e-4)
    assert c.years == pytest.approx(ACME_YEARS, abs=1e-4)
    assert c.value == pytest.approx(ACME_CLV, abs=1.0)
    assert [round(y.discounted, 2) for y in c.yearly] == pytest.approx([651_872.73, 644_761.39, 627_411.45,
                                                                        231_729.81], abs=0.02)
    assert c.revenue_source == c.margin_source == c.growth_source == "metrics" and not c.notes


def test_tier_lengthens_the_relationship(sample_kb) -> None:
    from skills.tiering.history import set_override

    _, store, _ = sample_kb
    set_override(store, ACME, "key", "strategic OEM", store.person("mia@example.com"))
    c = account_clv(store, ACME, TODAY)
    assert c.tier == "key" and c.years == pytest.approx(2 * ACME_YEARS, abs=1e-4)
    assert c.value == pytest.approx(ACME_KEY_CLV, abs=2.0)


def test_revenue_and_growth_from_history_margin_assumed(tmp_path: Path) -> None:
    """No metrics: the last complete year's revenue, the compound growth of the history, the default margin.
    With growth equal to the discount rate and no fade, each year is worth margin x base revenue: 5 x 181.5."""
    cfg = tmp_path / "clv.yaml"
    text = (Path(__file__).parents[1] / "skills" / "clv.yaml").read_text().replace("fade: 0.80", "fade: 1.0")
    cfg.write_text(text)
    profile = AccountProfile.model_validate({"account": "Tiny", "owner": "alice@example.com"})
    history = {2023: 1000.0, 2025: 1210.0, 2026: 50.0}
    c = lifetime_value("tiny", profile.account, profile.metrics, None, history, load_config(cfg), TODAY)
    assert (c.base_revenue, c.revenue_source) == (1210.0, "history 2025")  # 2026 is not over yet
    assert c.growth == pytest.approx(0.10) and c.growth_source == "history 2023-2025"
    assert (c.margin, c.margin_source) == (0.15, "assumed") and any("assumed" in n for n in c.notes)
    assert c.years == 5 and c.value == pytest.approx(5 * 181.5)


def test_no_revenue_no_value_and_clamped_growth() -> None:
    config = load_config()
    bare = AccountProfile.model_validate({"account": "Bare", "owner": "a@example.com"})
    c = lifetime_value("bare", bare.account, bare.metrics, "key", {}, config, TODAY)
    assert c.value is None and "unknown" in c.summary()
    fast = AccountProfile.model_validate({"account": "Fast", "owner": "a@example.com",
                                          "metrics": {"revenue": 100, "growth": 3.0, "profit_margin": 0.5}})
    c = lifetime_value("fast", fast.account, fast.metrics, "opportunity", {}, config, TODAY)
    assert c.growth == 0.25 and any("clamped" in n for n in c.notes) and c.years == 3


def test_bad_parameters_name_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "clv.yaml"
    cfg.write_text((Path(__file__).parents[1] / "skills" / "clv.yaml").read_text()
                   .replace("discount_rate: 0.10", "discount_rate: -1"))
    with pytest.raises(ClvConfigError, match="discount_rate"):
        load_config(cfg)


def test_cli_show_explain_accounts_sorted(sample_kb, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, store, _ = sample_kb
    home = settings.kam_home
    shown = json.loads(kam(home, "show", "acme", "--json").stdout)
    assert shown["clv"]["value"] == pytest.approx(account_clv(store, ACME).value, abs=0.01)
    assert "Lifetime value" in kam(home, "show", "acme").stdout
    explained = kam(home, "tiers", "explain", "acme", "--json")
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["clv"]["years"] > 0
    rows = json.loads(kam(home, "accounts", "--sort", "clv", "--json").stdout)
    values = [r["clv"] for r in rows if r["clv"] is not None]
    assert len(rows) == 16 and values == sorted(values, reverse=True) and rows[0]["clv"] == max(values)
    bad = kam(home, "accounts", "--sort", "value")
    assert bad.returncode == 1 and "--sort" in bad.stderr and "Traceback" not in bad.stderr
    broken = Path(home) / "broken.yaml"
    broken.write_text("discount_rate: lots\n")
    monkeypatch.setenv("KAM_CLV_CONFIG", str(broken))
    failed = kam(home, "show", "acme")
    assert failed.returncode == 1 and "discount_rate" in failed.stderr and "Traceback" not in failed.stderr


@pytest.mark.parametrize("question", ["what's Acme's lifetime value?", "Acme的客户生命周期价值是多少?"])
def test_ask_lifetime_value(sample_kb, question: str) -> None:
    settings, store, index = sample_kb
    answer = ask(KnowledgeBase(settings, store, index), question, "bob@example.com", today=TODAY)
    assert answer.status == "answered", answer.answer
    assert "2.2M" in answer.answer and "3.4" in answer.answer
    assert [s.id for s in answer.sources] == [f"{ACME}:clv"]


def _clv_tiering(tmp_path: Path) -> Path:
    """The default tiering.yaml with lifetime value on the importance axis (docs/clv.md, "As a tiering factor")."""
    import yaml

    data = yaml.safe_load((Path(__file__).parents[1] / "tiering.yaml").read_text())
    data["importance"]["factors"]["clv"] = {"weight": 0.25, "normalise": "portfolio", "method": "percentile"}
    path = tmp_path / "tiering-clv.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_tiering_factor_off_by_default_on_when_configured(sample_kb, tmp_path: Path) -> None:
    from skills.tiering.config import load_config as load_tiering
    from skills.tiering.history import explain, review
    from skills.tiering.scoring import CLV, load_portfolio

    settings, store, _ = sample_kb
    assert not load_tiering().uses_clv  # the shipped config does not use it ...
    assert all(v != v for v in load_portfolio(store, TODAY).raw[:, CLV])  # ... so it is not even computed (NaN)
    config = load_tiering(_clv_tiering(tmp_path))
    assert config.uses_clv
    review(store, config, today=TODAY)
    e = explain(store, config, ACME, TODAY)
    [f] = [f for f in e.factors if f.factor == "clv"]
    # the untiered length whatever the tier (a factor cannot depend on the tier it decides): the value above
    assert f.axis == "importance" and f.raw == pytest.approx(ACME_CLV, abs=1.0) and f.value == "2.16M"
    assert f.source.startswith("derived") and f.contribution is not None
    cli = kam(settings.kam_home, "tiers", "what-if", "--config", str(_clv_tiering(tmp_path)), "--json")
    assert cli.returncode == 0, cli.stderr


@pytest.mark.parametrize("question", ["rank my accounts by lifetime value", "我的客户按生命周期价值排名"])
def test_ask_ranks_accounts_by_lifetime_value(sample_kb, question: str) -> None:
    from skills.clv import portfolio_clv

    settings, store, index = sample_kb
    answer = ask(KnowledgeBase(settings, store, index), question, "bob@example.com", today=TODAY)
    assert answer.status == "answered", answer.answer
    mine = store.visible_account_ids(store.person("bob@example.com"))
    values = portfolio_clv(store, mine, TODAY)
    expected = [values[a].account for a in sorted(values, key=lambda a: -(values[a].value or 0))]
    lines = [line for line in answer.answer.splitlines() if line.startswith("- ")]
    assert [line[2:].split(":")[0].split("：")[0].strip("*") for line in lines] == expected
    assert f"{values[ACME].value:,.0f}" in answer.answer
