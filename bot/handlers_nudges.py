"""The nudge buttons: Done, Snooze 1 day / 1 week, Reschedule (date picker) and Log a visit (modal).

Each click is checked against the ledger (only the nudge's recipient may act on it), recorded in the nudge state
so a done or snoozed nudge stays away until it is due again, and reflected in the message itself.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from slack_bolt import App

from bot.render_nudges import LOG_VISIT_CALLBACK, log_visit_modal, settle
from knowledge.profile import Person
from scheduler import ledger
from scheduler.clock import Clock, zone_of

log = logging.getLogger(__name__)
BUTTONS = re.compile(r"^nudge_(done|snooze_1d|snooze_1w|reschedule):(\d+)$")
LOG_VISIT = re.compile(r"^nudge_log_visit:(\d+)$")
# Done on these logs the contact itself: a visit key date was a visit; an overdue account was contacted
DONE_LOGS = {"visit": "visit", "overdue_contact": "call"}


def register(app: App, kb: Any, clock: Clock | None = None) -> None:
    store, settings = kb.store, kb.settings
    bot_ctx = getattr(app, "kam_context", None)

    def who(user_id: str) -> Person | None:
        if bot_ctx is not None:
            return bot_ctx.people.person(user_id)
        return store.person(user_id)

    def today_for(person: Person | None) -> dt.date:
        pinned = bot_ctx.today() if bot_ctx is not None else None
        if pinned:
            return pinned
        now = clock.now() if clock else dt.datetime.now(dt.UTC)
        return now.astimezone(zone_of(person, settings)).date()

    def mine(ledger_id: int, user_id: str) -> tuple[ledger.DeliveryRow | None, Person | None]:
        row = ledger.delivery(store, ledger_id)
        person = who(user_id)
        if row is None or person is None or row.recipient not in (person.email, person.slack_id):
            return None, person
        return row, person

    def deny(client: Any, body: dict[str, Any], user_id: str) -> None:
        channel = (body.get("channel") or {}).get("id")
        if channel:
            client.chat_postEphemeral(channel=channel, user=user_id, text="This nudge is not yours to change.")

    def update_message(client: Any, channel: str | None, ts: str | None, blocks: list[dict[str, Any]] | None,
                       text: str, ledger_id: int, note: str) -> None:
        if not channel or not ts:
            return
        if blocks is None:  # from a modal: fetch the message to edit
            found = client.conversations_history(channel=channel, latest=ts, inclusive=True, limit=1)
            msgs = found.get("messages") or []
            if not msgs:
                return
            blocks, text = msgs[0].get("blocks") or [], msgs[0].get("text") or text
        client.chat_update(channel=channel, ts=ts, text=text or "nudges", blocks=settle(blocks, ledger_id, note))

    def log_contact(row: ledger.DeliveryRow, person: Person, kind: str, on: dt.date, summary: str) -> None:
        store.add_interaction(row.payload["account_id"], kind, on, person.email, summary)

    @app.action(BUTTONS)
    def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        verb, ledger_id = BUTTONS.match(action["action_id"]).groups()  # type: ignore[union-attr]
        user_id = body["user"]["id"]
        row, person = mine(int(ledger_id), user_id)
        if row is None or person is None:
            deny(client, body, user_id)
            return
        today = today_for(person)
        p = row.payload
        if verb == "done":
            logs = DONE_LOGS.get(p["kind"])
            if logs:
                log_contact(row, person, logs, today, f"{p['title']} (from a kam-bot nudge)")
            ledger.set_state(store, p, "done", None, person.email)
            note = f":white_check_mark: Done ({today:%d %b})" + (f", {logs} logged" if logs else "")
        else:
            if verb == "reschedule":
                picked = action.get("selected_date")
                until = dt.date.fromisoformat(picked) if picked else None
                if until is None or until <= today:
                    channel = (body.get("channel") or {}).get("id")
                    if channel:
                        client.chat_postEphemeral(channel=channel, user=user_id,
                                                  text="Pick a day after today to be reminded again.")
                    return
            else:
                until = today + dt.timedelta(days=1 if verb == "snooze_1d" else 7)
            ledger.set_state(store, p, "snoozed", until, person.email)
            note = f":zzz: Back on {until:%a %d %b}"
        message = body.get("message") or {}
        update_message(client, (body.get("channel") or {}).get("id"), message.get("ts"), message.get("blocks"),
                       message.get("text", ""), int(ledger_id), note)

    @app.action(LOG_VISIT)
    def on_log_visit(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        ledger_id = int(LOG_VISIT.match(action["action_id"]).group(1))  # type: ignore[union-attr]
        user_id = body["user"]["id"]
        row, person = mine(ledger_id, user_id)
        if row is None or person is None:
            deny(client, body, user_id)
            return
        view = log_visit_modal(ledger_id, row.payload["account"], today_for(person))
        view["private_metadata"] = json.dumps({"id": ledger_id, "channel": (body.get("channel") or {}).get("id"),
                                               "ts": (body.get("message") or {}).get("ts")})
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(LOG_VISIT_CALLBACK)
    def on_visit_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        user_id = body["user"]["id"]
        row, person = mine(int(meta.get("id", 0)), user_id)
        if row is None or person is None:
            ack(response_action="errors", errors={"visit_summary": "This nudge is not yours to change."})
            return
        values = view["state"]["values"]
        picked = (values.get("visit_date", {}).get("date") or {}).get("selected_date")
        summary = ((values.get("visit_summary", {}).get("summary") or {}).get("value") or "").strip()
        today = today_for(person)
        on = dt.date.fromisoformat(picked) if picked else today
        if on > today:
            ack(response_action="errors", errors={"visit_date": "A visit to log cannot be in the future."})
            return
        if not summary:
            ack(response_action="errors", errors={"visit_summary": "Say in a few words what happened."})
            return
        ack()
        log_contact(row, person, "visit", on, summary)
        ledger.set_state(store, row.payload, "done", None, person.email)
        update_message(client, meta.get("channel"), meta.get("ts"), None, "", row.id,
                       f":white_check_mark: Visit on {on:%d %b} logged")
