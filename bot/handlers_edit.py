"""Editing in Slack: `/kam edit`, the Edit / Fill in buttons, the edit modal's submission (errors shown on the field,
nothing stored until every value is valid) and the "Save to account" message shortcut.

Who may edit and how a form maps to profile fields is skills/edit.py; the modals are bot/render_edit.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App

from bot.render_edit import (
    EDIT_ACTION,
    EDIT_VIEW,
    FIELD_BLOCK,
    NOTE_ACCOUNT,
    NOTE_DIM,
    NOTE_TEXT,
    NOTE_VIEW,
    SAVE_SHORTCUT,
    edit_menu_blocks,
    edit_menu_modal,
    edit_modal,
    error_blocks,
    message_modal,
    save_note_modal,
    saved_edit_blocks,
    submitted_values,
)
from bot.render_views import HOME_EDIT_SELECT
from bot.runtime import UNKNOWN_USER, BotContext
from knowledge.limits import MAX_TEXT_CHARS
from knowledge.profile import DIMENSIONS, Person
from skills import edit

log = logging.getLogger("kam.bot")
Respond = Callable[..., Any]
NOT_ALLOWED = ("Only the account's owner and team, their managers and admins can edit {account}.")
EDIT_USAGE = ("Usage: `/kam edit <account> [what]`, what being a dimension (background, finance, organisation, "
              "competitors, suppliers, downstream), `contacts`, `metrics` or `dates`.")


def _json(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


_ENTITY = re.compile(r"<([@#!])?([^>|]*)(?:\|([^>]*))?>")


def message_text(ctx: BotContext, text: str) -> str:
    """A Slack message's text as a note reads it: `<@U123>` as the person's name, `<#C1|sales>` as #sales, links as
    their label and address, `&amp;` `&lt;` `&gt;` unescaped."""
    def entity(m: re.Match[str]) -> str:
        sigil, ref, label = m.groups()
        if sigil == "@":
            person = ctx.store.person(ref)
            return "@" + (label or (person.name if person and person.name else None) or ref)
        if sigil == "#":
            return "#" + (label or ref)
        if sigil == "!":
            return "@" + (label or ref.split("^")[0])
        return f"{label} ({ref})" if label and label != ref else ref

    return _ENTITY.sub(entity, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def split_edit_args(rest: str) -> tuple[str, str | None, str | None]:
    """`Hanshan finance` -> ("Hanshan", "finance", None); `Hanshan contact Zhang Min` -> (.., "contacts", "Zhang
    Min"); `Hanshan` -> ("Hanshan", None, None). The first word after the account naming a form splits them."""
    from bot.handlers_commands import DIMENSION_ALIASES

    words = rest.split()
    for i in range(1, len(words)):
        target = edit.target_for_word(words[i], DIMENSION_ALIASES)
        if target:
            return " ".join(words[:i]), target, " ".join(words[i + 1:]) or None
    return rest.strip(), None, None


def open_edit(ctx: BotContext, person: Person, trigger_id: str, account_id: str, target: str,
              preset: dict[str, str] | None = None, push: bool = False, from_home: bool = False) -> dict[str, Any]:
    """Open the edit modal of `target` (or a modal saying why not); returns the view sent. `push`: from inside a
    modal (the account modal), where Slack wants views.push on top of it."""
    profile = ctx.store.load_profile(account_id)
    if profile is None:
        view = message_modal("Edit profile", "That account is no longer on file.")
    elif not edit.may_edit(ctx.store, person, account_id):
        view = message_modal("Edit profile", NOT_ALLOWED.format(account=profile.account))
    else:
        try:
            view = edit_modal(edit.form(profile, account_id, target, ctx.settings.kam_required_fields), preset,
                              from_home)
        except (KeyError, ValueError):
            view = message_modal("Edit profile", f"That is no longer on file in {profile.account}.")
    if push:
        ctx.client.views_push(trigger_id=trigger_id, view=view)
    else:
        ctx.client.views_open(trigger_id=trigger_id, view=view)
    return view


def command_edit(ctx: BotContext, person: Person, rest: str, trigger_id: str, respond: Respond) -> None:
    """`/kam edit <account> [what]`: the modal of that form, or a menu of the account's forms."""
    from bot.handlers_commands import visible_profile

    name, target, item = split_edit_args(rest)
    if not name:
        respond(text=EDIT_USAGE, response_type="ephemeral")
        return
    found = visible_profile(ctx, person, name, respond)
    if found is None:
        return
    account_id, profile = found
    if not edit.may_edit(ctx.store, person, account_id):
        respond(text=NOT_ALLOWED.format(account=profile.account), response_type="ephemeral")
        return
    preset = None
    if target == "contacts" and item:  # `contact Zhang Min`: that contact, else a new one of that name
        match = [c.name for c in profile.contacts if c.name.casefold() == item.casefold()]
        if match:
            target = f"contacts[{match[0]}]"
        else:
            preset = {"name": item}
    if target is None:
        respond(text=f"Edit {profile.account}", response_type="ephemeral",
                blocks=edit_menu_blocks(profile.account, account_id, edit.targets(profile)))
        return
    open_edit(ctx, person, trigger_id, account_id, target, preset)


def register(app: App, ctx: BotContext) -> None:
    @app.action(re.compile(rf"^{EDIT_ACTION}"))
    def on_edit_button(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        data = _json(action.get("value"))
        person = ctx.people.person(body["user"]["id"])
        if person is None:
            ctx.client.views_open(trigger_id=body["trigger_id"], view=message_modal("Edit profile", UNKNOWN_USER))
            return
        account_id, target = str(data.get("a") or ""), str(data.get("t") or "")
        preset = {str(k): v for k, v in data["p"].items() if isinstance(v, str)} \
            if isinstance(data.get("p"), dict) else None
        surface = (body.get("view") or {}).get("type") if (body.get("container") or {}).get("type") == "view" else None
        from_home = surface == "home" or (surface == "modal" and bool(_json(body["view"].get("private_metadata"))
                                                                       .get("h")))
        open_edit(ctx, person, body["trigger_id"], account_id, target, preset, push=surface == "modal",
                  from_home=from_home)

    @app.action(HOME_EDIT_SELECT)
    def on_home_edit(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]) -> None:
        """The Home tab's "Edit an account": the menu of that account's forms, in a modal."""
        ack()
        option = action.get("selected_option")
        account_id = str(option.get("value") or "") if isinstance(option, dict) else ""
        person = ctx.people.person(body["user"]["id"])
        profile = ctx.store.load_profile(account_id) if account_id else None
        if person is None or profile is None or not edit.may_edit(ctx.store, person, account_id):
            text = UNKNOWN_USER if person is None else (
                "That account is no longer on file." if profile is None else NOT_ALLOWED.format(
                    account=profile.account))
            ctx.client.views_open(trigger_id=body["trigger_id"], view=message_modal("Edit profile", text))
            return
        ctx.client.views_open(trigger_id=body["trigger_id"],
                              view=edit_menu_modal(profile.account, account_id, edit.targets(profile)))

    @app.view(EDIT_VIEW)
    def on_edit_submit(ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _json(view.get("private_metadata"))
        account_id, target = str(meta.get("a") or ""), str(meta.get("t") or "")
        values = submitted_values(view)
        blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
        first = next((b["block_id"] for b in blocks if isinstance(b, dict) and b.get("type") == "input"
                      and str(b.get("block_id", "")).startswith(FIELD_BLOCK)), f"{FIELD_BLOCK}name")
        person = ctx.people.person(body["user"]["id"])
        profile = ctx.store.load_profile(account_id) if account_id else None
        if person is None or profile is None:
            ack(response_action="errors", errors={first: UNKNOWN_USER if person is None else
                                                  "That account is no longer on file."})
            return
        if not edit.may_edit(ctx.store, person, account_id):
            ack(response_action="errors", errors={first: NOT_ALLOWED.format(account=profile.account)})
            return
        try:
            form = edit.form(profile, account_id, target, ctx.settings.kam_required_fields)
        except (KeyError, ValueError):
            ack(response_action="errors", errors={first: f"That is no longer on file in {profile.account}."})
            return
        shown = meta.get("s") if isinstance(meta.get("s"), dict) else None
        try:
            changes = edit.apply(ctx.store, form, values, actor=person.email, shown=shown,
                                 today=ctx.day())
        except edit.EditError as exc:
            ack(response_action="errors", errors=error_blocks(exc.errors, form))
            return
        except Exception:
            log.exception("saving an edit of %s failed", account_id)
            ack(response_action="errors", errors={first: "Sorry, that could not be saved. Please try again."})
            return
        changed = sorted({c.path for c in changes})
        ack(response_action="update", view=message_modal("Saved", "\n".join(
            b["text"]["text"] for b in saved_edit_blocks(profile.account, form.title, changed)
            if b["type"] == "section") or f"Nothing changed in {profile.account}."))
        user_id = body["user"]["id"]

        def after_save(_attempt: int = 1) -> None:  # ctx.later passes the attempt number
            if changes:
                with ctx.index_lock:
                    ctx.kb.index.sync(ctx.store, accounts=[account_id])
            if meta.get("h"):  # the Home tab it came from shows the new completeness and gaps
                from bot.handlers_home import publish_home

                publish_home(ctx, user_id)
        ctx.later(after_save)

    @app.shortcut(SAVE_SHORTCUT)
    def on_save_shortcut(ack: Callable[..., None], body: dict[str, Any]) -> None:
        """"Save to account" on any message: a modal with the account guessed (text, then channel name) and the
        dimension proposed (skills/notes.py), both to confirm."""
        ack()
        person = ctx.people.person(body["user"]["id"])
        if person is None:
            ctx.client.views_open(trigger_id=body["trigger_id"], view=message_modal("Save to account", UNKNOWN_USER))
            return
        message = body.get("message") or {}
        text = message_text(ctx, str(message.get("text") or ""))
        visible = ctx.store.visible_account_ids(person)
        summaries = sorted(ctx.store.summaries(visible), key=lambda a: a.name.casefold())
        if not summaries or not text:
            why = "You have no accounts to save notes to." if not summaries else "That message has no text to save."
            ctx.client.views_open(trigger_id=body["trigger_id"], view=message_modal("Save to account", why))
            return
        guess = edit.guess_account([(a.id, a.name, a.aliases) for a in summaries], text,
                                   (body.get("channel") or {}).get("name"))
        choices = [(a.id, a.name) for a in summaries]
        if guess:  # the guess first, so it is among the 100 options a select can hold
            choices.sort(key=lambda c: c[0] != guess)
        dimension = ctx.classifier.classify(text).dimension
        meta = {"c": (body.get("channel") or {}).get("id"), "ts": message.get("ts") or body.get("message_ts"),
                "tz": person.timezone or ctx.settings.kam_timezone}
        ctx.client.views_open(trigger_id=body["trigger_id"],
                              view=save_note_modal(text[:MAX_TEXT_CHARS], choices, guess, dimension, meta))

    @app.view(NOTE_VIEW)
    def on_save_note(ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values")
        values = values if isinstance(values, dict) else {}

        def picked(block: str) -> str | None:
            actions = values.get(block)
            v = next(iter(actions.values()), None) if isinstance(actions, dict) else None
            if not isinstance(v, dict):
                return None
            option = v.get("selected_option")
            found = v.get("value") if "value" in v else (option.get("value") if isinstance(option, dict) else None)
            return found if isinstance(found, str) else None

        account_id, dimension, text = picked(NOTE_ACCOUNT), picked(NOTE_DIM), (picked(NOTE_TEXT) or "").strip()
        person = ctx.people.person(body["user"]["id"])
        if person is None:
            ack(response_action="errors", errors={NOTE_ACCOUNT: UNKNOWN_USER})
            return
        profile = ctx.store.load_profile(account_id) if account_id else None
        errors: dict[str, str] = {}
        if profile is None:
            errors[NOTE_ACCOUNT] = "Choose an account."
        elif not edit.may_edit(ctx.store, person, account_id or ""):
            errors[NOTE_ACCOUNT] = NOT_ALLOWED.format(account=profile.account)
        if dimension not in DIMENSIONS:
            errors[NOTE_DIM] = "Choose a dimension."
        if not text:
            errors[NOTE_TEXT] = "The note is empty."
        elif len(text) > MAX_TEXT_CHARS:
            errors[NOTE_TEXT] = f"At most {MAX_TEXT_CHARS} characters."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        assert profile is not None and account_id and dimension
        meta = _json(view.get("private_metadata"))
        try:  # the note is dated the day the message was written, in the saver's time zone
            on = dt.datetime.fromtimestamp(float(meta.get("ts")), ZoneInfo(str(meta.get("tz") or "UTC"))).date()
        except (TypeError, ValueError, OverflowError, KeyError):
            on = ctx.day()
        try:
            ctx.store.add_note(account_id, dimension, text, by=person.email, on=on, source="slack")
        except Exception:
            log.exception("saving a note to %s failed", account_id)
            ack(response_action="errors", errors={NOTE_TEXT: "Sorry, the note could not be saved. Please try again."})
            return
        ack(response_action="update", view=message_modal("Saved", f"✅ Saved to *{profile.account}* · "
                                                         f"{dimension.capitalize()} ({on.isoformat()})."))

        def reindex(_attempt: int = 1) -> None:
            with ctx.index_lock:
                ctx.kb.index.sync(ctx.store, accounts=[account_id])
        ctx.later(reindex)
