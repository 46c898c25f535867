"""The competitor watch: dated supplier history through every write path, competitor alerts (once per change, never
for unchanged data), `kam rivals --json`, Ask, the buyers' birthdays, and the alert in Slack and the digest."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from knowledge.db import utcnow
from knowledge.importers.profiles import ingest_dir
from knowledge.kb import KnowledgeBase
from knowledge.profile import Note
from knowledge.settings import Settings
from knowledge.store import Store
from knowledge.supplier_history import OURS, SupplierHistoryRow, point
from scheduler import ledger
from scheduler.sweep import run_digests, run_sweep
from skills.nudges import nudges_between
from skills.rivals.mentions import NoteScanner, scan_text
from skills.rivals.watch import competitor_alerts
from tests.conftest import EXAMPLES, make_settings
from tests.test_cli import kam

DAY = dt.timedelta(days=1)


def _points(store: Store, account_id: str | None = None) -> list:
    with store.session() as s:
        q = select(SupplierHistoryRow).order_by(SupplierHistoryRow.at, SupplierHistoryRow.id)
        if account_id:
            q = q.where(SupplierHistoryRow.account_id == account_id)
        return [point(r) for r in s.scalars(q)]


def _alerts(store: Store, settings: Settings, tiers: dict[str, str], lo: dt.datetime, hi: dt.datetime) -> list:
    return competitor_alerts(store, settings, lo, hi, set(store.account_ids()), tiers)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


@pytest.fixture()
def accounts(tmp_path: Path, store: Store) -> tuple[Store, Path, dict[str, str]]:
    """The sample accounts ingested from a private copy of their files, with Acme key and Hanshan strategic."""
    data = shutil.copytree(EXAMPLES, tmp_path / "accounts")
    report = ingest_dir(store, data)
    assert not report.skipped
    tiers = {store.find_account("Acme Industrial"): "key", store.find_account("Hanshan"): "strategic",
             store.find_account("Bayview Cold Chain"): "opportunity"}
    return store, data, tiers


# ------------------------------------------------------------------ the history, through every path
def test_ingest_records_history_and_a_changed_file_alerts_once(accounts, settings):
    store, data, tiers = accounts
    acme = store.find_account("Acme Industrial")
    first = _points(store, acme)
    assert first and all(p.initial for p in first)  # the first load says where the account starts
    assert {(p.party, p.metric, p.value) for p in first} >= {("Siemens", "share", 0.55), ("Siemens", "satisfaction", 4),
                                                              (OURS, "share", 0.18), (OURS, "satisfaction", 2.9)}
    t0 = utcnow()
    assert _alerts(store, settings, tiers, t0 - DAY, t0 + DAY) == []  # loading is not a change

    _replace(data / "acme-industrial.yaml", "share: 0.55", "share: 0.62")
    ingest_dir(store, data)
    new = [p for p in _points(store, acme) if not p.initial]
    assert [(p.party, p.metric, p.value, p.source) for p in new] == [("Siemens", "share", 0.62, "file")]
    assert new[0].origin.endswith("acme-industrial.yaml")
    found = _alerts(store, settings, tiers, t0 - DAY, utcnow() + DAY)
    assert [(a.kind, a.party, a.old, a.new) for a in found] == [("rival_share_up", "Siemens", 0.55, 0.62)]
    assert found[0].sources[0]["source"] == "file" and "55% → 62%" in found[0].detail()

    for _ in range(2):  # the same files again: no history, the same single alert
        ingest_dir(store, data)
    assert len(_points(store, acme)) == len(first) + 1
    again = _alerts(store, settings, tiers, t0 - DAY, utcnow() + DAY)
    assert [(a.subject, a.cycle) for a in again] == [(a.subject, a.cycle) for a in found]


def test_slack_cli_and_crm_writes_are_dated_with_their_source(accounts, settings):
    store, _, tiers = accounts
    acme = store.find_account("Acme Industrial")
    t0 = utcnow()
    store.edit_profile(acme, {"metrics.satisfaction": 2.2}, source="slack", actor="U0BOB00001")
    store.edit_profile(acme, {"suppliers.items[Omron].name": "Omron", "suppliers.items[Omron].share": 0.1},
                       source="cli", actor="bob@example.com")
    # the CRM importer writes through Store.import_profile with kind "crm" and a scope (knowledge/importers/crm.py)
    profile = store.load_profile(acme)
    profile.metrics.purchase_share = 0.1
    store.import_profile(profile, "crm:export#Acme Industrial", kind="crm", base_key="crm", account_id=acme,
                         actor="importer", origin="export", scope={"metrics.purchase_share"})
    new = [(p.party, p.metric, p.value, p.source) for p in _points(store, acme) if not p.initial]
    assert new == [(OURS, "satisfaction", 2.2, "slack"), ("Omron", "share", 0.1, "cli"), (OURS, "share", 0.1, "crm")]
    kinds = {(a.kind, a.party, a.sources[-1]["source"]) for a in _alerts(store, settings, tiers, t0, utcnow() + DAY)}
    assert kinds == {("satisfaction_down", None, "slack"), ("rival_share_up", "Omron", "cli"),
                     ("our_share_down", None, "crm")}


@pytest.mark.slow  # the full CRM export
def test_a_crm_import_records_no_share_history_it_does_not_carry(shared_data, store, settings):
    from knowledge.importers.crm import import_crm

    ingest_dir(store, EXAMPLES)
    before = _points(store)
    t0 = utcnow()
    import_crm(store, shared_data / "maven_crm", today=dt.date(2026, 6, 1))
    assert _points(store) == before  # the CRM carries revenue, not shares or satisfaction
    assert _alerts(store, settings, {a: "key" for a in store.account_ids()}, t0, utcnow() + DAY) == []


def test_a_database_at_0004_gets_the_supplier_history_from_its_profile_history(settings):
    from sqlalchemy import inspect, text

    from knowledge.migrations import HEAD

    store = Store(settings)
    ingest_dir(store, EXAMPLES)
    acme = store.find_account("Acme Industrial")
    store.edit_profile(acme, {"suppliers.items[Siemens].share": 0.6}, source="slack", actor="bob@example.com")
    before = [(p.party, p.metric, p.value, p.initial, p.source) for p in _points(store, acme)]
    with store.engine.begin() as c:  # the schema as revision 0004 left it
        c.execute(text("DROP TABLE supplier_history"))
        c.execute(text("DROP INDEX ix_profile_changes_at"))
        c.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    store.engine.dispose()
    upgraded = Store(settings)
    assert upgraded.migrations == [f"upgraded from revision 0004 to {HEAD}"]
    assert "ix_profile_changes_at" in {i["name"] for i in inspect(upgraded.engine).get_indexes("profile_changes")}
    after = [(p.party, p.metric, p.value, p.initial, p.source) for p in _points(upgraded, acme)]
    assert sorted(after, key=str) == sorted(before, key=str) and ("Siemens", "share", 0.6, False, "slack") in after
    upgraded.engine.dispose()


# ------------------------------------------------------------------ each alert kind, once per change
def test_each_alert_kind_fires_once_per_change_and_never_for_unchanged_data(accounts, settings):
    store, _, tiers = accounts
    acme, hanshan, bayview = (store.find_account(n) for n in ("Acme Industrial", "Hanshan",
                                                              "Bayview Cold Chain"))
    t0 = utcnow() + DAY

    def at(days: float) -> dt.datetime:
        return t0 + dt.timedelta(days=days)

    def edit(aid: str, fields: dict, days: float, **kw) -> None:
        store.edit_profile(aid, fields, source="slack", actor="bob@example.com", at=at(days), **kw)

    edit(acme, {"suppliers.items[Siemens].share": 0.58}, 1)  # +3: below 5 points
    edit(acme, {"suppliers.items[Siemens].share": 0.61}, 10)  # +6 since the first load: an alert
    edit(acme, {"suppliers.items[Siemens].share": 0.63}, 20)  # +2 since that alert: none
    edit(acme, {"suppliers.items[Siemens].share": 0.63}, 21)  # unchanged: nothing recorded
    edit(acme, {"suppliers.items[Siemens].share": 0.67}, 40)  # +6 since the last alert: an alert
    edit(acme, {"suppliers.items[Siemens].share": 0.70}, 200)  # last alert long ago: +3 over 90 days: none
    edit(bayview, {"suppliers.items[Coastline Automation].share": 0.8}, 5)  # an opportunity account: no rival alert
    edit(acme, {"metrics.purchase_share": 0.12}, 30)  # our share -6: an alert
    edit(acme, {"metrics.satisfaction": 2.3}, 31)  # -0.6: an alert
    edit(acme, {"metrics.satisfaction": 2.2}, 32)  # -0.1 more: none
    edit(acme, {"contacts[Mark Ellis].name": None}, 50)  # the economic buyer removed: an alert
    edit(acme, {"contacts[Priya Nair].name": None}, 51)  # an influencer: none
    edit(acme, {"contacts[Karen Doyle].notes": "Retiring in March; wants a successor briefed."}, 52)
    edit(hanshan, {}, 60, add=[Note(date=dt.date(2027, 1, 1), dimension="suppliers", by="alice@example.com",
                                    text="西门子 offered free training to the engineers. Nothing else new.")])
    edit(bayview, {}, 61, add=[Note(date=dt.date(2027, 1, 1), dimension="suppliers", by="bob@example.com",
                                    text="Siemens visited Bayview too.")])  # not key / strategic: none
    edit(hanshan, {}, 62, add=[Note(date=dt.date(2027, 1, 2), dimension="organisation", by="alice@example.com",
                                    text="Li Wei said he is leaving the company in spring.")])

    found = _alerts(store, settings, tiers, t0, at(400))
    got = [(a.kind, a.account_id, a.party or a.contact, a.old, a.new, a.at) for a in found]
    assert got == [
        ("rival_share_up", acme, "Siemens", 0.55, 0.61, at(10)),
        ("our_share_down", acme, None, 0.18, 0.12, at(30)),
        ("satisfaction_down", acme, None, 2.9, 2.3, at(31)),
        ("rival_share_up", acme, "Siemens", 0.61, 0.67, at(40)),
        ("key_contact_leaving", acme, "Mark Ellis", None, None, at(50)),
        ("key_contact_leaving", acme, "Karen Doyle", None, None, at(52)),
        ("rival_mentioned", hanshan, "Siemens", None, None, at(60)),
        ("key_contact_leaving", hanshan, "Li Wei", None, None, at(62)),
    ]
    share = found[3]
    assert share.since == at(10) and "61% → 67% since" in share.detail() and "slack by bob@example.com" in \
        share.detail()
    assert found[6].excerpt == "西门子 offered free training to the engineers." and found[6].title() == \
        "Siemens named in a new note"
    assert found[4].extra_role == "economic_buyer" and "removed" in found[4].title()
    # computed again (a second sweep) and over any sub-range: the same alerts, none of them twice
    assert [(a.subject, a.cycle) for a in _alerts(store, settings, tiers, t0, at(400))] == \
        [(a.subject, a.cycle) for a in found]
    assert [a.kind for a in _alerts(store, settings, tiers, at(35), at(45))] == ["rival_share_up"]
    assert len({(a.subject, a.cycle) for a in found}) == len(found)


def test_filling_in_an_empty_supplier_list_is_not_a_rival_moving_in(tmp_path, store, settings):
    data = tmp_path / "accounts"
    data.mkdir()
    (data / "zeta.yaml").write_text("account: Zeta Tools\nowner: bob@example.com\n")
    ingest_dir(store, data)
    zeta = store.find_account("Zeta Tools")
    tiers = {zeta: "key"}
    t0 = utcnow() + DAY
    store.edit_profile(zeta, {"suppliers.items[Siemens].name": "Siemens", "suppliers.items[Siemens].share": 0.4,
                              "suppliers.items[SMC].name": "SMC", "suppliers.items[SMC].share": 0.2},
                       source="slack", actor="bob@example.com", at=t0)  # the first time anyone filled it in
    assert _alerts(store, settings, tiers, t0 - DAY, t0 + DAY) == []
    store.edit_profile(zeta, {"suppliers.items[Omron].name": "Omron", "suppliers.items[Omron].share": 0.15},
                       source="slack", actor="bob@example.com", at=t0 + 5 * DAY)  # a new rival on a known list
    found = _alerts(store, settings, tiers, t0, t0 + 10 * DAY)
    assert [(a.kind, a.party, a.old, a.new, a.since) for a in found] == [("rival_share_up", "Omron", None, 0.15, None)]
    assert found[0].title() == "Omron: share up 15 points"
    assert found[0].detail().startswith("absent → 15% (new on file)")


def test_thresholds_come_from_the_settings(accounts, tmp_path):
    store, _, tiers = accounts
    acme = store.find_account("Acme Industrial")
    t0 = utcnow() + DAY
    store.edit_profile(acme, {"suppliers.items[Siemens].share": 0.58, "metrics.purchase_share": 0.16},
                       source="cli", actor="bob@example.com", at=t0)
    strict = make_settings(store.settings.home, kam_rival_share_rise=2, kam_our_share_drop=1)
    assert {a.kind for a in _alerts(store, strict, tiers, t0, t0 + DAY)} == {"rival_share_up", "our_share_down"}
    assert _alerts(store, make_settings(store.settings.home), tiers, t0, t0 + DAY) == []
    only_strategic = make_settings(store.settings.home, kam_rival_share_rise=2, kam_our_share_drop=1,
                                   kam_rival_tiers="strategic")  # Acme is key: its rivals are not watched then
    assert {a.kind for a in _alerts(store, only_strategic, tiers, t0, t0 + DAY)} == {"our_share_down"}
    with pytest.raises(ValidationError, match="greater than 0"):
        make_settings(tmp_path, kam_rival_share_rise=0)


def test_the_note_scan_takes_text_from_anywhere(accounts):
    store, _, _ = accounts
    hanshan = store.find_account("Hanshan")
    scanner = NoteScanner.from_store(store)
    when = dt.datetime(2027, 1, 1, 9)
    found = scanner.scan(hanshan, "客户说利乐在报价。Li Wei 下个月离职。Smcx is not a rival.", "case", when)
    assert [(f.kind, f.name, f.source, f.when) for f in found] == [
        ("rival_mentioned", "Tetra Pak", "case", when), ("key_contact_leaving", "Li Wei", "case", when)]
    assert scanner.scan(hanshan, "", "case", when) == []
    assert scan_text(store, hanshan, "客户说利乐在报价。Li Wei 下个月离职。", "case", when) == found[:2]
    assert scanner.scan(hanshan, "A quiet week; the line runs well.", "slack", when) == []


def test_a_rival_named_in_a_new_service_case_alerts(accounts, settings):
    """A service case opened through the cases feature (skills/cases.py) is scanned like a note."""
    from knowledge.db import AccountRow
    from skills.cases import open_case

    store, _, tiers = accounts
    acme, bayview = store.find_account("Acme Industrial"), store.find_account("Bayview Cold Chain")
    opened = dt.datetime(2027, 4, 1, 9, 30, tzinfo=dt.UTC)

    def case(account_id: str, text: str) -> int:
        with store.session() as s:
            owner = store.person(s.get(AccountRow, account_id).owner)
        return open_case(store, settings, account_id, text, owner, now=opened).id

    first = case(acme, "Line 3 labeller jammed again; Rockwell offered to replace it for free.")
    case(bayview, "Coastline Automation fixed it faster.")  # an opportunity account: not watched
    case(acme, "Invoice question, nothing else.")
    at = opened.replace(tzinfo=None)
    found = _alerts(store, settings, tiers, at - DAY, at + DAY)
    assert [(a.kind, a.account_id, a.party, a.title(), a.sources[0]["origin"]) for a in found] == [
        ("rival_mentioned", acme, "Rockwell Automation", "Rockwell Automation named in a new service case",
         f"case {first}")]
    assert _alerts(store, settings, tiers, at + DAY, at + 2 * DAY) == []


def test_competitor_alerts_are_nudges_on_the_owners_next_batch(accounts, settings):
    store, _, tiers = accounts
    acme = store.find_account("Acme Industrial")  # owner bob, Los Angeles
    change = dt.datetime(2027, 3, 2, 17, 0)  # 09:00 in Los Angeles: after the 08:00 batch
    store.edit_profile(acme, {"suppliers.items[Siemens].share": 0.7}, source="cli", actor="bob@example.com",
                       at=change)
    day = dt.date(2027, 3, 2)
    assert [n for n in nudges_between(store, settings, day, day, tiers) if n.kind == "competitor_alert"] == []
    nxt = [n for n in nudges_between(store, settings, day + DAY, day + DAY, tiers) if n.kind == "competitor_alert"]
    assert [(n.recipient, n.title, n.extra["from"], n.extra["to"]) for n in nxt] == [
        ("bob@example.com", "Siemens: share up 15 points", 0.55, 0.7)]
    json.dumps(nxt[0].to_json())  # part of `kam nudges --json`
    early = dt.datetime(2027, 3, 5, 14, 0)  # 06:00 in Los Angeles: in that day's batch
    store.edit_profile(acme, {"metrics.purchase_share": 0.1}, source="cli", actor="bob@example.com", at=early)
    assert [n.kind for n in nudges_between(store, settings, dt.date(2027, 3, 5), dt.date(2027, 3, 5), tiers)
            if n.kind == "competitor_alert"] == ["competitor_alert"]


# ------------------------------------------------------------------ kam rivals, kam nudges
def test_kam_rivals_json(accounts, settings):
    store, _, _ = accounts
    home = settings.kam_home
    acme, kangyuan = store.find_account("Acme Industrial"), store.find_account("康源制药")
    t0 = utcnow()
    store.edit_profile(acme, {"suppliers.items[Siemens].share": 0.65}, source="cli", actor="bob@example.com",
                       at=t0 + dt.timedelta(days=50))
    store.edit_profile(kangyuan, {"suppliers.items[Siemens].share": 0.2}, source="cli", actor="alice@example.com",
                       at=t0 + dt.timedelta(days=60))
    today = (t0 + dt.timedelta(days=100)).date().isoformat()
    out = kam(home, "rivals", "--as", "bob@example.com", "--json", "--today", today)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["asker"] == "bob@example.com" and data["as_of"] == today
    siemens = next(r for r in data["rivals"] if r["rival"] == "Siemens")
    assert [a["account"] for a in siemens["accounts"]] == ["Acme Industrial"]  # bob sees only his accounts
    a = siemens["accounts"][0]
    assert a["share"] == 0.65 and a["share_90d_ago"] == 0.55 and a["gaining"] is True
    assert a["change_90d"] == pytest.approx(0.10) and a["change_365d"] is None  # not on file a year ago
    assert a["exposure"] == pytest.approx(3_800_000 * 0.65) and siemens["exposure"] == pytest.approx(a["exposure"])
    assert siemens["gaining_at"] == ["Acme Industrial"] and siemens["satisfaction"] == 4
    assert [r["exposure"] for r in data["rivals"]] == sorted((r["exposure"] for r in data["rivals"]), reverse=True)

    every = json.loads(kam(home, "rivals", "--json", "--today", today, "--rival", "西门子").stdout)
    siemens = every["rivals"][0]
    assert siemens["rival"] == "Siemens" and siemens["gaining_at"] == ["Acme Industrial"]
    kang = next(x for x in siemens["accounts"] if x["account_id"] == kangyuan)
    assert kang["change_90d"] == pytest.approx(-0.05) and kang["gaining"] is False

    bad = kam(home, "rivals", "--as", "nobody@example.com")
    assert bad.returncode == 1 and "--as: unknown person" in bad.stderr and "Traceback" not in bad.stderr
    bad = kam(home, "rivals", "--today", "2027-02-30")
    assert bad.returncode == 1 and "--today must be a date" in bad.stderr
    bad = kam(home, "rivals", "--as", "bob@example.com", "--rival", "Syntegon")  # only at alice's and carol's
    assert bad.returncode == 1 and "'Syntegon' is not a supplier at any account you can see" in bad.stderr
    text = kam(home, "rivals", "--as", "bob@example.com", "--today", today)
    assert text.returncode == 0 and "Siemens: at 1 account" in text.stdout and "gaining at Acme Industrial" in \
        text.stdout

    # `kam nudges --json`: our share at Acme dropped (alerts on our own figures need no tier): bob's next batch
    store.edit_profile(acme, {"metrics.purchase_share": 0.1}, source="cli", actor="bob@example.com",
                       at=dt.datetime(2027, 6, 1, 20, 0))  # 13:00 in Los Angeles: the batch of 2 June
    out = kam(home, "nudges", "--on", "2027-06-02", "--for", "bob@example.com", "--json")
    assert out.returncode == 0, out.stderr
    alerts = [n for n in json.loads(out.stdout) if n["kind"] == "competitor_alert"]
    assert [(n["account"], n["title"], n["extra"]["from"], n["extra"]["to"], n["extra"]["sources"][0]["source"])
            for n in alerts] == [("Acme Industrial", "Our purchase share down 8 points", 0.18, 0.1, "cli")]
    assert not [n for n in json.loads(kam(home, "nudges", "--on", "2027-06-03", "--json").stdout)
                if n["kind"] == "competitor_alert"]
    digest = kam(home, "digest", "--manager", "mia@example.com", "--on", "2027-06-07")
    assert digest.returncode == 0 and "Competitor alerts since 2027-05-31" in digest.stdout
    assert "Acme Industrial (bob@example.com): Our purchase share down 8 points: 18% → 10%" in digest.stdout
    as_json = json.loads(kam(home, "digest", "--manager", "mia@example.com", "--on", "2027-06-07", "--json").stdout)
    assert [(c["account"], c["on"], c["alert"]["alert"]) for c in as_json["competitor"]] == [
        ("Acme Industrial", "2027-06-02", "our_share_down")] and as_json["totals"]["competitor_alerts"] == 1


def test_the_demo_console_shows_rivals(tmp_path):
    result = kam(tmp_path / "kam", "demo", input_text="help\nrivals\nrivals 西门子\nrivals Nobody\nquit\n")
    assert result.returncode == 0, result.stderr
    out = " ".join((result.stdout + result.stderr).split())
    assert "rivals [NAME]: your rivals" in out
    assert "Tetra Pak: at 2 accounts, exposure 2,520,000" in out and "Hanshan Packaging Co. (key): share 30%" in out
    assert "Siemens: at 2 accounts" in out  # alice's Kangyuan and Jiangnan, by its Chinese name
    assert "'Nobody' is not a supplier at any account you can see" in out


# ------------------------------------------------------------------ Ask
@pytest.fixture()
def kb(sample_kb):
    settings, store, index = sample_kb
    return KnowledgeBase(settings, store, index)


def test_ask_where_is_a_rival_gaining(kb):
    from skills.ask.engine import ask

    store = kb.store
    t0 = utcnow()
    acme, kangyuan = store.find_account("Acme Industrial"), store.find_account("康源制药")
    store.edit_profile(acme, {"suppliers.items[Siemens].share": 0.62}, source="slack", actor="bob@example.com",
                       at=t0 + dt.timedelta(days=50))
    store.edit_profile(kangyuan, {"suppliers.items[Siemens].share": 0.35}, source="slack", actor="alice@example.com",
                       at=t0 + dt.timedelta(days=50))
    today = (t0 + dt.timedelta(days=100)).date()

    en = ask(kb, "where is Siemens gaining?", "bob@example.com", today=today)
    assert en.status == "answered" and "Acme Industrial: 55% → 62% (+7 points)" in en.answer
    assert "康源" not in en.answer and [s.account for s in en.sources] == ["Acme Industrial"]

    zh = ask(kb, "哪些客户西门子的份额在上升?", "alice@example.com", today=today)
    assert zh.status == "answered" and zh.language == "zh"
    assert "康源制药集团：25% → 35%（+10 个百分点）" in zh.answer and "江南" not in zh.answer
    assert "Acme" not in zh.answer  # bob's account, not alice's

    flat = ask(kb, "where is Tetra Pak gaining?", "alice@example.com", today=today)
    assert flat.status == "answered" and "has not gained share" in flat.answer and "Hanshan" in flat.answer
    other = ask(kb, "who is the decision maker at acme?", "bob@example.com", today=today)
    assert "Karen Doyle" in other.answer  # other questions are answered as before


# ------------------------------------------------------------------ birthdays
def test_birthday_roles_are_configurable(accounts, settings, monkeypatch, tmp_path):
    store, _, tiers = accounts
    start, end = dt.date(2026, 11, 23), dt.date(2027, 11, 22)

    def contacts(s: Settings) -> set[str]:
        return {n.contact for n in nudges_between(store, s, start, end, tiers) if n.kind == "birthday"}

    default = contacts(settings)
    assert {"陈静", "Sofia Berg", "Mei Lin Goh", "Karen Doyle"} <= default and "Priya Nair" not in default
    dms = contacts(make_settings(settings.kam_home, kam_birthday_roles="decision_maker"))
    assert "Karen Doyle" in dms and not {"陈静", "Sofia Berg", "Mei Lin Goh"} & dms
    monkeypatch.setenv("KAM_BIRTHDAY_ROLES", "economic_buyer, champion")
    env = Settings(_env_file=None, kam_home=tmp_path)  # type: ignore[call-arg]
    assert env.kam_birthday_roles == ["economic_buyer", "champion"]
    assert "Zhang Min" in contacts(env) and "Karen Doyle" not in contacts(env)
    with pytest.raises(ValidationError, match="unknown contact role 'ceo'"):
        make_settings(tmp_path, kam_birthday_roles="decision_maker,ceo")
    monkeypatch.setenv("KAM_BIRTHDAY_ROLES", "decision_maker,ceo")
    out = kam(settings.kam_home, "nudges", "--json")
    assert out.returncode == 1 and "KAM_BIRTHDAY_ROLES" in out.stderr and "Traceback" not in out.stderr
    monkeypatch.delenv("KAM_BIRTHDAY_ROLES")


# ------------------------------------------------------------------ Slack: the owner's DM, a click, the digest
def test_the_alert_reaches_the_owners_dm_and_the_managers_digest(sample_kb):
    from bot.slack_notifier import SlackNotifier
    from tests.fakes import slack_requests as sr
    from tests.fakes.mock_slack import MockSlack

    harness = pytest.importorskip("tests.slack_harness")
    _, store, index = sample_kb
    acme = store.find_account("Acme Industrial")
    users = {**harness.mock_users(), "U0BOB00001": {"email": "bob@example.com", "tz": "America/Los_Angeles"},
             "U0MIA00001": {"email": "mia@example.com", "tz": "Asia/Singapore"}}
    with MockSlack(users=users) as mock:
        settings = harness.bot_settings(store.settings.home, mock)
        bot = harness.start_bot(settings, store, index, mock)
        try:
            notifier = SlackNotifier(settings, store)
            change = dt.datetime(2027, 3, 2, 17, 0)  # 09:00 in Los Angeles
            store.edit_profile(acme, {"suppliers.items[Siemens].share": 0.7, "metrics.purchase_share": 0.1},
                               source="slack", actor="U0BOB00001", at=change)
            tiers = {acme: "key"}
            now = dt.datetime(2027, 3, 3, 18, 0, tzinfo=dt.UTC)  # 10:00 on 3 March in Los Angeles
            run_sweep(store, settings, notifier, now, tiers=tiers, only={"bob@example.com"})
            sent = ledger.deliveries(store, kind="competitor_alert", recipient="bob@example.com")
            assert len(sent) == 2
            post = [c for c in mock.calls("chat.postMessage") if "Siemens" in json.dumps(c.params.get("blocks"))]
            assert len(post) == 1
            blocks = json.dumps(post[0].params["blocks"], ensure_ascii=False)
            assert "Siemens: share up 15 points" in blocks and "55% → 70% since" in blocks
            assert "Our purchase share down 8 points" in blocks and "slack by U0BOB00001" in blocks
            channel, ts = post[0].response["channel"], post[0].response["ts"]
            assert channel.startswith("D")

            # a second sweep of the same day, and the next day's: nothing again
            for later in (now, now + DAY):
                run_sweep(store, settings, notifier, later, tiers=tiers, only={"bob@example.com"})
            assert len(ledger.deliveries(store, kind="competitor_alert")) == 2
            assert len([c for c in mock.calls("chat.postMessage") if "Siemens: share" in
                        json.dumps(c.params.get("blocks"))]) == 1

            # Done on the alert, clicked in Slack (a signed request through the bot)
            row = next(r for r in sent if "rival_share_up" in r.subject)
            body = sr.block_actions_body(f"nudge_done:{row.id}", str(row.id), "U0BOB00001", block_id=f"nudge:{row.id}",
                                         channel_id=channel, message=mock.messages[channel][ts])
            status, _ = bot.send(body)
            assert status == 200
            bot.settle()
            assert ledger.states(store)[("bob@example.com", "competitor_alert", row.subject)].status == "done"

            # the manager's digest lists it
            run_digests(store, settings, notifier, dt.datetime(2027, 3, 8, 2, 0, tzinfo=dt.UTC),
                        only={"mia@example.com"}, force=True, tiers=tiers)
            digest = [c for c in mock.calls("chat.postMessage") if "Team digest" in str(c.params.get("text"))]
            assert len(digest) == 1
            text = json.dumps(digest[0].params["blocks"], ensure_ascii=False)
            assert "Competitor alerts since" in text and "Acme Industrial" in text and "Siemens: share up" in text
            assert "2 competitor alerts" in digest[0].params["text"]
        finally:
            bot.stop()


# ------------------------------------------------------------------ 180 days over the sample accounts
def _oracle(history: list[tuple[dt.datetime, float]], threshold: float, window: dt.timedelta, rise: bool = True
            ) -> list[tuple[dt.datetime, float, float]]:
    """The rule, written out again over the test's own record of one series: (when, from, to) of each alert."""
    out: list[tuple[dt.datetime, float, float]] = []
    last: tuple[dt.datetime, float] | None = None
    for i, (when, value) in enumerate(history):
        if i == 0:
            continue  # the first load
        if last is not None and last[0] >= when - window:
            base = last[1]
        else:
            earlier = [v for w, v in history[:i] if w <= when - window]
            base = earlier[-1] if earlier else history[0][1]
        if (value - base if rise else base - value) >= threshold - 1e-9:
            out.append((when, base, value))
            last = (when, value)
    return out


