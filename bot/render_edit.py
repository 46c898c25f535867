"""Block Kit for editing: the edit modal of one form (skills/edit.py), the "what to edit" menu, the "Save to account"
modal, and the Edit / Fill in buttons other views add. Pure functions of plain data."""

from __future__ import annotations

import json
from typing import Any

from bot.render_answer import Block, context, escape, section
from knowledge.profile import DIMENSION_TITLES, DIMENSIONS
from skills.edit import NONE_CHOICE, Form, FormField, fingerprint, target_for_required

EDIT_VIEW = "kam_edit"  # callback_id of the edit modal
NOTE_VIEW = "kam_save_note"  # callback_id of the "Save to account" modal
SAVE_SHORTCUT = "kam_save_to_account"  # callback_id of the message shortcut (manifest.json)
EDIT_ACTION = "kam_edit_open"  # buttons that open an edit modal (action ids start with it; value: account + target)
FIELD_BLOCK = "kam_f:"  # block id of a field's input: kam_f:<field name>
NOTE_ACCOUNT, NOTE_DIM, NOTE_TEXT = "kam_n:account", "kam_n:dimension", "kam_n:text"
INPUT_CHARS = 3000  # the most a plain_text_input holds: longer values are shown, not offered for editing


def edit_value(account_id: str, target: str, preset: dict[str, str] | None = None) -> str:
    """What an Edit / Fill in button carries (at most 2000 chars, Slack's button value limit)."""
    data: dict[str, Any] = {"a": account_id, "t": target}
    if preset:
        data["p"] = preset
    return json.dumps(data, ensure_ascii=False)[:2000]


def edit_button(account_id: str, target: str, text: str = "Edit", index: int | str = 0,
                preset: dict[str, str] | None = None) -> Block:
    return {"type": "button", "action_id": f"{EDIT_ACTION}_{index}", "value": edit_value(account_id, target, preset),
            "text": {"type": "plain_text", "text": text[:75]}}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": (text or " ")[:limit]}


def _option(value: str) -> dict[str, Any]:
    return {"text": _plain(value.replace("_", " "), 75), "value": value}


def _element(f: FormField, value: str | None) -> dict[str, Any]:
    action = f"kam_v:{f.name}"  # unique in the view
    if f.kind == "date":
        el: dict[str, Any] = {"type": "datepicker", "action_id": action}
        if value:
            el["initial_date"] = value
        return el
    if f.kind == "choice":  # an optional choice can be cleared with "(none)" (a select cannot be emptied)
        options = [_option(c) for c in f.choices]
        if not f.model_required:
            options.append({"text": _plain("(none)", 75), "value": NONE_CHOICE})
        el = {"type": "static_select", "action_id": action, "options": options}
        if value in f.choices:
            el["initial_option"] = _option(value)
        return el
    if f.kind in ("number", "integer"):
        el = {"type": "number_input", "action_id": action, "is_decimal_allowed": f.kind == "number"}
    else:
        el = {"type": "plain_text_input", "action_id": action, "multiline": f.multiline}
    if value:
        el["initial_value"] = value
    return el


def edit_modal(form: Form, preset: dict[str, str] | None = None, from_home: bool = False) -> dict[str, Any]:
    """The modal of one form: an input per field with the current value; fields a complete profile needs are
    marked. private_metadata carries the account, the target and a fingerprint of every value shown."""
    preset = preset or {}
    blocks: list[Block] = [section(f"*{escape(form.account)}* · {escape(form.title)}"[:3000])]
    shown: dict[str, str] = {}
    for f in form.fields:
        value = preset.get(f.name, f.value)
        if value and len(value) > INPUT_CHARS:  # too long for a Slack input: left as it is
            blocks.append(context(f"*{escape(f.label)}*: {len(value):,} characters, too long to edit in Slack; "
                                  "change it in the profile file (`kam ingest`)."))
            continue
        shown[f.name] = fingerprint(f.value)
        hint = " ".join(h for h in ("Needed for a complete profile." if f.required and not f.model_required
                                    else "", f.hint or "") if h)
        block: Block = {"type": "input", "block_id": f"{FIELD_BLOCK}{f.name}", "optional": not f.model_required,
                        "label": _plain(f.label + (" *" if f.required else ""), 2000), "element": _element(f, value)}
        if hint:
            block["hint"] = _plain(hint, 2000)
        blocks.append(block)
    blocks.append(context("* marks what a complete profile needs. Clear a field to remove its value; "
                          "every change is recorded in the account's history."))
    meta: dict[str, Any] = {"a": form.account_id, "t": form.target}
    if from_home:
        meta["h"] = 1  # opened from the Home tab: republish it after a save
    if not form.new_item:
        meta["s"] = shown
    return {"type": "modal", "callback_id": EDIT_VIEW, "title": _plain("Edit profile", 24),
            "submit": _plain("Save", 24), "close": _plain("Cancel", 24), "blocks": blocks[:100],
            "private_metadata": json.dumps(meta, ensure_ascii=False)[:3000]}


