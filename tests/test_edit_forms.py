"""The edit forms (skills/edit.py) over every sample account: every form renders as a valid Slack modal, and a form
sent back unchanged stores exactly what is there (the shown values read back to the stored ones)."""

from __future__ import annotations

from bot.render_edit import edit_modal
from skills import edit
from tests.fakes.mock_slack import assert_valid_view


def test_every_form_of_every_sample_account_round_trips(sample_kb) -> None:  # noqa: ANN001
    settings, store, _ = sample_kb
    checked = 0
    for account_id in store.account_ids():
        profile = store.load_profile(account_id)
        for target, _label in edit.targets(profile):
            form = edit.form(profile, account_id, target, settings.kam_required_fields)
            assert_valid_view(edit_modal(form))
            if form.new_item:
                continue
            values = {f.name: f.value for f in form.fields}
            assert edit.apply(store, form, values, actor="ada@example.com") == [], (account_id, target)
            checked += 1
    assert checked > 100


def test_guess_account_from_text_then_channel() -> None:
    accounts = [("hanshan-packaging-co", "Hanshan Packaging Co.", ["Hanshan", "寒山包装"]),
                ("acme-industrial", "Acme Industrial", []), ("jiangnan-dairy", "Jiangnan Dairy", [])]
    assert edit.guess_account(accounts, "Heard that hanshan is switching film suppliers") == "hanshan-packaging-co"
    assert edit.guess_account(accounts, "寒山包装的新采购总监是王磊") == "hanshan-packaging-co"
    assert edit.guess_account(accounts, "Acme and Jiangnan Dairy both") == "jiangnan-dairy"  # the longer name
    assert edit.guess_account(accounts, "They want a quote", "acct-jiangnan") == "jiangnan-dairy"
    assert edit.guess_account(accounts, "They want a quote", "general") is None
    assert edit.guess_account(accounts, "acmeish news") is None  # whole words only


def test_required_fields_open_the_form_that_holds_them() -> None:
    assert edit.target_for_required("finance.budget") == ("finance", {})
    assert edit.target_for_required("industry") == ("background", {})
    assert edit.target_for_required("competitors.items") == ("competitors.items", {})
    assert edit.target_for_required("contacts.decision_maker") == ("contacts", {"role": "decision_maker"})
    assert edit.target_for_required("metrics.potential") == ("metrics", {})


def test_a_value_too_long_for_a_slack_input_is_shown_and_kept(sample_kb) -> None:  # noqa: ANN001
    from bot.render_edit import FIELD_BLOCK, submitted_values

    settings, store, _ = sample_kb
    long_text = "Strategy. " * 400  # 4,000 characters: a Slack input holds 3,000
    store.edit_profile("hanshan-packaging-co", {"background.strategy": long_text}, source="cli", actor=None)
    profile = store.load_profile("hanshan-packaging-co")
    form = edit.form(profile, "hanshan-packaging-co", "background", settings.kam_required_fields)
    view = edit_modal(form)
    assert_valid_view(view)
    ids = {b.get("block_id") for b in view["blocks"]}
    assert f"{FIELD_BLOCK}strategy" not in ids and f"{FIELD_BLOCK}summary" in ids
    state = {b["block_id"]: {b["element"]["action_id"]: {"type": "plain_text_input", "value": "New summary"}}
             for b in view["blocks"] if b.get("block_id") == f"{FIELD_BLOCK}summary"}
    values = submitted_values({"state": {"values": state}})
    edit.apply(store, form, values, actor="ada@example.com")
    after = store.load_profile("hanshan-packaging-co").background
    assert after.summary == "New summary" and after.strategy == long_text.strip()


def test_an_optional_choice_can_be_cleared(sample_kb) -> None:  # noqa: ANN001
    from bot.render_edit import NONE_CHOICE

    settings, store, _ = sample_kb
    profile = store.load_profile("hanshan-packaging-co")
    form = edit.form(profile, "hanshan-packaging-co", "contacts[Zhang Min]", settings.kam_required_fields)
    options = next(b for b in edit_modal(form)["blocks"] if b.get("block_id") == "kam_f:influence")["element"]
    assert NONE_CHOICE in [o["value"] for o in options["options"]]
    edit.apply(store, form, {"influence": NONE_CHOICE}, actor="ada@example.com")
    assert next(c for c in store.load_profile("hanshan-packaging-co").contacts if c.name == "Zhang Min").influence \
        is None