@pytest.mark.slow  # 180 sweeps into the mock Slack
def test_simulated_180_days_of_moving_shares(sample_kb):
    """Half a year over the sample accounts: reps move rivals' shares, our share and satisfaction (or save them
    unchanged) and write notes; the scheduler sweeps every day into the mock Slack. Every alert the rule calls for
    (worked out again here from the test's own record) reaches its owner exactly once, and nothing else does."""
    from bot.slack_notifier import SlackNotifier
    from tests.fakes.mock_slack import MockSlack

    harness = pytest.importorskip("tests.slack_harness")
    _, store, _ = sample_kb
    users = {**harness.mock_users(), "U0BOB00001": {"email": "bob@example.com", "tz": "America/Los_Angeles"},
             "U0DAVE0001": {"email": "dave@example.com", "tz": "Pacific/Auckland"},
             "U0CAROL001": {"email": "carol@example.com", "tz": "Europe/Berlin"}}
    profiles = store.load_profiles(store.account_ids())
    watched = {aid for aid, p in profiles.items() if p.suppliers.items}
    tiers = {aid: ("key", "strategic", "maintenance")[i % 3] for i, aid in enumerate(sorted(watched))}
    rng = random.Random(13)
    start = dt.datetime.combine(utcnow().date() + 2 * DAY, dt.time())
    shares = {(aid, s.name): [(dt.datetime.min, s.share)] for aid, p in profiles.items()
              for s in p.suppliers.items if s.share is not None}
    ours = {(aid, metric): [(dt.datetime.min, getattr(p.metrics, metric))] for aid, p in profiles.items()
            for metric in ("purchase_share", "satisfaction") if getattr(p.metrics, metric) is not None}
    mentions = set()
    with MockSlack(users=users) as mock:
        settings = harness.bot_settings(store.settings.home, mock)
        notifier = SlackNotifier(settings, store)
        for day in range(180):
            when = start + dt.timedelta(days=day, hours=10)
            if day % 2 == 0:  # a rep updates a rival's share (up more often than down), or saves it unchanged
                aid, name = rng.choice(sorted(shares))
                old = shares[(aid, name)][-1][1]
                total = sum(v[-1][1] for (a, _), v in shares.items() if a == aid)
                step = rng.choice([0, 0.02, 0.03, 0.04, 0.06, -0.03])
                new = round(min(max(old + step, 0.0), old + (1 - total)), 4)
                store.edit_profile(aid, {f"suppliers.items[{name}].share": new}, source="slack", actor="sim",
                                   at=when)
                if new != old:
                    shares[(aid, name)].append((when, new))
            else:  # our own share or the account's satisfaction with us moves (down more often), or stays
                aid, metric = rng.choice(sorted(ours))
                old = ours[(aid, metric)][-1][1]
                if metric == "purchase_share":
                    new = round(min(max(old + rng.choice([0, -0.02, -0.03, -0.06, 0.02]), 0.0), 1.0), 4)
                else:
                    new = round(min(max(old + rng.choice([0, -0.2, -0.3, -0.6, 0.3]), 1.0), 5.0), 2)
                store.edit_profile(aid, {f"metrics.{metric}": new}, source="cli", actor="sim", at=when)
                if new != old:
                    ours[(aid, metric)].append((when, new))
            if day % 9 == 4:  # a note, naming a rival on every other one
                aid = sorted(watched)[day % len(watched)]
                rival = profiles[aid].suppliers.items[0].name
                text = f"Lunch with the plant team; {rival} was there last week." if day % 18 == 4 else \
                    "Lunch with the plant team; all quiet."
                store.edit_profile(aid, {}, source="slack", actor="sim", at=when + dt.timedelta(hours=1),
                                   add=[Note(date=when.date(), dimension="suppliers", by="bob@example.com",
                                                     text=text)])
                if day % 18 == 4 and tiers.get(aid) in ("key", "strategic"):
                    mentions.add((aid, "rival_mentioned", rival, when + dt.timedelta(hours=1), None, None))
            run_sweep(store, settings, notifier, start + dt.timedelta(days=day, hours=20), tiers=tiers)
        for extra in range(3):  # sweeps after the end send nothing more
            run_sweep(store, settings, notifier, start + dt.timedelta(days=180 + extra, hours=20), tiers=tiers)

    window = dt.timedelta(days=90)
    expected = set(mentions)
    for (aid, name), history in shares.items():
        if tiers.get(aid) in ("key", "strategic"):
            expected |= {(aid, "rival_share_up", name, w, round(a, 4), round(b, 4))
                         for w, a, b in _oracle(history, 0.05, window)}
    for (aid, metric), history in ours.items():
        kind, threshold = ("our_share_down", 0.05) if metric == "purchase_share" else ("satisfaction_down", 0.5)
        expected |= {(aid, kind, None, w, round(a, 4), round(b, 4))
                     for w, a, b in _oracle(history, threshold, window, rise=False)}
    sent = ledger.deliveries(store, kind="competitor_alert")

    def rounded(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    got = {(r.payload["account_id"], r.payload["extra"]["alert"], r.payload["extra"]["party"],
            dt.datetime.fromisoformat(r.payload["extra"]["at"].rstrip("Z")), rounded(r.payload["extra"]["from"]),
            rounded(r.payload["extra"]["to"])) for r in sent}
    kinds = {k for _, k, *_ in expected}
    assert kinds == {"rival_share_up", "our_share_down", "satisfaction_down", "rival_mentioned"}, \
        "the simulation moved too little to test anything"
    assert got == expected
    assert len(sent) == len(got)  # each once
    posted = sum(json.dumps(c.params.get("blocks") or []).count(":crossed_swords:")
                 for c in mock.calls("chat.postMessage"))
    assert posted == len(expected)
    assert os.environ.get("KAM_BIRTHDAY_ROLES") is None
