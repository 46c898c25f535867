"""Block Kit for service cases: the case message with its buttons, the open-a-case and confirm modals. Pure builders.

A case's text is the customer's words: data, never markup or instructions, so it is always escaped (`<!channel>`,
`<@U...>` and links stay literal text)."""

from __future__ import annotations

import json
from typing import Any

from bot.render_answer import context, section
from bot.render_nudges import esc
from skills.cases import SEVERITIES, Case

# action ids, callback ids and block ids of the case surface, in one place
CASE_SHORTCUT = "open_case"  # the message shortcut "Open a service case" (manifest.json)
OPEN_CASE_BUTTON = "kam_open_case"  # under Ask answers
OPEN_VIEW = "kam_case_open"
CONFIRM_VIEW = "kam_case_confirm"
CASE_ACTIONS = {"ack": "kam_case_ack", "resolve": "kam_case_resolve", "confirm": "kam_case_confirm",
                "reopen": "kam_case_reopen"}
CASE_ACTIONS_BLOCK = "kam_case_actions"
OPEN_ACCOUNT, OPEN_SEVERITY, OPEN_TEXT = "case_account", "case_severity", "case_text"
CONFIRM_SCORE, CONFIRM_NOTE = "case_satisfaction", "case_note"
MAX_SHOWN_TEXT = 2500  # of a section's 3,000 characters
STATE_LABELS = {"open": ":red_circle: open", "acknowledged": ":large_yellow_circle: acknowledged",
                "resolved": ":large_blue_circle: resolved, waiting for the customer's confirmation",
                "closed": ":white_check_mark: closed", "reopened": ":red_circle: reopened"}
# which buttons a case in each state shows (the state machine of skills/cases.py)
BUTTONS = {"open": ("ack", "resolve"), "acknowledged": ("resolve",), "reopened": ("ack", "resolve"),
           "resolved": ("confirm", "reopen"), "closed": ("reopen",)}
BUTTON_LABELS = {"ack": "Acknowledge", "resolve": "Resolve", "confirm": "Customer confirmed…", "reopen": "Reopen"}


def _plain(text: str, limit: int = 2000) -> dict[str, Any]:
    return {"type": "plain_text", "text": (text or " ")[:limit]}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def case_blocks(case: Case) -> list[dict[str, Any]]:
    """The case message: what happened, where it stands, its service levels, and the buttons its state allows."""
    head = (f"*Service case #{case.id}* at *{esc(case.account)}* · {case.severity} severity · "
            f"{STATE_LABELS.get(case.state, case.state)}")
    blocks: list[dict[str, Any]] = [
        section(head),
        section(">" + esc(_clip(case.text, MAX_SHOWN_TEXT)).replace("\n", "\n>")),
    ]
    facts = [f"Opened by {esc(case.opened_by)} · owner {esc(case.owner)}"]
    for st in case.stages:
        if st.met_at:
            facts.append(f"{st.stage}: met {st.met_at:%a %d %b %H:%M} (target {st.target})")
        elif case.state in ("open", "acknowledged", "reopened"):
            late = " · *overdue*" if st.overdue else ""
            facts.append(f"{st.stage}: due {st.due:%a %d %b %H:%M} {st.due.tzname()} ({st.target}){late}")
    if case.satisfaction is not None:
        facts.append(f"customer satisfaction {case.satisfaction}/5"
                     + (f": {esc(_clip(case.note or '', 300))}" if case.note else ""))
    blocks.append(context(" · ".join(facts)))
    buttons = BUTTONS.get(case.state, ())
    if buttons:
        blocks.append({"type": "actions", "block_id": f"{CASE_ACTIONS_BLOCK}:{case.id}", "elements": [
            {"type": "button", "action_id": CASE_ACTIONS[b], "value": str(case.id), "text": _plain(BUTTON_LABELS[b]),
             **({"style": "primary"} if b in ("ack", "confirm") else {})} for b in buttons]})
    return blocks


def case_text(case: Case) -> str:
    """The notification fallback of a case message."""
    return _clip(f"Service case #{case.id} at {case.account} ({case.state}): {case.text}", 300)


def open_case_block(account_id: str | None, label: str) -> dict[str, Any]:
    """The "Open a case" button under an answer (about `account_id` when it is about one account)."""
    return {"type": "actions", "block_id": OPEN_CASE_BUTTON, "elements": [
        {"type": "button", "action_id": OPEN_CASE_BUTTON, "value": account_id or "", "text": _plain(label, 75)}]}


def open_case_modal(accounts: list[tuple[str, str]], account_id: str | None, text: str,
                    meta: dict[str, Any]) -> dict[str, Any]:
    """Open a case: the account (guessed), the severity, and what happened (the message's text, editable)."""
    options = [{"text": _plain(name, 75), "value": aid} for aid, name in accounts[:100]]
    account_el: dict[str, Any] = {"type": "static_select", "action_id": "account", "options": options,
                                  "placeholder": _plain("Choose an account", 150)}
    chosen = next((o for o in options if o["value"] == account_id), None)
    if chosen:
        account_el["initial_option"] = chosen
    severity_options = [{"text": _plain(s.capitalize()), "value": s} for s in SEVERITIES]
    text_el: dict[str, Any] = {"type": "plain_text_input", "action_id": "text", "multiline": True,
                               "max_length": 3000}
    if text:
        text_el["initial_value"] = text[:3000]
    return {"type": "modal", "callback_id": OPEN_VIEW, "title": _plain("Open a service case", 24),
            "submit": _plain("Open case", 24), "close": _plain("Cancel", 24),
            "private_metadata": json.dumps(meta)[:3000], "blocks": [
                {"type": "input", "block_id": OPEN_ACCOUNT, "label": _plain("Account"), "element": account_el},
                {"type": "input", "block_id": OPEN_SEVERITY, "label": _plain("Severity"),
                 "element": {"type": "static_select", "action_id": "severity", "options": severity_options,
                             "initial_option": severity_options[1]}},
                {"type": "input", "block_id": OPEN_TEXT, "label": _plain("What happened (the customer's words)"),
                 "element": text_el},
                context("The account's owner handles it, within the service levels of its tier; the case is posted "
                        "in a thread where it can be acknowledged, resolved and confirmed."),
            ]}


def confirm_modal(case: Case, meta: dict[str, Any]) -> dict[str, Any]:
    """The customer's confirmation: satisfaction 1-5 and a note."""
    scores = [{"text": _plain(f"{n} - " + ("very unhappy", "unhappy", "neutral", "satisfied", "very satisfied")[n - 1]),
               "value": str(n)} for n in range(1, 6)]
    return {"type": "modal", "callback_id": CONFIRM_VIEW, "title": _plain("Customer confirmed", 24),
            "submit": _plain("Close case", 24), "close": _plain("Cancel", 24),
            "private_metadata": json.dumps({**meta, "case": case.id})[:3000], "blocks": [
                section(f"*Case #{case.id}* at *{esc(case.account)}*\n>"
                        + esc(_clip(case.text, 500)).replace("\n", "\n>")),
                {"type": "input", "block_id": CONFIRM_SCORE, "label": _plain("The customer's satisfaction"),
                 "element": {"type": "static_select", "action_id": "score", "options": scores,
                             "placeholder": _plain("1 to 5")}},
                {"type": "input", "block_id": CONFIRM_NOTE, "label": _plain("Note (what the customer said)"),
                 "optional": True,
                 "element": {"type": "plain_text_input", "action_id": "note", "multiline": True, "max_length": 2000}},
            ]}
