"""Block Kit for handovers: the new owner's brief per account, the summary, the modal and the App Home button,
and the App Home's lifetime-value section. Pure functions of plain data (skills/handover.py, skills/clv.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.render_answer import Block, context, escape, section
from skills.clv import Clv, money
from skills.handover import ROLE_TITLES, Brief, HandoverResult

HANDOVER_OPEN = "kam_handover_open"  # the App Home button
HANDOVER_VIEW = "kam_handover_modal"  # the modal's callback_id
FROM_BLOCK, TO_BLOCK, ACCOUNTS_BLOCK = "kam_handover_from", "kam_handover_to", "kam_handover_accounts"
FROM_ACTION, TO_ACTION, ACCOUNTS_ACTION = "from_user", "to_user", "accounts"
MAX_OPTIONS = 100  # a multi_static_select holds at most 100 options; more accounts are typed instead
BLOCK_FOR_FIELD = {"from": FROM_BLOCK, "to": TO_BLOCK, "accounts": ACCOUNTS_BLOCK, "as": FROM_BLOCK}

Label = Callable[[str], str]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:75] or " ", "emoji": True}


def _lines(title: str, lines: list[str], empty: str) -> Block:
    body = "\n".join(lines) if lines else f"_{empty}_"
    return section(f"*{title}*\n{body}"[:3000])


def brief_blocks(b: Brief, label: Label = str) -> tuple[str, list[Block]]:
    """(fallback text, blocks) of one account's brief for its new owner."""
    text = f"Handover: you now own {b.account} (from {label(b.previous_owner)})"
    blocks: list[Block] = [
        {"type": "header", "text": _plain(f"🤝 Handover: {b.account}")},
        context(f"You now own *{escape(b.account)}*, handed over from {label(b.previous_owner)}"
                + (f" · {b.nudges_moved} open nudges and {b.snoozes_moved} snoozes moved to you"
                   if b.nudges_moved or b.snoozes_moved else "")),
        section(f"*Tier:* {b.tier or 'not reviewed yet'}"
                + ("\n" + "\n".join(f"• {escape(w)}" for w in b.tier_why) if b.tier_why else "")
                + (f"\n*Lifetime value:* {escape(b.clv)}" if b.clv else "")),
        _lines("Decision unit", [
            f"• *{escape(p.name)}*" + (f", {escape(p.title)}" if p.title else "") + f" ({ROLE_TITLES[p.role]}): "
            + (f"our last contact {p.last_contact}" + (f" ({escape(p.last_contact_summary[:120])})"
                                                       if p.last_contact_summary else "")
               if p.last_contact else "no contact with them on record")
            for p in b.decision_unit], "no decision maker, economic buyer, champion or blocker on record"),
        _lines("Open key dates", [f"• {d['date']} {d['kind']}: {escape(d['title'])}" for d in b.key_dates],
               "none ahead"),
    ]
    if b.cases is not None:  # None only in briefs made before service cases existed
        blocks.append(_lines("Open service cases", [
            f"• #{c['id']} {c['severity']}, {c['state']} since {c['opened_at']}"
            + (" *overdue*" if c.get("overdue") else "") + f": {escape(c['text'][:200])}" for c in b.cases], "none"))
    blocks += [
        _lines("Last interactions", [
            f"• {i['date']} {i['kind']}" + (f" by {label(i['by'])}" if i["by"] else "")
            + (f": {escape(i['summary'][:200])}" if i["summary"] else "") for i in b.interactions], "none on record"),
        _lines("Last notes", [f"• {n['date']} ({n['dimension']}): {escape(n['text'][:200])}" for n in b.notes],
               "none"),
        _lines("Rival suppliers and competitors", [
            f"• {escape(r['name'])}" + (f": {r['share']:.0%} share" if r["share"] is not None else "")
            + (" (competitor)" if r["kind"] == "competitor" else "") for r in b.rivals]
            + ([f"• us: {b.our_share:.0%} of their purchases"] if b.our_share is not None else []), "none on record"),
        _lines("Gaps to fill", [f"• profile {b.completeness:.0%} complete"]
               + ([f"• missing: {escape(', '.join(b.gaps))}"] if b.gaps else [])
               + ([f"• stale: {', '.join(b.stale)}"] if b.stale else []), "none"),
    ]
    return text, blocks


