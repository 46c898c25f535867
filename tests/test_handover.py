"""Account handover (skills/handover.py, `kam handover`, docs/handover.md): ownership and team seats change through
the product's edit entry point (in the history, kept by a later ingest), open nudges and snoozes move, briefs carry
what the new owner needs, only an admin or a manager of both reps may do it, and Ask reads it back."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.notifier import ConsoleNotifier
from knowledge.history import changes_of
from knowledge.importers.profiles import ingest_dir
from knowledge.kb import KnowledgeBase
from scheduler import ledger
from skills.ask import ask
from skills.handover import HandoverError, handover, owner_history
from skills.nudges import due_on
from tests.conftest import EXAMPLES
from tests.test_cli import kam

TODAY = dt.date(2026, 11, 23)
ACME, HANSHAN, CASCADE = "acme-industrial", "hanshan-packaging-co", "cascade-labels-print"
BOB, ALICE, MIA, NOAH, ADA = "bob@example.com", "alice@example.com", "mia@example.com", "noah@example.com", \
    "ada@example.com"


def _history(store, account_id: str) -> list:
    with store.session() as s:
        return changes_of(s, account_id)


def _bobs_accounts(store) -> set[str]:
    return {s.id for s in store.summaries() if s.owner in (BOB, "U0BOB00001")}  # cascade names him by Slack id


# ------------------------------------------------------------------------------------------- the CLI
def test_cli_hands_over_owner_team_and_history(sample_kb) -> None:
    settings, store, _ = sample_kb
    owned = _bobs_accounts(store)
    assert ACME in owned and BOB in store.summaries([HANSHAN])[0].team  # bob owns acme, sits on hanshan's team
    run = kam(settings.kam_home, "handover", "--from", BOB, "--to", ALICE, "--as", MIA, "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert set(out["owner_changed"]) == owned and out["team_changed"] == [HANSHAN]
    assert out["cases_moved"] == 0  # no open service case at these accounts
    assert len(out["delivery"]["sent"]) == len(owned) and not out["delivery"]["failed"]
    assert not _bobs_accounts(store) and all(store.summaries([a])[0].owner == ALICE for a in owned)
    hanshan = store.summaries([HANSHAN])[0]
    assert hanshan.owner == ALICE and BOB not in hanshan.team and ALICE not in hanshan.team  # no double seat
    acme = store.summaries([ACME])[0]
    assert acme.team == ["erin@example.com"]  # the others on the team stay
    [change] = [c for c in _history(store, ACME) if c.path == "owner" and c.source == "handover"]
    assert (change.old, change.new, change.actor) == (BOB, ALICE, MIA)
    assert store.visible_account_ids(store.person(ALICE)) >= owned  # the access index follows
    assert not store.visible_account_ids(store.person(BOB)) & owned

    text = kam(settings.kam_home, "history", "acme").stdout
    assert "handover by mia@example.com" in text and "owner: bob@example.com -> alice@example.com" in text


def test_cli_ingest_of_the_files_naming_the_old_owner_keeps_the_handover(sample_kb, tmp_path: Path) -> None:
    settings, store, index = sample_kb
    owned = _bobs_accounts(store)
    assert kam(settings.kam_home, "handover", "--from", BOB, "--to", ALICE, "--as", MIA).returncode == 0
    index.close()  # `kam ingest` writes the index: the fixture's handle must let go of it
    copy = shutil.copytree(EXAMPLES, tmp_path / "accounts")  # every file still names bob; each one edited a little
    for path in copy.glob("*.yaml"):
        if path.name != "people.yaml":
            path.write_text(path.read_text().replace("\nregion: ", "\nregion: Greater ", 1))
    run = kam(settings.kam_home, "ingest", str(copy), "--json")
    assert run.returncode == 0, run.stderr
    assert all(store.summaries([a])[0].owner == ALICE for a in owned)
    assert store.summaries([ACME])[0].region == "Greater US West and Midwest"  # the files were merged
    assert not [c for c in json.loads(run.stdout).get("conflicts", []) if "owner" in json.dumps(c)]


def test_cli_refuses_bad_input_and_changes_nothing(sample_kb) -> None:
    settings, store, _ = sample_kb
    home = settings.kam_home
    before = {s.id: (s.owner, s.team) for s in store.summaries()}
    cases = [
        (["--from", BOB, "--to", ALICE, "--as", ALICE], "only an admin or a manager of both reps"),  # a rep
        (["--from", BOB, "--to", ALICE, "--as", NOAH], "only an admin or a manager of both reps"),  # not bob's
        (["--from", "carol@example.com", "--to", ALICE, "--as", NOAH], "only an admin or a manager of both reps"),
        (["--from", "ghost@example.com", "--to", ALICE, "--as", ADA], "--from 'ghost@example.com' is not"),
        (["--from", BOB, "--to", BOB, "--as", ADA], "--from and --to are the same person"),
        (["--from", BOB, "--to", ALICE, "--as", MIA, "--accounts", "Hanshan,Nowhere Ltd"], "--accounts: no account"),
        (["--from", BOB, "--to", ALICE, "--as", MIA, "--accounts", "Borealis"], "--accounts: 'Borealis' is held"),
        (["--from", BOB, "--to", ALICE, "--as", MIA, "--accounts", " , "], "--accounts is empty"),
        (["--from", "erin@example.com", "--to", "frank@example.com", "--as", ADA], None),  # erin: team seats only
        (["--from", BOB, "--to", ALICE], "--as is required"),
    ]
    for args, message in cases:
        run = kam(home, "handover", *args)
        if message is None:
            assert run.returncode == 0, run.stderr
            continue
        assert run.returncode == 1 and message in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1  # one clear line
    after = {s.id: (s.owner, s.team) for s in store.summaries()}
    changed = {k for k in before if before[k] != after[k]}
    assert changed and all(after[k][0] == before[k][0] for k in changed)  # erin's seats moved, no owner did
    assert all("frank@example.com" in after[k][1] and "erin@example.com" not in after[k][1] for k in changed)


def test_cli_named_accounts_and_console_brief(sample_kb) -> None:
    settings, store, _ = sample_kb
    run = kam(settings.kam_home, "handover", "--from", BOB, "--to", ALICE, "--as", ADA, "--accounts", "acme")
    assert run.returncode == 0, run.stderr
    assert "handed over 1 account from" in run.stdout and "Acme Industrial" in run.stdout
    text = " ".join(run.stdout.split())
    # no Slack token: the brief goes to the console, whole
    assert "DM alice@example.com" in text and "Karen Doyle" in text and "Siemens: 55% share" in text
    assert store.summaries([ACME])[0].owner == ALICE and store.summaries([CASCADE])[0].owner == "U0BOB00001"


# ------------------------------------------------------------------------------------------- survives ingest
def test_handover_survives_ingest_of_files_naming_the_old_owner(sample_kb, tmp_path: Path) -> None:
    settings, store, _ = sample_kb
    handover(store, settings, BOB, ALICE, ["acme"], MIA, today=TODAY)
    again = ingest_dir(store, EXAMPLES)  # the very files that say `owner: bob@example.com`
    assert not again.skipped and store.summaries([ACME])[0].owner == ALICE
    # a file changed elsewhere (another field) is merged, and still does not revert the owner
    copy = shutil.copytree(EXAMPLES, tmp_path / "accounts")
    path = copy / "acme-industrial.yaml"
    text = path.read_text()
    assert "owner: bob@example.com" in text
    path.write_text(text.replace("region: US West and Midwest", "region: US Midwest"))
    report = ingest_dir(store, copy)
    assert not report.skipped and not [c for c in report.conflicts if "owner" in str(c)]
    acme = store.load_profile(ACME)
    assert acme.owner == ALICE and acme.region == "US Midwest" and acme.team == ["erin@example.com"]
    assert [s.owner for s in owner_history(store, ACME)] == [BOB, ALICE]


# ------------------------------------------------------------------------------------------- nudges and snoozes
def test_open_nudges_and_snoozes_move_done_marks_are_copied(sample_kb) -> None:
    settings, store, _ = sample_kb
    day = dt.date(2026, 12, 11)  # acme's renewal (2027-01-10) is 30 days away
    nudges = [n for n in due_on(store, settings, day, recipient=BOB) if n.account_id == ACME]
    assert nudges, "the sample's renewal reminder"
    renewal = nudges[0]
    items = [(ledger.Key(n.kind, n.subject, n.occurrence, BOB), n.to_json(), False, day) for n in nudges]
    claimed = ledger.claim(store, items, ledger.new_claim_token())
    ledger.mark_sent(store, [c.id for c in claimed], "D0BOB", "1.0")
    # one snoozed (a birthday-like reminder he put off), one done (last cycle of a weekly check), on acme
    snoozed = {**renewal.to_json(), "kind": "visit", "subject": "acme-visit-x", "cycle": "2027-05-05"}
    done = {**renewal.to_json(), "kind": "review", "subject": "acme-review-x", "cycle": "2027-02-18"}
    ledger.set_state(store, snoozed, "snoozed", dt.date(2027, 1, 5), BOB)
    ledger.set_state(store, done, "done", None, BOB)
    assert ledger.open_nudges(store, BOB, day)

    result = handover(store, settings, BOB, ALICE, ["acme"], MIA, today=TODAY)
    assert result.nudges_moved == len(nudges) and result.snoozes_moved == 1
    assert result.briefs[0].nudges_moved == len(nudges) and result.briefs[0].snoozes_moved == 1
    mine = ledger.open_nudges(store, ALICE, day)
    assert {(n["kind"], n["subject"]) for n in mine} == {(n.kind, n.subject) for n in nudges}
    assert all(n["recipient"] == ALICE for n in mine)
    assert not [n for n in ledger.open_nudges(store, BOB, day) if n["account_id"] == ACME]
    states = ledger.states(store)
    assert states[(ALICE, "visit", "acme-visit-x")].until == dt.date(2027, 1, 5)
    assert (BOB, "visit", "acme-visit-x") not in states  # moved, not copied
    assert states[(ALICE, "review", "acme-review-x")].status == "done"
    assert states[(BOB, "review", "acme-review-x")].status == "done"  # bob's record of what he did stays
    # the next sweep's nudges for acme go to alice, and what she was handed is not sent again
    assert {n.recipient for n in due_on(store, settings, day) if n.account_id == ACME} == {ALICE}
    again = ledger.claim(store, [(ledger.Key(n.kind, n.subject, n.occurrence, ALICE), n.to_json(), False, day)
                                 for n in due_on(store, settings, day, recipient=ALICE) if n.account_id == ACME],
                         ledger.new_claim_token())
    assert again == []


# ------------------------------------------------------------------------------------------- the brief
def test_brief_content(sample_kb) -> None:
    settings, store, _ = sample_kb
    store.add_note(ACME, "organisation", "Mark Ellis moves to the EU division in March.", by=BOB,
                   on=dt.date(2026, 11, 20))
    result = handover(store, settings, BOB, ALICE, ["acme"], ADA, today=TODAY)
    [b] = result.briefs
    assert (b.account, b.previous_owner, b.new_owner) == ("Acme Industrial", BOB, ALICE)
    unit = {p.name: p for p in b.decision_unit}
    assert unit["Karen Doyle"].role == "decision_maker" and unit["Karen Doyle"].last_contact == "2026-05-14"
    assert unit["Mark Ellis"].role == "economic_buyer" and unit["Mark Ellis"].last_contact == "2026-09-08"
    assert "Priya Nair" not in unit  # an influencer is not in the decision unit
    assert [d["date"] for d in b.key_dates] == ["2027-01-10", "2027-02-18", "2027-05-05"]
    assert len(b.interactions) <= 5 and b.interactions[0]["date"] == max(i["date"] for i in b.interactions)
    assert b.notes[0]["text"].startswith("Mark Ellis moves")
    rivals = {r["name"]: r for r in b.rivals}
    assert rivals["Siemens"]["share"] == 0.55 and rivals["Parker Hannifin"]["kind"] == "competitor"
    assert b.our_share == 0.18
    profile = store.load_profile(ACME)
    from knowledge.quality import quality

    q = quality(profile, settings.kam_required_fields, TODAY, settings.kam_stale_days)
    assert (b.gaps, b.stale, b.completeness) == (q.missing, q.stale, round(q.overall, 2))
    assert b.tier_why and any("importance" in w for w in b.tier_why)
    assert b.clv and "years" in b.clv
    assert b.cases == []

    console = ConsoleNotifier(echo=False)
    from bot.handover_notify import send_handover

    delivery = send_handover(console, result, {ACME: "Acme Industrial"}, full_text=True)
    assert [w for w, _ in console.sent] == [f"DM {ALICE}", f"DM {ADA}"] and len(delivery.sent) == 2
    assert "Karen Doyle" in console.sent[0][1] and "Handover done" in console.sent[1][1]


# ------------------------------------------------------------------------------------------- service cases
def test_open_cases_move_to_the_new_owner_and_are_in_the_brief(sample_kb) -> None:  # noqa: ANN001
    from skills.cases import act, get_case, open_case

    settings, store, _ = sample_kb
    bob = store.person(BOB)
    running = open_case(store, settings, ACME, "Late labelling heads on line 3", bob, severity="high")
    closed = open_case(store, settings, ACME, "Invoice copy", bob)
    for action in ("ack", "resolve"):
        act(store, settings, closed.id, action, bob)
    act(store, settings, closed.id, "confirm", bob, satisfaction=4, note="fine")
    result = handover(store, settings, BOB, ALICE, ["acme"], MIA, today=TODAY)
    assert result.cases_moved == 1
    assert get_case(store, settings, running.id).owner == ALICE and get_case(store, settings, closed.id).owner == BOB
    [entry] = result.briefs[0].cases
    assert (entry["id"], entry["severity"], entry["owner"]) == (running.id, "high", ALICE)
    assert "Late labelling heads" in entry["text"]

def test_skill_refusals_name_the_field(sample_kb) -> None:
    settings, store, _ = sample_kb
    for args, field in [((BOB, ALICE, None, "nobody@example.com"), "as"), ((BOB, "x@y.z", None, ADA), "to"),
                        (("", ALICE, None, ADA), "from"), ((BOB, ALICE, ["nowhere"], ADA), "accounts"),
                        (("mia@example.com", ALICE, None, ADA), "from")]:  # mia holds no accounts
        with pytest.raises(HandoverError) as err:
            handover(store, settings, *args, today=TODAY)
        assert err.value.field == field, (args, str(err.value))


# ------------------------------------------------------------------------------------------- Ask
def test_ask_what_did_i_inherit_and_who_held_it(sample_kb) -> None:
    settings, store, index = sample_kb
    handover(store, settings, BOB, ALICE, ["acme", "cascade"], MIA, today=TODAY)
    kb = KnowledgeBase(settings, store, index)
    for question in ("what did I inherit from Bob?", "我从Bob那里接手了哪些客户?"):
        answer = ask(kb, question, ALICE, today=TODAY)
        assert answer.status == "answered", answer.answer
        assert "Acme Industrial" in answer.answer and "Cascade" in answer.answer and "Hanshan" not in answer.answer
        assert set(answer.account_ids) == {ACME, CASCADE}
    nothing = ask(kb, "what did I inherit from Carol?", ALICE, today=TODAY)
    assert nothing.status == "unknown" and "Carol" in nothing.answer
    held = ask(kb, "who held Acme before me?", ALICE, today=TODAY)
    assert held.status == "answered", held.answer
    assert "Bob Miller" in held.answer and "handover" in held.answer
    assert held.answer.startswith("Before Alice Chen") and held.answer.index("- Bob") < held.answer.index("- Alice")
    assert [s.id for s in held.sources] == [f"{ACME}:history"]
    # bob no longer sees acme: what it holds is denied to him
    assert ask(kb, "who held Acme before?", BOB, today=TODAY).status == "denied"


def test_history_rows_are_source_handover(sample_kb) -> None:
    settings, store, _ = sample_kb
    handover(store, settings, BOB, ALICE, ["hanshan"], MIA, today=TODAY)
    from knowledge.history import ProfileChangeRow

    with store.session() as s:
        rows = s.scalars(select(ProfileChangeRow).where(ProfileChangeRow.account_id == HANSHAN,
                                                        ProfileChangeRow.source == "handover")).all()
    assert {r.path for r in rows} == {"team"} and all(r.actor == MIA for r in rows)
    assert rows[0].origin == f"handover {BOB} -> {ALICE}"


def test_tier_reasons_score_the_portfolio_once_and_match_explain(sample_kb) -> None:
    from skills.tiering.config import load_config
    from skills.tiering.history import explain, explain_many, review

    settings, store, _ = sample_kb
    review(store, load_config(), today=TODAY)
    ids = [ACME, HANSHAN, CASCADE]
    many = explain_many(store, load_config(), ids, TODAY)
    assert all(many[a] == explain(store, load_config(), a, TODAY) for a in ids)
    with pytest.raises(KeyError):
        explain_many(store, load_config(), [ACME, "no-such-account"], TODAY)
    result = handover(store, settings, BOB, ALICE, ["acme", "cascade"], MIA, today=TODAY)
    for b in result.briefs:
        assert b.tier == many[b.account_id].tier and b.tier_why[0].startswith("importance ")


def test_a_handover_stopped_half_way_is_finished_by_running_it_again(sample_kb,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    settings, store, _ = sample_kb
    day = dt.date(2026, 12, 11)
    nudges = [n for n in due_on(store, settings, day, recipient=BOB) if n.account_id == ACME]
    claimed = ledger.claim(store, [(ledger.Key(n.kind, n.subject, n.occurrence, BOB), n.to_json(), False, day)
                                   for n in nudges], ledger.new_claim_token())
    ledger.mark_sent(store, [c.id for c in claimed], "D0BOB", "1.0")
    owned = _bobs_accounts(store)
    real_edit, calls = store.edit_profile, []

    def failing_edit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the store's signature
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_edit(*args, **kwargs)

    monkeypatch.setattr(store, "edit_profile", failing_edit)
    with pytest.raises(RuntimeError):
        handover(store, settings, BOB, ALICE, None, MIA, today=TODAY)
    monkeypatch.setattr(store, "edit_profile", real_edit)
    assert store.summaries([calls[0]])[0].owner == ALICE and _bobs_accounts(store)  # half done
    handover(store, settings, BOB, ALICE, None, MIA, today=TODAY)
    assert not _bobs_accounts(store) and all(store.summaries([a])[0].owner == ALICE for a in owned)
    assert {n["subject"] for n in ledger.open_nudges(store, ALICE, day)} == {n.subject for n in nudges}
    assert not ledger.open_nudges(store, BOB, day)
