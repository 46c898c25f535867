"""The database is the record: imports merge field by field, every change is in the history, export round-trips."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from knowledge.export import export_dir
from knowledge.history import ProfileChangeRow, changes_of
from knowledge.importers.crm import import_crm
from knowledge.importers.filing import import_filings
from knowledge.importers.profiles import ingest_dir
from knowledge.store import Store
from tests.conftest import EXAMPLES
from tests.test_cli import kam

TODAY = dt.date(2026, 6, 1)


def _copy_examples(dest: Path) -> Path:
    shutil.copytree(EXAMPLES, dest)
    return dest


def _replace(path: Path, old: str, new: str, *, age: float | None = None) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    if age is not None:  # seconds from now: negative is in the past
        stamp = time.time() + age
        os.utime(path, (stamp, stamp))


def _history(store: Store, account_id: str) -> list:
    with store.session() as s:
        return changes_of(s, account_id)


def _count(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(ProfileChangeRow)) or 0


def _state(store: Store) -> tuple:
    """Everything a user can see of the store's profiles and people, plus each account's revision and source."""
    from knowledge.db import AccountRow, PersonRow

    ids = store.account_ids()
    with store.session() as s:
        rows = {r.id: (r.revision, r.source) for r in s.scalars(select(AccountRow))}
        people = sorted((p.email, p.name, p.slack_id, p.role, p.manager, p.timezone, p.source)
                        for p in s.scalars(select(PersonRow)))
    return store.load_profiles(ids), rows, people


@pytest.fixture()
def loaded(store: Store, tmp_path: Path) -> tuple[Store, Path, str]:
    data = _copy_examples(tmp_path / "profiles")
    assert ingest_dir(store, data).ok
    return store, data, store.find_account("Hanshan")


def test_a_field_the_file_did_not_change_keeps_the_value_recorded_in_the_product(loaded):
    store, data, hanshan = loaded
    before = store.load_profile(hanshan)
    store.edit_profile(hanshan, {"finance.budget": "CNY 5m for 2027 (Slack)"}, source="slack",
                       actor="alice@example.com")
    path = data / "hanshan-packaging.yaml"
    # another field of the same file changes: the file is imported again, its unchanged budget must not win
    _replace(path, "region: ", "region: Greater ", age=0)
    report = ingest_dir(store, data)
    after = store.load_profile(hanshan)
    assert after.finance.budget == "CNY 5m for 2027 (Slack)"
    assert after.region != before.region and after.region.startswith("Greater ")
    assert report.conflicts == []
    paths = [(c.path, c.source) for c in _history(store, hanshan)]
    assert ("finance.budget", "slack") in paths and ("region", "file") in paths


@pytest.mark.parametrize("file_is_newer", [True, False])
def test_when_both_changed_the_newer_wins_and_the_conflict_is_listed(loaded, file_is_newer):
    store, data, hanshan = loaded
    old_budget = store.load_profile(hanshan).finance.budget
    assert old_budget
    store.edit_profile(hanshan, {"finance.budget": "from Slack"}, source="slack", actor="alice@example.com")
    path = data / "hanshan-packaging.yaml"
    text = path.read_text()
    line = next(x for x in text.splitlines() if x.strip().startswith("budget:"))
    path.write_text(text.replace(line, line.split("budget:")[0] + "budget: from the file"))
    stamp = time.time() + (3600 if file_is_newer else -3600)
    os.utime(path, (stamp, stamp))
    report = ingest_dir(store, data)
    budget = store.load_profile(hanshan).finance.budget
    assert budget == ("from the file" if file_is_newer else "from Slack")
    assert report.conflicts == [{"file": str(path), "account": store.load_profile(hanshan).account,
                                 "field": "finance.budget", "source_value": "from the file",
                                 "product_value": "from Slack", "kept": "source" if file_is_newer else "product"}]


def test_a_field_removed_from_the_file_goes_unless_the_product_changed_it(loaded):
    store, data, hanshan = loaded
    profile = store.load_profile(hanshan)
    first, second = profile.contacts[0], profile.contacts[1]
    assert first.title and second.title
    store.edit_profile(hanshan, {f"contacts[{second.name}].title": "Chief Procurement Officer"}, source="slack",
                       actor="bob@example.com")
    path = data / "hanshan-packaging.yaml"
    for contact in (first, second):
        _replace(path, f"    title: {contact.title}\n", "", age=-3600)  # saved before the rep's edit
    report = ingest_dir(store, data)
    assert report.ok and report.imported == [hanshan]
    titles = {c.name: c.title for c in store.load_profile(hanshan).contacts}
    assert titles[first.name] is None  # the file removed it and nobody had changed it
    assert titles[second.name] == "Chief Procurement Officer"  # both changed it: the rep's edit is newer
    assert [(c["field"], c["kept"]) for c in report.conflicts] == [(f"contacts[{second.name}].title", "product")]
    changes = {c.path: c for c in _history(store, hanshan) if c.source == "file" and c.path.startswith("contacts")}
    assert changes[f"contacts[{first.name}].title"].old == first.title
    assert changes[f"contacts[{first.name}].title"].new is None


def test_history_names_who_when_source_field_old_and_new(loaded):
    store, _, hanshan = loaded
    profile = store.load_profile(hanshan)
    name = profile.contacts[0].name
    store.edit_profile(hanshan, {f"contacts[{name}].title": "CEO", "metrics.satisfaction": 2}, source="cli",
                       actor="mia@example.com")
    store.add_note(hanshan, "suppliers", "Tetra Pak offered a rebate", by="bob@example.com")
    store.add_interaction(hanshan, "visit", dt.date(2026, 9, 1), "bob@example.com", "plant tour")
    history = _history(store, hanshan)
    by_path = {c.path: c for c in history}
    title = by_path[f"contacts[{name}].title"]
    assert (title.old, title.new, title.source, title.actor) == (profile.contacts[0].title, "CEO", "cli",
                                                                 "mia@example.com")
    assert by_path["metrics.satisfaction"].new == 2
    note = next(c for c in history if c.path.startswith("notes[") and c.source == "slack")
    assert note.old is None and note.new["text"] == "Tetra Pak offered a rebate" and note.actor == "bob@example.com"
    visit = next(c for c in history if c.path.startswith("interactions[2026-09-01 visit"))
    assert visit.source == "slack" and visit.new["summary"] == "plant tour"
    assert {c.source for c in history} == {"file", "cli", "slack"}  # the first ingest is in the history too
    assert all(isinstance(c.at, dt.datetime) for c in history)


def test_edits_that_break_the_profile_are_refused_and_change_nothing(loaded):
    store, _, hanshan = loaded
    before, count = store.load_profile(hanshan), _count(store)
    with pytest.raises(ValidationError):
        store.edit_profile(hanshan, {"metrics.satisfaction": 9}, source="slack", actor="a@b.c")
    with pytest.raises(ValueError, match="malformed field path"):
        store.edit_profile(hanshan, {"finance..revenue": "x"}, source="slack", actor="a@b.c")
    with pytest.raises(ValueError, match="source must be one of"):
        store.edit_profile(hanshan, {"finance.revenue": "x"}, source="carrier pigeon", actor="a@b.c")
    assert store.load_profile(hanshan) == before and _count(store) == count
    assert store.edit_profile(hanshan, {"finance.revenue": before.finance.revenue}, source="slack",
                              actor="a@b.c") == []  # the same value is no change


def test_removing_an_item_name_removes_the_item(loaded):
    store, _, hanshan = loaded
    profile = store.load_profile(hanshan)
    gone = profile.contacts[0].name
    store.edit_profile(hanshan, {f"contacts[{gone}].name": None}, source="slack", actor="a@b.c")
    assert gone not in [c.name for c in store.load_profile(hanshan).contacts]
    assert len(store.load_profile(hanshan).contacts) == len(profile.contacts) - 1


def test_export_then_ingest_changes_nothing_on_the_samples(loaded, tmp_path):
    store, data, hanshan = loaded
    store.add_note(hanshan, "suppliers", "Tetra Pak offered a rebate", by="bob@example.com")
    store.add_interaction(hanshan, "call", dt.date(2026, 9, 2), "bob@example.com", "budget call")
    store.edit_profile(hanshan, {"finance.budget": "edited in Slack"}, source="slack", actor="bob@example.com")
    state, count = _state(store), _count(store)
    report = export_dir(store, tmp_path / "export")
    assert len(report.accounts) == len(store.account_ids()) and (tmp_path / "export" / "people.yaml").exists()
    again = ingest_dir(store, tmp_path / "export")
    assert again.ok and again.imported == [] and again.conflicts == [] and again.removed == []
    assert _state(store) == state and _count(store) == count
    exported = (tmp_path / "export" / "hanshan-packaging.yaml").read_text()  # named as the file it came from
    assert "Tetra Pak offered a rebate" in exported and "edited in Slack" in exported
    # exported over the directory it was loaded from: the same files, and ingesting them changes nothing either
    names = sorted(p.name for p in data.iterdir())
    export_dir(store, data)
    assert sorted(p.name for p in data.iterdir()) == names
    again = ingest_dir(store, data)
    assert again.ok and again.imported == [] and _state(store) == state and _count(store) == count


def test_crm_import_keeps_rep_edits_and_export_round_trips(shared_data, store, tmp_path):
    crm = shared_data / "maven_crm"
    import_crm(store, crm, today=TODAY)
    account = store.find_account("Acme Corporation")
    assert account
    store.edit_profile(account, {"industry": "industrial hardware (corrected by the rep)"}, source="slack",
                       actor="rep@example.com")
    again = import_crm(store, crm, today=TODAY)
    assert store.load_profile(account).industry == "industrial hardware (corrected by the rep)"
    assert account in again.unchanged and again.conflicts == [] and again.changes == 0
    state, count = _state(store), _count(store)
    export_dir(store, tmp_path / "export")
    report = ingest_dir(store, tmp_path / "export")
    assert report.ok and report.imported == [] and report.conflicts == []
    assert _state(store) == state and _count(store) == count
    assert import_crm(store, crm, today=TODAY).imported == []  # and the CRM still owns its accounts


def test_a_filing_is_in_the_history(shared_data, store):
    files = sorted((shared_data / "tenk" / "filings").glob("*.json"))[:1]
    report = import_filings(store, files)
    assert report.ok
    history = _history(store, report.imported[0])
    assert {c.source for c in history} == {"filing"}
    assert any(c.path.startswith("documents[10k-") and c.old is None for c in history)
    assert any(c.path == "account" for c in history)


def test_cli_history_and_export(tmp_path):
    home = tmp_path / "kam"
    data = _copy_examples(tmp_path / "profiles")
    assert kam(home, "ingest", str(data)).returncode == 0
    path = data / "acme-industrial.yaml"
    _replace(path, "industry: ", "industry: Heavy ", age=10)
    assert kam(home, "ingest", str(data)).returncode == 0
    done = kam(home, "history", "Acme", "--json", "--field", "industry")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["source"] for r in rows] == ["file", "file"] and rows[-1]["new"].startswith("Heavy ")
    assert set(rows[0]) == {"account_id", "path", "old", "new", "source", "actor", "at", "origin"}
    text = kam(home, "history", "Acme")
    assert text.returncode == 0 and "industry:" in text.stdout
    assert kam(home, "history", "no such account").returncode == 1
    out = kam(home, "export", str(tmp_path / "out"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["people"] > 0
    again = kam(home, "ingest", str(tmp_path / "out"), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["imported"] == []


def test_a_contact_removed_from_the_file_stays_when_the_product_changed_it_since(loaded):
    store, data, hanshan = loaded
    store.edit_profile(hanshan, {"contacts[Zhou Gang].title": "Plant Director, Nantong"}, source="slack",
                       actor="bob@example.com")
    path = data / "hanshan-packaging.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "- name: Zhou Gang")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("- name:")
               or not lines[i].startswith("  "))
    path.write_text("".join(lines[:start] + lines[end:]))
    stamp = time.time() - 3600
    os.utime(path, (stamp, stamp))
    report = ingest_dir(store, data)
    assert report.ok
    kept = [c for c in store.load_profile(hanshan).contacts if c.name == "Zhou Gang"]
    assert [c.title for c in kept] == ["Plant Director, Nantong"]  # the rep's newer change is not lost
    assert [c["field"] for c in report.conflicts] == ["contacts[Zhou Gang].title"]


def test_a_merge_that_makes_an_invalid_profile_skips_the_file_and_keeps_everything(loaded):
    store, data, hanshan = loaded
    store.edit_profile(hanshan, {"suppliers.items[SMC].share": 0.6}, source="slack", actor="bob@example.com")
    before, count = store.load_profile(hanshan), _count(store)
    path = data / "hanshan-packaging.yaml"
    _replace(path, "share: 0.3", "share: 0.5")  # Tetra Pak: 0.5 + SMC 0.6 > 100%
    report = ingest_dir(store, data)
    (source, reason), = report.skipped
    assert source == str(path) and "suppliers" in reason and "more than 1" in reason
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("suppliers:"))
    assert reason.startswith(f"{path.resolve()}:{line}: suppliers: ")
    assert store.load_profile(hanshan) == before and _count(store) == count


def test_a_handover_survives_the_next_ingest_and_moves_access(loaded):
    store, data, hanshan = loaded
    assert store.load_profile(hanshan).owner == "alice@example.com"
    carol = store.person("carol@example.com")
    assert hanshan not in store.visible_account_ids(carol)
    store.edit_profile(hanshan, {"owner": "carol@example.com"}, source="handover", actor="mia@example.com")
    _replace(data / "hanshan-packaging.yaml", "industry: ", "industry: Paper ", age=0)
    assert ingest_dir(store, data).imported == [hanshan]
    profile = store.load_profile(hanshan)
    assert profile.owner == "carol@example.com" and profile.industry.startswith("Paper ")
    assert hanshan in store.visible_account_ids(carol)
    owner = [c for c in _history(store, hanshan) if c.path == "owner"]
    assert [(c.old, c.new, c.source, c.actor) for c in owner][-1] == ("alice@example.com", "carol@example.com",
                                                                      "handover", "mia@example.com")


def test_field_paths_round_trip_every_sample_and_odd_names():
    from knowledge.fields import flatten, parse, unflatten
    from knowledge.loader import load_profile
    from knowledge.profile import AccountProfile

    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.stem == "people":
            continue
        profile = load_profile(path).profile
        flat = flatten(profile)
        assert all(parse(p) for p in flat)
        records = {k: getattr(profile, k) for k in ("key_dates", "interactions", "notes")}
        assert AccountProfile.model_validate({**unflatten(flat), **records}) == profile, path
    odd = AccountProfile(account="A", owner="a@b.c", contacts=[
        {"name": "Li [Wei]", "title": "CEO"}, {"name": "Li [Wei]", "title": "CFO"}, {"name": "a.b\\c", "title": "x"}])
    flat = flatten(odd)
    assert flat["contacts[Li [Wei\\]].title"] == "CEO" and flat["contacts[Li [Wei\\]#2].title"] == "CFO"
    assert parse("contacts[Li [Wei\\]].title") == [("contacts", "Li [Wei]"), ("title", None)]
    assert AccountProfile.model_validate(unflatten(flat)) == odd
    with pytest.raises(ValueError):
        parse("contacts[Li Wei]title")
