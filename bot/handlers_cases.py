"""Service cases in Slack: `/kam case <account>: <text>`, the "Open a service case" message shortcut, the "Open a
case" button under answers, and the Acknowledge / Resolve / Customer confirmed… / Reopen buttons on the case message.

Every case lives in one thread: the case message is posted (as a reply in the thread of the message it came from,
or as a new message where `/kam case` was typed) and that thread is recorded on the case; each step is a reply in
it and updates the case message. The rules (states, access, service levels) are skills/cases.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.render_cases import (
    CASE_ACTIONS,
    CASE_SHORTCUT,
    CONFIRM_NOTE,
    CONFIRM_SCORE,
    CONFIRM_VIEW,
    OPEN_ACCOUNT,
    OPEN_CASE_BUTTON,
    OPEN_SEVERITY,
    OPEN_TEXT,
    OPEN_VIEW,
    case_blocks,
    case_text,
    confirm_modal,
    open_case_modal,
)
from bot.render_edit import message_modal
from bot.render_nudges import esc
from bot.runtime import UNKNOWN_USER, BotContext
from knowledge.profile import Person
from skills import cases, edit

log = logging.getLogger("kam.bot")
Respond = Callable[..., Any]
CASE_USAGE = "Usage: `/kam case <account>: <what happened>` (add `high` or `low` before the colon for the severity)"
REPEAT_WINDOW = dt.timedelta(minutes=10)  # the same text from the same person this soon is the same case
DONE_WORDS = {"ack": "acknowledged", "resolve": "resolved", "confirm": "confirmed", "reopen": "reopened"}


def _now(ctx: BotContext) -> Any:
    from scheduler.clock import clock_for  # the simulation's clock (KAM_CLOCK_FILE) when one is set

    return clock_for(ctx.settings).now()


def _json(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def post_case(ctx: BotContext, case: cases.Case, channel: str | None, thread_ts: str | None = None) -> None:
    """Post the case message (in `thread_ts`'s thread when given) and record its thread on the case. A channel the
    bot cannot post in: the case goes to the opener's DM instead."""
    blocks, text = case_blocks(case), case_text(case)
    posted = None
    # the thread asked for; else the channel itself (an ephemeral answer has no thread); else the opener's DM
    tries = list(dict.fromkeys([(channel, thread_ts), (channel, None), (_dm(ctx, case.opened_by), None)]))
    for where, thread in tries:
        if not where:
            continue
        try:
            posted = ctx.client.chat_postMessage(channel=where, text=text, blocks=blocks, thread_ts=thread,
                                                 unfurl_links=False, unfurl_media=False)
            break
        except Exception as exc:  # noqa: BLE001 - not in the channel, archived...: try the DM
            log.warning("case %s: cannot post in %s (%s)", case.id, where, exc)
    if posted is not None:
        cases.set_thread(ctx.store, case.id, posted["channel"], thread or posted["ts"])
    owner_dm = _dm(ctx, case.owner)
    if case.owner != case.opened_by and owner_dm:  # opened by a teammate: the owner hears of it at once
        try:
            ctx.client.chat_postMessage(channel=owner_dm, text=f"New service case for you: {text}", blocks=blocks,
                                        unfurl_links=False, unfurl_media=False)
        except Exception as exc:  # noqa: BLE001 - the case is stored; its nudges reach the owner anyway
            log.warning("case %s: cannot tell its owner %s (%s)", case.id, case.owner, exc)


def _dm(ctx: BotContext, email: str) -> str | None:
    person = ctx.store.person(email)
    return person.slack_id if person and person.slack_id else None


def command_case(ctx: BotContext, person: Person, rest: str, channel: str | None, respond: Respond) -> None:
    """`/kam case <account>: <text>`: open it, post the case message here, say so to the asker."""
    from bot.handlers_commands import resolve_account

    parsed = cases.parse_case_command(rest)
    if parsed is None:
        respond(text=CASE_USAGE, response_type="ephemeral")
        return
    name, severity, text = parsed
    account_id = resolve_account(ctx, person, name)
    if account_id is None:
        respond(text=f"I couldn't find an account called “{esc(name.strip())}” among the accounts you can see.",
                response_type="ephemeral")
        return
    now = _now(ctx)
    same = [c for c in cases.list_cases(ctx.store, ctx.settings, account_ids={account_id},
                                        opened_since=now - REPEAT_WINDOW, now=now)
            if c.opened_by == person.email and c.text == text.strip()]
    if same:  # the same command again (sent twice, or answered again after a restart): one case
        respond(text=f"That is already service case #{same[0].id} at {esc(same[0].account)}.",
                response_type="ephemeral")
        return
    try:
        case = cases.open_case(ctx.store, ctx.settings, account_id, text, person, severity=severity, source="slack",
                               now=now)
    except cases.CaseError as exc:
        respond(text=f"No case opened: {esc(str(exc))}", response_type="ephemeral")
        return
    post_case(ctx, case, channel)
    respond(text=f"Opened service case #{case.id} at {esc(case.account)} (owner {esc(case.owner)}).",
            response_type="ephemeral")


def _person(ctx: BotContext, user_id: str) -> Person | None:
    return ctx.people.person(user_id)


def _open_modal(ctx: BotContext, person: Person, trigger_id: str, account_id: str | None, text: str,
                meta: dict[str, Any], channel_name: str | None = None) -> None:
    visible = ctx.store.visible_account_ids(person)
    summaries = sorted(ctx.store.summaries(visible), key=lambda a: a.name.casefold())
    if not summaries:
        ctx.client.views_open(trigger_id=trigger_id, view=message_modal("Open a service case",
                                                                          "You have no accounts to open cases at."))
        return
    guess = account_id if account_id and (visible is None or account_id in visible) else (
        edit.guess_account([(a.id, a.name, a.aliases) for a in summaries], text, channel_name) if text else None)
    choices = [(a.id, a.name) for a in summaries]
    if guess:  # the guess first, so it is among the 100 options a select can hold
        choices.sort(key=lambda c: c[0] != guess)
    ctx.client.views_open(trigger_id=trigger_id, view=open_case_modal(choices, guess, text, meta))


def _picked(view: dict[str, Any], block: str) -> str | None:
    values = (view.get("state") or {}).get("values")
    actions = values.get(block) if isinstance(values, dict) else None
    v = next(iter(actions.values()), None) if isinstance(actions, dict) else None
    if not isinstance(v, dict):
        return None
    option = v.get("selected_option")
    found = v.get("value") if "value" in v else (option.get("value") if isinstance(option, dict) else None)
    return found if isinstance(found, str) else None


def register(app: App, kb: Any) -> None:
    ctx: BotContext = app.kam_context  # type: ignore[attr-defined]

    @app.shortcut(CASE_SHORTCUT)
    def on_shortcut(ack: Callable[..., None], body: dict[str, Any]) -> None:
        """"Open a service case" on any message: a modal with the message's text and the account guessed."""
        ack()
        person = _person(ctx, body["user"]["id"])
        if person is None:
            ctx.client.views_open(trigger_id=body["trigger_id"], view=message_modal("Open a service case",
                                                                                      UNKNOWN_USER))
            return
        from bot.handlers_edit import message_text

        message = body.get("message") or {}
        text = message_text(ctx, str(message.get("text") or ""))
        channel = body.get("channel") or {}
        ts = message.get("thread_ts") or message.get("ts") or body.get("message_ts")
        _open_modal(ctx, person, body["trigger_id"], None, text, {"c": channel.get("id"), "ts": ts},
                    channel.get("name"))

    @app.action(OPEN_CASE_BUTTON)
    def on_open_button(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]) -> None:
        """"Open a case" under an answer: the modal for the answer's account, posted in the answer's thread."""
        ack()
        person = _person(ctx, body["user"]["id"])
        if person is None:
            ctx.client.views_open(trigger_id=body["trigger_id"], view=message_modal("Open a service case",
                                                                                      UNKNOWN_USER))
            return
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        ts = message.get("thread_ts") or message.get("ts") or (body.get("container") or {}).get("message_ts")
        _open_modal(ctx, person, body["trigger_id"], str(action.get("value") or "") or None, "",
                    {"c": channel, "ts": ts})

    @app.view(OPEN_VIEW)
    def on_open_submit(ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]) -> None:
        person = _person(ctx, body["user"]["id"])
        if person is None:
            ack(response_action="errors", errors={OPEN_ACCOUNT: UNKNOWN_USER})
            return
        account_id = _picked(view, OPEN_ACCOUNT)
        severity = _picked(view, OPEN_SEVERITY) or "normal"
        text = _picked(view, OPEN_TEXT) or ""
        if not account_id:
            ack(response_action="errors", errors={OPEN_ACCOUNT: "Choose an account."})
            return
        try:
            case = cases.open_case(ctx.store, ctx.settings, account_id, text, person, severity=severity,
                                   source="slack", now=_now(ctx))
        except cases.CaseError as exc:
            block = {"account": OPEN_ACCOUNT, "severity": OPEN_SEVERITY}.get(exc.field, OPEN_TEXT)
            ack(response_action="errors", errors={block: str(exc).partition(": ")[2] or str(exc)})
            return
        ack(response_action="update", view=message_modal("Case opened", f"✅ Service case #{case.id} at "
                                                          f"*{esc(case.account)}*, owner {esc(case.owner)}."))
        meta = _json(view.get("private_metadata"))
        ctx.later(lambda _attempt: post_case(ctx, case, meta.get("c") or None, meta.get("ts") or None))

    def on_step(action_name: str) -> Callable[..., None]:
        def handler(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]) -> None:
            ack()
            user_id = body["user"]["id"]
            channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
            message = body.get("message") or {}
            ts = message.get("ts") or (body.get("container") or {}).get("message_ts")
            person = _person(ctx, user_id)
            try:
                case_id = int(str(action.get("value") or ""))
            except ValueError:
                return
            if action_name == "confirm":
                try:
                    case = cases.get_case(ctx.store, ctx.settings, case_id, person=person, now=_now(ctx))
                    if case.state != "resolved":
                        raise cases.CaseError(f"case {case_id} is {case.state}; only a resolved case can be "
                                              "confirmed")
                    if not cases.may_confirm(person, case):
                        raise cases.CaseError(f"case {case_id} is {case.owner}'s; only its owner, whoever opened it "
                                              "or an admin can record the customer's confirmation")
                except cases.CaseError as exc:
                    view = message_modal("Customer confirmed", UNKNOWN_USER if person is None else esc(str(exc)))
                    ctx.client.views_open(trigger_id=body["trigger_id"], view=view)
                    return
                ctx.client.views_open(trigger_id=body["trigger_id"],
                                      view=confirm_modal(case, {"c": channel, "ts": ts}))
                return
            try:
                case = cases.act(ctx.store, ctx.settings, case_id, action_name, person, now=_now(ctx))
            except cases.CaseError as exc:
                if channel:
                    ctx.client.chat_postEphemeral(channel=channel, user=user_id,
                                                  text=UNKNOWN_USER if person is None else esc(str(exc)))
                return
            assert person is not None
            _settled(ctx, case, person, action_name, channel, ts)

        return handler

    for name, action_id in CASE_ACTIONS.items():
        app.action(action_id)(on_step(name))

    @app.view(CONFIRM_VIEW)
    def on_confirm_submit(ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _json(view.get("private_metadata"))
        person = _person(ctx, body["user"]["id"])
        try:
            case_id = int(meta.get("case"))
        except (TypeError, ValueError):
            ack(response_action="errors", errors={CONFIRM_SCORE: "This form is no longer valid."})
            return
        try:
            case = cases.act(ctx.store, ctx.settings, case_id, "confirm", person,
                             satisfaction=_picked(view, CONFIRM_SCORE), note=_picked(view, CONFIRM_NOTE),
                             now=_now(ctx))
        except cases.CaseError as exc:
            block = CONFIRM_NOTE if exc.field == "note" else CONFIRM_SCORE
            ack(response_action="errors", errors={block: UNKNOWN_USER if person is None else str(exc)})
            return
        ack(response_action="update", view=message_modal("Case closed", f"✅ Case #{case.id} at "
                                                          f"*{esc(case.account)}* closed: satisfaction "
                                                          f"{case.satisfaction}/5."))
        assert person is not None
        ctx.later(lambda _attempt: _settled(ctx, case, person, "confirm", meta.get("c"), meta.get("ts")))


def _settled(ctx: BotContext, case: cases.Case, person: Person, action: str, channel: str | None,
             ts: str | None) -> None:
    """After a step: the case message shows the new state and buttons, and the thread says who did what."""
    if channel and ts:
        try:
            ctx.client.chat_update(channel=channel, ts=ts, text=case_text(case), blocks=case_blocks(case))
        except Exception as exc:  # noqa: BLE001 - the step is stored; the message is only its picture
            log.warning("case %s: chat.update failed (%s)", case.id, exc)
    where, thread = (case.channel, case.thread_ts) if case.channel else (channel, ts)
    if not where:
        return
    line = f"Case #{case.id} {DONE_WORDS[action]} by {esc(person.name or person.email)}"
    if action == "confirm":
        line += f": customer satisfaction {case.satisfaction}/5" + (f", “{esc(case.note)}”" if case.note else "")
    try:
        ctx.client.chat_postMessage(channel=where, thread_ts=thread, text=line)
    except Exception as exc:  # noqa: BLE001
        log.warning("case %s: thread reply failed (%s)", case.id, exc)
