"""Tier changes in Slack: Block Kit for the one-line reason, managers' Confirm / Override buttons, the override modal,
and posting a review's changes to the managers' channel and each owner's DMs through a Notifier."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from bot.notifier import Notifier, Sent
from knowledge.kb import KnowledgeBase
from skills.tiering.changes import TierChange
from skills.tiering.config import TIERS

log = logging.getLogger("kam.bot.tiers")

Block = dict[str, Any]
CONFIRM = "tier_confirm"  # action ids are "<kind>:<account id>": unique within a message, as Slack requires
OVERRIDE = "tier_override"
MODAL = "tier_override_modal"  # callback_id of the override modal
ACTIONS_BLOCK = "tier_actions"  # block_id prefix of a change's buttons, replaced once someone acted on them
TIER_TITLES = {"key": "Key (关键客户)", "strategic": "Strategic development (主要开发客户)",
               "maintenance": "Maintenance (运维客户)", "opportunity": "Opportunity (机会客户)"}
PER_MESSAGE = 15  # 3 blocks a change + a header stays under Slack's 50 blocks per message


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:3000]}


def _value(change: TierChange) -> str:
    return json.dumps({"a": change.account_id, "o": change.old_tier, "t": change.new_tier, "r": change.review_id},
                      separators=(",", ":"))


def parse_value(value: str) -> dict[str, Any]:
    data = json.loads(value or "{}")
    return {"account_id": data.get("a"), "old_tier": data.get("o"), "tier": data.get("t"), "review_id": data.get("r")}


def change_blocks(change: TierChange, buttons: bool) -> list[Block]:
    """One change: its reason line, the scores, and (for managers) Confirm / Override."""
    arrow = f"{change.old_tier or 'new'} → *{change.new_tier}*"
    head = change.reason.split(": ", 2)
    because = head[2] if len(head) == 3 else change.reason
    blocks: list[Block] = [
        {"type": "section", "block_id": f"tier_change:{change.account_id}"[:255],
         "text": _mrkdwn(f"*{change.account}*: {arrow}\n{because}")},
    ]
    facts = []
    if change.importance is not None:
        facts.append(f"importance {change.importance:.2f}")
    if change.strength is not None:
        facts.append(f"strength {change.strength:.2f}")
    facts.append(f"owner {change.owner}")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(facts))]})
    if buttons:
        value = _value(change)
        blocks.append({"type": "actions", "block_id": f"{ACTIONS_BLOCK}:{change.account_id}"[:255], "elements": [
            {"type": "button", "action_id": f"{CONFIRM}:{change.account_id}"[:255], "text": _plain("Confirm"),
             "style": "primary", "value": value},
            {"type": "button", "action_id": f"{OVERRIDE}:{change.account_id}"[:255], "text": _plain("Override"),
             "value": value},
        ]})
    return blocks


def changes_messages(changes: list[TierChange], buttons: bool, title: str) -> list[tuple[str, list[Block]]]:
    """(fallback text, blocks) per message; long lists are split to respect Slack's block limit."""
    out = []
    for start in range(0, len(changes), PER_MESSAGE):
        part = changes[start:start + PER_MESSAGE]
        label = title if len(changes) <= PER_MESSAGE else f"{title} ({start + 1}-{start + len(part)} of {len(changes)})"
        blocks: list[Block] = [{"type": "header", "text": _plain(label, 150)}]
        for c in part:
            blocks += change_blocks(c, buttons)
        text = label + "\n" + "\n".join(c.reason for c in part)
        out.append((text, blocks))
    return out


def acted_blocks(blocks: list[Block], account_id: str, note: str) -> list[Block]:
    """The message's blocks with one change's buttons replaced by what was done ("Confirmed by @mia")."""
    target = f"{ACTIONS_BLOCK}:{account_id}"[:255]
    return [{"type": "context", "block_id": target, "elements": [_mrkdwn(note)]} if b.get("block_id") == target else b
            for b in blocks]


def override_modal(account_id: str, account: str, current_tier: str | None, channel: str | None = None,
                   message_ts: str | None = None) -> dict[str, Any]:
    """The modal a manager fills in to override a tier: the tier, a reason, and an optional last day."""
    options = [{"text": _plain(TIER_TITLES[t]), "value": t} for t in TIERS]
    tier_select: dict[str, Any] = {"type": "static_select", "action_id": "tier", "options": options,
                                   "placeholder": _plain("Choose a tier")}
    if current_tier in TIERS:
        tier_select["initial_option"] = options[TIERS.index(current_tier)]
    meta = json.dumps({"a": account_id, "c": channel, "ts": message_ts}, separators=(",", ":"))
    return {
        "type": "modal", "callback_id": MODAL, "private_metadata": meta,
        "title": _plain("Override tier", 24), "submit": _plain("Override", 24), "close": _plain("Cancel", 24),
        "blocks": [
            {"type": "section", "text": _mrkdwn(f"*{account}* is *{current_tier or 'not reviewed yet'}*. "
                                                "An override wins over the scores until it ends; it is kept "
                                                "in the tier history.")},
            {"type": "input", "block_id": "tier", "label": _plain("New tier"), "element": tier_select},
            {"type": "input", "block_id": "reason", "label": _plain("Reason"),
             "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True, "max_length": 500,
                         "placeholder": _plain("Why this tier? (kept in the history)")}},
            {"type": "input", "block_id": "until", "optional": True, "label": _plain("Until (last day)"),
             "element": {"type": "datepicker", "action_id": "until"}},
        ],
    }


def modal_values(view: dict[str, Any]) -> dict[str, Any]:
    """What the manager entered: account id, tier, reason, until (ISO date or None), and where the post is."""
    values = view.get("state", {}).get("values", {})
    tier = ((values.get("tier", {}).get("tier") or {}).get("selected_option") or {}).get("value")
    reason = (values.get("reason", {}).get("reason") or {}).get("value") or ""
    until = (values.get("until", {}).get("until") or {}).get("selected_date")
    meta = json.loads(view.get("private_metadata") or "{}")
    return {"account_id": meta.get("a"), "channel": meta.get("c"), "ts": meta.get("ts"), "tier": tier,
            "reason": reason.strip(), "until": until}


def post_tier_changes(notifier: Notifier, kb: KnowledgeBase, changes: Iterable[TierChange]) -> list[Sent]:
    """Post a review's changes to the managers' channel (with buttons) and DM each owner their accounts' changes
    (buttons only for owners who are managers or admins). A failed DM is logged and the others still go out."""
    changes = list(changes)
    sent: list[Sent] = []
    if not changes:
        return sent
    channel = kb.settings.kam_managers_channel
    if channel:
        for text, blocks in changes_messages(changes, True, "Tier changes after the review"):
            sent.append(notifier.post_channel(channel, text, blocks))
    by_owner: dict[str, list[TierChange]] = {}
    people = {}
    for c in changes:  # owners may be written as an email or a Slack id: one DM per person
        person = kb.store.person(c.owner)
        key = person.email if person else c.owner
        people[key] = person
        by_owner.setdefault(key, []).append(c)
    for owner, theirs in by_owner.items():
        person = people[owner]
        managing = person is not None and person.role in ("manager", "admin")
        for text, blocks in changes_messages(theirs, managing, "Your accounts changed tier"):
            try:
                to = (person.slack_id or person.email) if person else owner
                sent.append(notifier.send_dm(to, text, blocks))
            except Exception:  # noqa: BLE001 - one unreachable owner must not stop the other posts
                log.exception("could not DM %s about tier changes", owner)
    return sent
