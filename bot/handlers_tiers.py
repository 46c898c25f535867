"""Bolt handlers for tier-change posts: Confirm, Override (opens the modal) and the modal's submission.

Only managers (of the account's owner) and admins may act; others get an ephemeral refusal. The Slack user is
resolved to a person with people.yaml (`store.person(slack_user_id)`), and the override is made as that person.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from bot.tier_posts import CONFIRM, MODAL, OVERRIDE, acted_blocks, modal_values, override_modal, parse_value
from knowledge.kb import KnowledgeBase
from skills.tiering.history import OverrideError, can_override, confirm, current_tiers, set_override

log = logging.getLogger("kam.bot.tiers")
REFUSAL = "Only admins, and managers of the account's owner, can confirm or override tiers."


def _refuse(client: Any, body: dict[str, Any], text: str = REFUSAL) -> None:
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
    user = body["user"]["id"]
    if channel:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    else:  # a click from a modal or the Home tab: no channel to be ephemeral in, so a DM
        client.chat_postMessage(channel=user, text=text)


def _update_post(client: Any, body_or_meta: dict[str, Any], blocks: list[dict] | None, account_id: str,
                 note: str) -> None:
    """Replace the buttons of one change in the original post with what was done."""
    channel, ts = body_or_meta.get("channel"), body_or_meta.get("ts")
    if not (channel and ts):
        return
    if blocks is None:  # after the modal: fetch the post to keep its other changes' buttons
        try:
            found = client.conversations_history(channel=channel, latest=ts, inclusive=True, limit=1)
            post = next((m for m in found.get("messages") or [] if m.get("ts") == ts), None)
            blocks = post.get("blocks") if post else None
        except Exception:  # noqa: BLE001 - the override is saved; a stale post is only cosmetic
            log.warning("could not read the tier post %s/%s", channel, ts)
            return
    if blocks:
        client.chat_update(channel=channel, ts=ts, text=note, blocks=acted_blocks(blocks, account_id, note))


def register(app: Any, kb: KnowledgeBase) -> None:
    """Add the tier-change listeners to a bolt App."""
    store = kb.store

    @app.action(re.compile(rf"^{CONFIRM}(:.*)?$"))
    def on_confirm(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        value = parse_value(action.get("value", ""))
        person = store.person(body["user"]["id"])
        if not value["account_id"] or not can_override(store, person, value["account_id"]):
            _refuse(client, body)
            return
        confirm(store, value["account_id"], value["tier"], by=person.email)
        message = body.get("message") or {}
        where = {"channel": (body.get("channel") or {}).get("id"), "ts": message.get("ts")}
        _update_post(client, where, message.get("blocks"), value["account_id"],
                     f":white_check_mark: {value['tier']} confirmed by <@{body['user']['id']}>")

    @app.action(re.compile(rf"^{OVERRIDE}(:.*)?$"))
    def on_override(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        value = parse_value(action.get("value", ""))
        account_id = value["account_id"]
        person = store.person(body["user"]["id"])
        if not account_id or not can_override(store, person, account_id):
            _refuse(client, body)
            return
        name = next((s.name for s in store.summaries([account_id])), account_id)
        current = current_tiers(store).get(account_id)
        channel = (body.get("channel") or {}).get("id")
        ts = (body.get("message") or {}).get("ts")
        client.views_open(trigger_id=body["trigger_id"], view=override_modal(account_id, name, current, channel, ts))

    @app.view(MODAL)
    def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        v = modal_values(view)
        person = store.person(body["user"]["id"])
        until = None
        if v["until"]:
            try:
                until = dt.date.fromisoformat(v["until"])
            except ValueError:
                ack(response_action="errors", errors={"until": "Pick a date"})
                return
        try:
            change = set_override(store, v["account_id"] or "", v["tier"] or "", v["reason"], person, until=until)
        except OverrideError as exc:
            ack(response_action="errors", errors={exc.field: str(exc)[:150]})
            return
        ack()
        note = (f":pencil2: overridden to {change.new_tier} by <@{body['user']['id']}>: {v['reason']}"
                + (f" (until {until})" if until else ""))
        _update_post(client, v, None, change.account_id, note)