def summary_blocks(r: HandoverResult, names: dict[str, str], label: Label = str) -> tuple[str, list[Block]]:
    """What the person who made the handover is told."""
    n = len(r.owner_changed)
    text = f"Handover done: {n} account{'s' * (n != 1)} from {label(r.from_email)} to {label(r.to_email)}"
    accounts = ", ".join(escape(names.get(a, a)) for a in r.owner_changed) or "none"
    lines = [f"*Owner changed:* {accounts}"]
    if r.team_changed:
        lines.append("*Team seat taken over:* " + ", ".join(escape(names.get(a, a)) for a in r.team_changed))
    lines.append(f"*Moved to {label(r.to_email)}:* {r.nudges_moved} open nudges, {r.snoozes_moved} snoozes"
                 + (f", {r.cases_moved} open cases" if r.cases_moved is not None else ""))
    lines.append(f"{label(r.to_email)} got one brief per account by DM.")
    return text, [section(f"✅ {escape(text)}"), section("\n".join(lines)[:3000]),
                  context("Recorded in each account's history (`kam history`) as a handover by " + label(r.by))]


def handover_modal(accounts: list[tuple[str, str]], initial_from: str | None = None) -> dict[str, Any]:
    """The modal: who leaves, who takes over, which accounts (none chosen: all the leaving rep holds)."""
    from_el: dict[str, Any] = {"type": "users_select", "action_id": FROM_ACTION,
                               "placeholder": _plain("The rep handing over")}
    if initial_from:
        from_el["initial_user"] = initial_from
    if len(accounts) <= MAX_OPTIONS and accounts:
        acc_el: dict[str, Any] = {"type": "multi_static_select", "action_id": ACCOUNTS_ACTION,
                                  "placeholder": _plain("All of their accounts"),
                                  "options": [{"text": _plain(name), "value": aid} for aid, name in accounts]}
    else:
        acc_el = {"type": "plain_text_input", "action_id": ACCOUNTS_ACTION,
                  "placeholder": _plain("Account names, comma separated")}
    return {
        "type": "modal", "callback_id": HANDOVER_VIEW, "title": _plain("Hand over accounts"),
        "submit": _plain("Hand over"), "close": _plain("Cancel"), "private_metadata": json.dumps({}),
        "blocks": [
            section("Ownership, team seats, open nudges, snoozes and cases move to the new owner, who gets a brief "
                    "per account by DM."),
            {"type": "input", "block_id": FROM_BLOCK, "label": _plain("From"), "element": from_el},
            {"type": "input", "block_id": TO_BLOCK, "label": _plain("To"),
             "element": {"type": "users_select", "action_id": TO_ACTION, "placeholder": _plain("The new owner")}},
            {"type": "input", "block_id": ACCOUNTS_BLOCK, "label": _plain("Accounts"), "optional": True,
             "element": acc_el, "hint": _plain("Leave empty to hand over every account they hold")},
        ],
    }


def modal_values(view: dict[str, Any]) -> tuple[str | None, str | None, list[str]]:
    """(from Slack user, to Slack user, account ids or names) from a submitted modal's state."""
    values = (view.get("state") or {}).get("values") or {}
    old = (values.get(FROM_BLOCK) or {}).get(FROM_ACTION, {}).get("selected_user")
    new = (values.get(TO_BLOCK) or {}).get(TO_ACTION, {}).get("selected_user")
    acc = (values.get(ACCOUNTS_BLOCK) or {}).get(ACCOUNTS_ACTION, {})
    if acc.get("type") == "multi_static_select" or "selected_options" in acc:
        accounts = [o["value"] for o in acc.get("selected_options") or []]
    else:
        accounts = [a.strip() for a in (acc.get("value") or "").split(",") if a.strip()]
    return old, new, accounts


def home_button() -> Block:
    return {"type": "actions", "block_id": HANDOVER_OPEN, "elements": [{
        "type": "button", "action_id": HANDOVER_OPEN, "value": "open",
        "text": _plain("🤝 Hand over accounts")}]}


def clv_home_block(values: list[Clv], top: int = 5) -> Block | None:
    """The App Home's "Lifetime value" lines: the viewer's most valuable accounts, with the total."""
    known = sorted((c for c in values if c.value is not None), key=lambda c: -(c.value or 0))
    if not known:
        return None
    total = sum(c.value or 0 for c in known)
    lines = [f"• *{escape(c.account)}*: {money(c.value or 0)} over {c.years:.1f} years" for c in known[:top]]
    return section(f"*💰 Lifetime value* (total {money(total)})\n" + "\n".join(lines))
