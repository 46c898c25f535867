"""Handover in Slack: `/kam handover [FROM TO [ACCOUNTS]]`, the App Home button (managers and admins) and the
modal's submission. Handlers ack, call skills/handover.py and send what bot/render_handover.py builds."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from bot.handover_notify import send_handover
from bot.notifier import Notifier
from bot.render_answer import Block, section
from bot.render_handover import (
    BLOCK_FOR_FIELD,
    HANDOVER_OPEN,
    HANDOVER_VIEW,
    clv_home_block,
    handover_modal,
    home_button,
    modal_values,
    summary_blocks,
)
from bot.runtime import BotContext
from knowledge.kb import KnowledgeBase
from knowledge.profile import Person
from skills.handover import HandoverError, HandoverResult, handover, plan

log = logging.getLogger("kam.bot.handover")
Respond = Callable[..., Any]
USAGE = ("Usage: `/kam handover` opens the form; or `/kam handover FROM TO [accounts]`, people as @mentions or "
         "emails, accounts comma separated (default: every account FROM holds).")
MANAGERS_ONLY = "Only managers and admins can hand accounts over."
_PERSON = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>|<mailto:([^|>]+)(?:\|[^>]*)?>|([^\s,<>]+@[^\s,<>]+)")
_notifiers: dict[int, Notifier] = {}  # per bot context: the app's notifier (set by register)


def _notifier(ctx: BotContext) -> Notifier:
    found = _notifiers.get(id(ctx))
    if found is None:
        from bot.slack_notifier import SlackNotifier

        found = _notifiers[id(ctx)] = SlackNotifier(ctx.settings, ctx.store, client=ctx.client, pacer=ctx.pacer)
    return found


def _resolver(ctx: BotContext) -> Callable[[str], str | None]:
    from skills.ask.resolve import find_account

    return lambda name: find_account(ctx.store, name).account_id


def parse_people(ctx: BotContext, text: str) -> tuple[list[str], str]:
    """(person emails or Slack ids as written, the rest: account names) from `/kam handover` text."""
    people, rest = [], text
    for m in list(_PERSON.finditer(text))[:2]:
        user_id, mail, email = m.groups()
        if user_id and ctx.store.person(user_id) is None:  # a Slack id not in people.yaml: its email
            user_id = ctx.people.email_of(user_id) or user_id
        people.append(user_id or mail or email)
        rest = rest.replace(m.group(0), " ", 1)
    rest = re.sub(r"^\s*(?:to\b|->|→)?\s*", "", re.sub(r"\s(?:to|->|→)\s", " ", f" {rest} ")).strip()
    return people, rest


def _run(ctx: BotContext, old: str, new: str, accounts: list[str] | None, by: Person) -> HandoverResult:
    result = handover(ctx.store, ctx.settings, old, new, accounts, by.email, today=ctx.day(), resolve=_resolver(ctx))
    with ctx.index_lock:
        ctx.kb.index.sync(ctx.store, accounts=result.accounts)
    return result


def _deliver(ctx: BotContext, result: HandoverResult, summary: bool) -> tuple[str, list[Block]]:
    names = {s.id: s.name for s in ctx.store.summaries(result.accounts)}
    delivery = send_handover(_notifier(ctx), result, names, ctx.owner_label, summary=summary)
    text, blocks = summary_blocks(result, names, ctx.owner_label)
    if delivery.failed:
        blocks.append(section("⚠️ Not delivered: " + "; ".join(delivery.failed)[:2900]))
    return text, blocks


def command_handover(ctx: BotContext, person: Person, rest: str, trigger_id: str, respond: Respond) -> None:
    """`/kam handover`: the modal; `/kam handover FROM TO [accounts]`: the handover itself."""
    if person.role not in ("manager", "admin"):
        respond(text=MANAGERS_ONLY, response_type="ephemeral")
        return
    if not rest.strip():
        ctx.client.views_open(trigger_id=trigger_id, view=handover_modal(_account_options(ctx, person)))
        return
    people, names = parse_people(ctx, rest)
    if len(people) < 2:
        respond(text=USAGE, response_type="ephemeral")
        return
    accounts = [a.strip() for a in names.split(",") if a.strip()] or None
    try:
        result = _run(ctx, people[0], people[1], accounts, person)
    except HandoverError as exc:
        respond(text=f"Handover refused: {exc}", response_type="ephemeral")
        return
    text, blocks = _deliver(ctx, result, summary=False)
    respond(text=text, blocks=blocks, response_type="ephemeral")


def _account_options(ctx: BotContext, person: Person) -> list[tuple[str, str]]:
    return [(s.id, s.name) for s in ctx.store.summaries(ctx.store.visible_account_ids(person))]


def home_blocks(ctx: BotContext, person: Person, account_ids: list[str]) -> list[Block]:
    """What this feature adds to the viewer's Home tab: the handover button (managers and admins) and the
    lifetime value of their accounts."""
    from skills.clv import ClvConfigError, portfolio_clv

    out: list[Block] = []
    if person.role in ("manager", "admin"):
        out.append(home_button())
    try:
        block = clv_home_block(list(portfolio_clv(ctx.store, account_ids, ctx.day()).values()))
    except ClvConfigError as exc:
        log.warning("no lifetime values on the Home tab: %s", exc)
        block = None
    if block:
        out.append(block)
    return out


def register(app: Any, kb: KnowledgeBase) -> None:
    ctx: BotContext = app.kam_context
    _notifiers[id(ctx)] = app.kam_notifier

    @app.action(HANDOVER_OPEN)
    def on_open(ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack()
        person = ctx.people.person(body["user"]["id"])
        if person is None or person.role not in ("manager", "admin"):
            _notifier(ctx).send_dm(body["user"]["id"], MANAGERS_ONLY)  # a Home click has no channel to reply in
            return
        ctx.client.views_open(trigger_id=body["trigger_id"], view=handover_modal(_account_options(ctx, person)))

    @app.view(HANDOVER_VIEW)
    def on_submit(ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]) -> None:
        by = ctx.people.person(body["user"]["id"])
        old_id, new_id, accounts = modal_values(view)
        errors: dict[str, str] = {}
        old = ctx.people.person(old_id) if old_id else None
        new = ctx.people.person(new_id) if new_id else None
        if old is None:
            errors[BLOCK_FOR_FIELD["from"]] = "Pick a rep who is in people.yaml"
        if new is None:
            errors[BLOCK_FOR_FIELD["to"]] = "Pick a rep who is in people.yaml"
        if by is None:
            errors[BLOCK_FOR_FIELD["as"]] = "I don't know you yet: ask your admin to add you to people.yaml"
        if not errors:
            assert old is not None and new is not None and by is not None
            try:  # checked before the ack, so a refusal shows on the form; nothing is changed yet
                plan(ctx.store, old.email, new.email, accounts or None, by.email, _resolver(ctx))
            except HandoverError as exc:
                errors[BLOCK_FOR_FIELD[exc.field]] = str(exc)[:150]
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        assert old is not None and new is not None and by is not None

        def work(_attempt: int) -> None:
            try:
                result = _run(ctx, old.email, new.email, accounts or None, by)
            except HandoverError as exc:  # changed since the form was checked
                _notifier(ctx).send_dm(by.email, f"Handover refused: {exc}")
                return
            _deliver(ctx, result, summary=True)

        ctx.later(work)
