"""`kam import-crm` on damaged exports (issue 11): a malformed CSV is refused with its line and changes nothing,
absurd dates and values are ignored with a warning, and cells that look like formulas are stored as text."""

from __future__ import annotations

import pytest

from knowledge.importers.crm import import_crm
from knowledge.loader import ProfileError
from tests.test_import_crm import TODAY, _copy, _rows, _write, crm, small_crm  # noqa: F401 - fixtures


def _stored(store) -> dict:  # noqa: ANN001
    return {s.id: store.load_profile(s.id) for s in store.summaries()}


@pytest.mark.parametrize(("table", "line", "damage", "expect"), [
    ("accounts.csv", 4, lambda text: text.replace(",", ',"', 1), "a quoted value is never closed"),
    ("sales_pipeline.csv", 11, lambda text: text.replace(",", ',"', 1) + '"', "fields but the header has"),
    ("accounts.csv", 3, lambda text: text.replace(",", ',"x"y', 1), "malformed CSV"),
    ("accounts.csv", 6, lambda text: text.replace(",", "," + "w" * 20_000, 1), "20,0"),
])
def test_malformed_csv_is_refused_with_its_line_and_nothing_changes(small_crm, store, tmp_path, table, line,  # noqa: F811
                                                                    damage, expect) -> None:
    assert import_crm(store, small_crm, today=TODAY).skipped == []
    before = _stored(store)
    broken = _copy(small_crm, tmp_path / "broken")
    lines = (broken / table).read_text().split("\n")
    lines[line - 1] = damage(lines[line - 1])
    (broken / table).write_text("\n".join(lines))
    with pytest.raises(ProfileError, match=rf"{table}:{line}: .*{expect}"):
        import_crm(store, broken, today=TODAY)
    assert _stored(store) == before


def test_absurd_dates_and_values_are_ignored_not_stored(small_crm, store, tmp_path) -> None:  # noqa: F811
    data = _copy(small_crm, tmp_path / "absurd")
    rows = _rows(data / "sales_pipeline.csv")
    won = [r for r in rows if r["deal_stage"] == "Won" and r["account"] and r["close_date"][:1] == "2"]
    won[2]["close_date"] = "9999-12-31"
    won[3]["close_value"] = "1e300"
    _write(data / "sales_pipeline.csv", rows, list(rows[0]))
    report = import_crm(store, data, today=TODAY)
    assert report.skipped == []
    assert report.quirks["bad_date:close_date"] == 2  # the fixture's 2017-13-45 and 9999-12-31
    assert report.quirks["bad_number:close_value"] == 2
    for s in store.summaries():
        profile = store.load_profile(s.id)
        assert all(k.date.year < 2100 for k in profile.key_dates)
        assert profile.metrics.as_of is None or profile.metrics.as_of.year < 2100
        assert profile.finance.updated is None or profile.finance.updated.year < 2100


def test_formula_cells_are_stored_as_text(small_crm, store, tmp_path) -> None:  # noqa: F811
    data = _copy(small_crm, tmp_path / "formula")
    accounts = _rows(data / "accounts.csv")
    name = accounts[0]["account"]
    accounts[0]["subsidiary_of"] = '=CMD("calc")'
    accounts[0]["sector"] = "@SUM(A1)"
    _write(data / "accounts.csv", accounts, list(accounts[0]))
    assert import_crm(store, data, today=TODAY).skipped == []
    profile = store.load_profile(store.find_account(name))
    assert profile.organisation.structure == "Subsidiary of '=CMD(\"calc\")"
    texts = str(profile.model_dump())
    assert "'=CMD" in texts and " =CMD" not in texts.replace("'=CMD", "")
    assert profile.industry is None or profile.industry.startswith("'")
