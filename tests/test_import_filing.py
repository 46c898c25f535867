"""`kam import-filing` on real 10-K JSONs: sections land in the right dimensions, idempotent, bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.importers.filing import company_name, import_filings, read_filing
from knowledge.index import Index
from knowledge.loader import ProfileError
from knowledge.profile import AccountProfile, Person
from knowledge.retrieval import hybrid_search
from skills.ask.resolve import AskMatcher

FEDEX = "1048911_10K_2023_0000950170-23-033201.json"
TYSON_2022 = "100493_10K_2022_0000100493-22-000097.json"
TYSON_2017 = "100493_10K_2017_0000100493-17-000133.json"
ESTEE_2013 = "1001250_10K_2013_0001104659-13-065820.json"


@pytest.fixture(scope="module")
def filings(shared_data: Path) -> Path:
    return shared_data / "tenk" / "filings"


def _docs(store, account_id: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for d in store.documents(account_id):
        out.setdefault(d.dimension, []).append(d)
    return out


def _text(docs: list) -> str:
    return "\n".join(d.text for d in docs)


def test_sections_land_in_their_dimensions(store, filings):
    report = import_filings(store, [filings / FEDEX, filings / TYSON_2022, filings / ESTEE_2013])
    assert report.skipped == [] and len(report.imported) == 3

    fedex = store.find_account("Fedex Corp")
    docs = _docs(store, fedex)
    assert "principally United Parcel Service" in _text(docs["competitors"])
    assert "purchased jet fuel from various suppliers" in _text(docs["suppliers"])
    assert "INFORMATION ABOUT OUR EXECUTIVE OFFICERS" in _text(docs["organisation"])
    assert "ITEM 7. MANAGEMENT" in _text(docs["finance"]) and "ITEM 7A" in _text(docs["finance"])
    assert "principally United Parcel Service" not in _text(docs["background"])
    statements = next(d for d in docs["finance"] if d.section == "financial_statements")
    assert len(statements.text) < 21_000  # item 8 (105k characters of tables) trimmed
    comp = next(d for d in docs["competitors"])
    assert comp.title == "10-K 2023 Fedex Corp: Competition" and comp.kind == "10-K"
    assert comp.id == "10k-1048911-2023-07-17-competition" and str(comp.dated) == "2023-05-31"

    tyson = _docs(store, store.find_account("Tyson Foods, Inc."))
    assert "The primary raw materials used in our beef operations are live cattle" in _text(tyson["suppliers"])
    assert "Walmart Inc. accounted for 17.7%" in _text(tyson["downstream"])
    assert "Our food products compete with those of other food producers" in _text(tyson["competitors"])
    assert "INFORMATION ABOUT OUR EXECUTIVE OFFICERS" in _text(tyson["organisation"])
    # the bullets inside Competition stay with it, they are not headings of their own
    assert "utilizing our national distribution systems" in _text(tyson["competitors"])

    estee = _docs(store, store.find_account("Estee Lauder Companies Inc"))
    assert "Our strategy is to build strong relationships with selected retailers" in _text(estee["downstream"])
    assert "Manufacturing, Warehousing and Raw Materials" in _text(estee["suppliers"])
    officers = _text(estee["organisation"])
    assert "Fabrizio Freda" in officers and "President, Chief Executive Officer and a Director" in officers
    assert "Competition" in _text(estee["competitors"])


def test_reimport_replaces_and_same_company_shares_an_account(store, filings):
    first = import_filings(store, [filings / TYSON_2022])
    tyson = first.imported[0]
    before = [(d.id, d.text) for d in store.documents(tyson)]
    again = import_filings(store, [filings / TYSON_2022])
    assert again.imported == [] and again.unchanged == [tyson]
    assert [(d.id, d.text) for d in store.documents(tyson)] == before
    # "TYSON FOODS INC" (2017) and "TYSON FOODS, INC." (2022): one company (same CIK), one account
    older = import_filings(store, [filings / TYSON_2017])
    assert older.imported == [tyson] and store.count_accounts() == 1
    assert {d.id.split("-")[2] for d in store.documents(tyson)} == {"2017", "2022"}


def test_account_option_and_owner_of_new_accounts(store, filings):
    store.save_people([Person(email="ada@example.com", role="admin"), Person(email="zed@example.com", role="admin")],
                      "people.yaml")
    store.save_profile(AccountProfile(account="FedEx", aliases=["Federal Express"], owner="bob@example.com"),
                       "/p/fedex.yaml")
    report = import_filings(store, [filings / FEDEX], account="federal express")
    fedex = store.find_account("FedEx")
    assert report.imported == [fedex] and store.load_profile(fedex).owner == "bob@example.com"
    assert store.documents(fedex)[0].title.startswith("10-K 2023 FedEx: ")
    missing = import_filings(store, [filings / ESTEE_2013], account="Nobody Inc")
    assert missing.imported == [] and "no account named 'Nobody Inc'" in missing.skipped[0][1]
    created = import_filings(store, [filings / ESTEE_2013])
    profile = store.load_profile(created.imported[0])
    assert profile.account == "Estee Lauder Companies Inc" and profile.owner == "ada@example.com"  # first admin


def test_bad_files_are_refused_and_the_rest_load(store, filings, tmp_path):
    not_filing = tmp_path / "notes.json"
    not_filing.write_text(json.dumps({"company": "X", "text": "hello"}))
    broken = tmp_path / "broken.json"
    broken.write_text('{"cik": "1",\n "company": "X",\n oops}')
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"cik": "1",\n"company": "Caf\xe9"}')
    quarterly = tmp_path / "q.json"
    data = json.loads((filings / TYSON_2022).read_text())
    quarterly.write_text(json.dumps({**data, "filing_type": "10-Q"}))
    report = import_filings(store, [not_filing, broken, filings / TYSON_2022, latin1, quarterly])
    reasons = dict(report.skipped)
    assert len(report.imported) == 1 and len(report.skipped) == 4
    assert reasons[str(not_filing)] == f"{not_filing}: cik: not an edgar-crawler filing JSON: missing key 'cik'"
    assert reasons[str(broken)].startswith(f"{broken}:3: not valid JSON")
    assert reasons[str(latin1)].startswith(f"{latin1}:2: not valid UTF-8")
    assert "filing_type is '10-Q'" in reasons[str(quarterly)]
    with pytest.raises(ProfileError, match="missing key 'cik'"):
        read_filing(not_filing)


def test_company_name():
    assert company_name("WALT DISNEY CO/") == "Walt Disney Co"
    assert company_name("HOME HEALTH CORP OF AMERICA INC \\PA\\") == "Home Health Corp Of America Inc"
    assert company_name("NetApp, Inc.") == "NetApp, Inc."


@pytest.mark.slow  # embeds ~500 chunks of FedEx's 10-K
def test_search_finds_the_competition_section(settings, store, embedder, filings):
    import_filings(store, [filings / FEDEX])
    fedex = store.find_account("Fedex Corp")
    with Index(settings, embedder=embedder) as index:
        sync = index.sync(store)
        assert sync.embedded > 100
        hits = hybrid_search(index, "FedEx competitors UPS", {fedex}, k=5)
        assert any(h.dimension == "competitors" and h.kind == "document" and "UPS" in h.text for h in hits)
        only = hybrid_search(index, "who are the main competitors", {fedex}, k=3, dimensions=["competitors"])
        assert only and all(h.dimension == "competitors" for h in only)
        assert import_filings(store, [filings / FEDEX]).imported == []
        assert index.sync(store).embedded == 0


@pytest.mark.parametrize(("filing", "account", "aliases", "looks_like"), [
    (FEDEX, "FedEx", ["Federal Express"], True),  # "FEDEX CORP": the legal form dropped
    (TYSON_2022, "Tyson Foods", [], True),  # "TYSON FOODS, INC."
    (ESTEE_2013, "Estee Lauder", [], True),  # "ESTEE LAUDER COMPANIES INC"
    (ESTEE_2013, "Hanshan Packaging Co.", ["寒山包装"], False),
    (FEDEX, "Tyson Foods", [], False),
    (TYSON_2017, "Federal Express", ["FDX"], False),
])
def test_account_option_warns_when_the_company_does_not_look_like_it(store, filings, filing, account, aliases,
                                                                     looks_like):
    store.save_profile(AccountProfile(account=account, aliases=aliases, owner="bob@example.com"), "/p/a.yaml")
    report = import_filings(store, [filings / filing], account=account.split()[0].lower(),  # a short name, too
                            matcher=AskMatcher())
    assert report.imported == [store.find_account(account)] and report.created == []
    warned = [w for w in report.warnings if "does not look like the account" in w]
    assert bool(warned) is not looks_like, report.warnings
    if warned:
        assert repr(account) in warned[0] and company_name(read_filing(filings / filing)["company"]) in warned[0]


def test_new_accounts_are_listed_as_created_and_unassigned(store, filings, settings, capsys):
    from cli.context import reset_context
    from cli.knowledge_cmds import print_report

    report = import_filings(store, [filings / FEDEX, filings / TYSON_2022, filings / TYSON_2017])
    fedex, tyson = store.find_account("Fedex Corp"), store.find_account("Tyson Foods, Inc.")
    assert report.created == [fedex, tyson]  # the 2017 Tyson filing joins the account the 2022 one created
    assert report.to_json()["created"] == [fedex, tyson]
    assert import_filings(store, [filings / FEDEX]).created == []
    reset_context(settings)
    try:
        print_report(report)
    finally:
        reset_context()
    out = " ".join(capsys.readouterr().out.split())
    assert "created 2 new account(s), unassigned: no rep owns them (owner unassigned@kam.local" in out
    assert out.endswith("Fedex Corp, Tyson Foods, Inc.")