def message_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (e.g. why nothing can be edited)."""
    return {"type": "modal", "title": _plain(title, 24), "close": _plain("Close", 24), "blocks": [section(text)]}


def submitted_values(view: dict[str, Any]) -> dict[str, str | None]:
    """{field name: submitted text} from a view_submission's state (all input kinds)."""
    out: dict[str, str | None] = {}
    values = (view.get("state") or {}).get("values")
    for block_id, actions in (values if isinstance(values, dict) else {}).items():
        if not block_id.startswith(FIELD_BLOCK) or not isinstance(actions, dict):
            continue
        v = next(iter(actions.values()), None)
        if not isinstance(v, dict):
            continue  # malformed: as if not sent, which keeps the stored value
        value = v.get("value")
        if value is None:
            option = v.get("selected_option")
            value = v.get("selected_date") or (option.get("value") if isinstance(option, dict) else None)
        if value is not None and not isinstance(value, str | int | float):
            continue  # malformed
        out[block_id[len(FIELD_BLOCK):]] = value if value is None else str(value)
    return out


def error_blocks(errors: dict[str | None, str], form: Form) -> dict[str, str]:
    """Slack's `response_action: errors` map: an error without a field goes on the first field's block."""
    names = [f.name for f in form.fields]
    out: dict[str, str] = {}
    for name, msg in errors.items():
        block = f"{FIELD_BLOCK}{name if name in names else names[0]}"
        out[block] = (out[block] + " " + msg) if block in out else msg
    return out


MAX_FILL_IN = 5  # Fill in buttons per account


def fill_in_buttons(account_id: str, missing: list[str], key: str, account: str | None = None) -> list[Block]:
    """A "Fill in" button per missing required field (paths of settings.kam_required_fields), each opening the form
    that holds it (with e.g. the role preset for `contacts.decision_maker`). `key` keeps action ids unique."""
    out = []
    for i, path in enumerate(missing[:MAX_FILL_IN]):
        target, preset = target_for_required(path)
        label = f"Fill in {account}: {path}" if account else f"Fill in {path}"
        out.append(edit_button(account_id, target, label if len(label) <= 75 else label[:74] + "…",
                               f"fill_{key}_{i}", preset))
    return out


EDIT_BLOCK = "kam_edit"  # the actions block of Edit buttons under an answer
MAX_ANSWER_EDITS = 5


def answer_edit_block(cited: list[tuple[str, str, str, str]]) -> Block | None:
    """Edit buttons under an answer, one per part of a profile it cites: (account id, account, target, label)."""
    buttons = [edit_button(aid, target, f"✏️ Edit {account} · {label}", i)
               for i, (aid, account, target, label) in enumerate(cited[:MAX_ANSWER_EDITS])]
    return {"type": "actions", "block_id": EDIT_BLOCK, "elements": buttons} if buttons else None


def edit_menu_blocks(account: str, account_id: str, targets: list[tuple[str, str]]) -> list[Block]:
    """"What do you want to edit?": a button per form of the account."""
    blocks: list[Block] = [section(f"Edit *{escape(account)}*: choose what to change.")]
    buttons = [edit_button(account_id, t, label, i) for i, (t, label) in enumerate(targets)]
    for start in range(0, len(buttons), 25):
        blocks.append({"type": "actions", "elements": buttons[start:start + 25]})
    return blocks


def edit_menu_modal(account: str, account_id: str, targets: list[tuple[str, str]]) -> dict[str, Any]:
    """The menu of an account's forms as a modal (from the Home tab); a button pushes its form on top."""
    return {"type": "modal", "title": _plain("Edit profile", 24), "close": _plain("Close", 24),
            "private_metadata": json.dumps({"h": 1}),  # opened from the Home tab: a save republishes it
            "blocks": edit_menu_blocks(account, account_id, targets)[:100]}


def saved_edit_blocks(account: str, title: str, changed: list[str]) -> list[Block]:
    if not changed:
        return [context(f"Nothing changed in *{escape(account)}* · {escape(title)}.")]
    return [section(f"✅ Saved to *{escape(account)}* · {escape(title)}: " + escape(", ".join(changed))[:2500])]


def save_note_modal(text: str, accounts: list[tuple[str, str]], account_id: str | None, dimension: str,
                    meta: dict[str, Any]) -> dict[str, Any]:
    """"Save to account": the message text (editable), the guessed account and dimension, all confirmable."""
    account_options = [{"text": _plain(name, 75), "value": aid} for aid, name in accounts[:100]]
    account_el: dict[str, Any] = {"type": "static_select", "action_id": "account", "options": account_options,
                                  "placeholder": _plain("Choose an account", 150)}
    chosen = next((o for o in account_options if o["value"] == account_id), None)
    if chosen:
        account_el["initial_option"] = chosen
    dim_options = [{"text": _plain(DIMENSION_TITLES.get(d, d).split(" (")[0], 75), "value": d} for d in DIMENSIONS]
    return {"type": "modal", "callback_id": NOTE_VIEW, "title": _plain("Save to account", 24),
            "submit": _plain("Save note", 24), "close": _plain("Cancel", 24),
            "private_metadata": json.dumps(meta)[:3000], "blocks": [
                {"type": "input", "block_id": NOTE_ACCOUNT, "label": _plain("Account", 2000),
                 "element": account_el},
                {"type": "input", "block_id": NOTE_DIM, "label": _plain("Dimension", 2000),
                 "element": {"type": "static_select", "action_id": "dimension", "options": dim_options,
                             "initial_option": next(o for o in dim_options if o["value"] == dimension)}},
                {"type": "input", "block_id": NOTE_TEXT, "label": _plain("Note", 2000),
                 "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                             "initial_value": text[:3000]}},
                context("Saved as a dated note under your name; the account's history records it."
                        + (" The message is longer than 3,000 characters, what a form field holds: the end is "
                           "cut." if len(text) > 3000 else "")),
            ]}
