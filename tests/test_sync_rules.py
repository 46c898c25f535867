"""The sync rules of `kam ingest` (issue 11): people.yaml decides who may see what, a removed profile file removes
its account, and names are compared after NFKC folding. Revocation is checked end to end through Slack too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.runtime import UNKNOWN_USER
from knowledge.importers.profiles import ingest_dir
from tests.conftest import EXAMPLES
from tests.fakes import slack_requests as sr
from tests.fakes.mock_slack import MockSlack
from tests.slack_harness import Bot

ADA = "U0ADA00001"  # the admin; known to Slack (users.info) as ada@example.com


def copy_examples(tmp_path: Path) -> Path:
    data = tmp_path / "accounts"
    shutil.copytree(EXAMPLES, data)
    return data


def without_person(people_yaml: Path, email: str) -> None:
    entries = people_yaml.read_text().split("\n- ")
    people_yaml.write_text("\n- ".join(e for e in entries if f"email: {email}" not in e))


def test_a_person_removed_from_people_yaml_loses_access(store, tmp_path: Path) -> None:  # noqa: ANN001
    data = copy_examples(tmp_path)
    ingest_dir(store, data)
    ada = store.person("ada@example.com")
    assert ada is not None and store.visible_account_ids(ada) is None  # an admin sees everything
    without_person(data / "people.yaml", "ada@example.com")
    report = ingest_dir(store, data)
    assert report.people_removed == ["ada@example.com"] and not report.skipped
    assert store.person("ada@example.com") is None
    assert store.person("alice@example.com") is not None


def test_people_from_other_sources_are_kept_and_slack_ids_may_move(store, tmp_path: Path) -> None:  # noqa: ANN001
    from knowledge.profile import Person

    store.save_people([Person(email="agent@crm.example")], "crm:export")
    data = tmp_path / "p"
    data.mkdir()
    people = data / "people.yaml"
    people.write_text("- {email: a@b.c, slack_id: U0AAA}\n- {email: b@b.c, slack_id: U0BBB}\n")
    assert not ingest_dir(store, data).skipped
    people.write_text("- {email: a@b.c, slack_id: U0BBB}\n- {email: b@b.c, slack_id: U0AAA}\n")  # swapped
    report = ingest_dir(store, data)
    assert not report.skipped and report.people_removed == []
    assert store.person("U0AAA").email == "b@b.c" and store.person("agent@crm.example") is not None


def test_a_removed_profile_file_removes_its_account_and_says_so(store, index, tmp_path: Path) -> None:  # noqa: ANN001
    data = copy_examples(tmp_path)
    ingest_dir(store, data)
    index.sync(store)
    acme = store.find_account("Acme Industrial")
    (data / "acme-industrial.yaml").unlink()
    (data / "bayview-cold-chain.yaml").rename(data / "bayview.yaml")  # moved, not removed
    (data / "borealis-beverage.yaml").write_text("account: Borealis Beverage Group\nowner: 5\n")  # broken: kept
    report = ingest_dir(store, data)
    assert report.removed == ["Acme Industrial"]
    assert store.find_account("Acme Industrial") is None and store.count_accounts() == 15
    assert store.find_account("Bayview Cold Chain Logistics") and store.find_account("Borealis Beverage Group")
    assert index.sync(store).removed_accounts == [acme]
    assert acme not in index.lexical.account_ids()


def test_ingesting_another_directory_removes_nothing_of_this_one(store, tmp_path: Path) -> None:  # noqa: ANN001
    ingest_dir(store, copy_examples(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.yaml").write_text("account: X Co\nowner: a@b.c\n")
    assert ingest_dir(store, other).removed == [] and store.count_accounts() == 17


def test_a_full_width_look_alike_name_is_the_same_account(store, tmp_path: Path) -> None:  # noqa: ANN001
    data = copy_examples(tmp_path)
    ingest_dir(store, data)
    assert store.find_account("Ｈａｎｓｈａｎ Packaging Co.") == store.find_account("Hanshan Packaging Co.")
    (data / "lookalike.yaml").write_text("account: Ｈａｎｓｈａｎ Packaging Co.\nowner: a@b.c\n")
    report = ingest_dir(store, data)  # two files claim one name: both wait for the user to decide
    assert report.imported == [] and len(report.skipped) == 2
    assert all("duplicate account name" in reason for _, reason in report.skipped)
    assert store.count_accounts() == 16


@pytest.mark.skipif(not shutil.which("true"), reason="posix")
def test_revocation_through_slack(bot: Bot, mock: MockSlack, tmp_path: Path) -> None:
    def ask(text: str) -> str:
        before = len(mock.calls("chat.postMessage")) + len(mock.calls("chat.update"))
        bot.send(sr.event_body("app_mention", text=text, user=ADA))
        bot.settle()
        calls = mock.calls("chat.postMessage") + mock.calls("chat.update")
        assert len(calls) > before
        return json.dumps([c.params for c in calls[before:]], ensure_ascii=False)

    assert "35M" in ask("what is the budget at Acme Industrial?")  # the admin sees every account
    data = copy_examples(tmp_path)
    without_person(data / "people.yaml", "ada@example.com")
    assert ingest_dir(bot.kb.store, data).people_removed == ["ada@example.com"]
    answer = ask("what is the budget at Acme Industrial?")
    assert "35M" not in answer and UNKNOWN_USER[:40] in answer
