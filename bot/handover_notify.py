"""Sending a handover's messages: one brief per account to the new owner, the summary to whoever made it.

Through any Notifier (bot/notifier.py): Slack DMs in production, the console in `kam` without a Slack token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.notifier import Notifier
from bot.render_handover import brief_blocks, summary_blocks
from skills.handover import HandoverResult

log = logging.getLogger("kam.handover")


@dataclass
class Delivery:
    sent: list[str] = field(default_factory=list)  # "brief:<account id> -> email", "summary -> email"
    failed: list[str] = field(default_factory=list)  # the same, with why

    def to_json(self) -> dict[str, list[str]]:
        return {"sent": self.sent, "failed": self.failed}


def send_handover(notifier: Notifier, result: HandoverResult, names: dict[str, str],
                  label: Callable[[str], str] = str, summary: bool = True, full_text: bool = False) -> Delivery:
    """Every brief, then (with `summary`) the summary to `result.by`. A message that cannot be delivered (the
    person has no Slack account) is reported, never stops the others: the handover itself is already saved.
    `full_text`: the message text carries the whole brief (a console has no blocks to show)."""
    out = Delivery()

    def send(person: str, what: str, text: str, blocks: list) -> None:
        if full_text:
            text = "\n".join(_texts(blocks))
        try:
            notifier.send_dm(person, text, blocks)
            out.sent.append(f"{what} -> {person}")
        except Exception as exc:  # noqa: BLE001 - one undeliverable message must not hide the rest
            log.warning("handover %s to %s not delivered: %s", what, person, exc)
            out.failed.append(f"{what} -> {person}: {exc}")

    for b in result.briefs:
        text, blocks = brief_blocks(b, label)
        send(result.to_email, f"brief:{b.account_id}", text, blocks)
    if summary:
        text, blocks = summary_blocks(result, names, label)
        send(result.by, "summary", text, blocks)
    return out


def _texts(blocks: list) -> list[str]:
    out = []
    for b in blocks:
        if b.get("type") == "context":
            out += [e.get("text", "") for e in b.get("elements", [])]
        elif isinstance(b.get("text"), dict):
            out.append(b["text"].get("text", "") if b["type"] != "header" else f"*{b['text']['text']}*")
    return out
