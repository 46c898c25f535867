"""`/kam` and its subcommands (ask, account, dates, tiers, note, edit, kpis, help), and the note confirmation
buttons."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from rapidfuzz import fuzz, process
from slack_bolt import App

from bot.render_answer import context, render_answer
from bot.render_views import (
    NOTE_BLOCK,
    NOTE_CANCEL,
    NOTE_DIMENSION,
    NOTE_SAVE,
    account_blocks,
    dates_blocks,
    help_blocks,
    note_confirm_blocks,
    saved_note_blocks,
    tiers_blocks,
)
from bot.runtime import PLACEHOLDER, UNKNOWN_USER, BotContext
from knowledge.profile import DIMENSIONS, AccountProfile, Person
from knowledge.quality import quality
from skills.portfolio import current_tier_map, my_portfolio, upcoming_dates

log = logging.getLogger("kam.bot")

SUBCOMMANDS = ("ask", "account", "dates", "tiers", "kpis", "note", "edit", "case", "handover", "help")
DIMENSION_ALIASES = {"org": "organisation", "organization": "organisation", "competition": "competitors",
                     "supplier": "suppliers", "customers": "downstream", "finances": "finance",
                     "financials": "finance", "competitor": "competitors"}
_SHARE = re.compile(r"^\s*(share|public)\b\s*|\s--(share|public)\b", re.I)
Respond = Callable[..., Any]


def parse_command(text: str) -> tuple[str, str, bool]:
    """(subcommand, rest, share). Text that does not start with a subcommand is a question."""
    share = bool(_SHARE.search(text or ""))
    text = _SHARE.sub(" ", text or "").strip()
    if not text:
        return "help", "", share
    first, _, rest = text.partition(" ")
    if first.lower() in SUBCOMMANDS:
        return first.lower(), rest.strip(), share
    return "ask", text, share


def resolve_account(ctx: BotContext, person: Person, name: str) -> str | None:
    """An account the person may see, by id/name/alias, else the closest visible name (fuzzy, score >= 80)."""
    visible = ctx.store.visible_account_ids(person)
    found = ctx.store.find_account(name.strip())
    if found and (visible is None or found in visible):
        return found
    choices: dict[str, str] = {}
    for s in ctx.store.summaries(visible):
        for label in (s.name, *s.aliases):
            choices[f"{label}\x00{s.id}"] = label
    best = process.extractOne(name, choices, scorer=fuzz.WRatio, score_cutoff=80)
    return best[2].split("\x00")[1] if best else None


def visible_profile(ctx: BotContext, person: Person, name: str,
                    respond: Respond) -> tuple[str, AccountProfile] | None:
    """The account `name` names among those the person may see, with its profile; else says so and gives None."""
    account_id = resolve_account(ctx, person, name)
    if account_id is None:
        respond(text=f"I couldn't find an account called “{name}” among the accounts you can see.",
                response_type="ephemeral")
        return None
    profile = ctx.store.load_profile(account_id)
    assert profile is not None
    return account_id, profile


def split_dimension(rest: str) -> tuple[str, str | None]:
    words = rest.split()
    if len(words) > 1:
        last = words[-1].lower()
        dim = last if last in DIMENSIONS else DIMENSION_ALIASES.get(last)
        if dim:
            return " ".join(words[:-1]), dim
    return rest, None


def register(app: App, ctx: BotContext) -> None:
    @app.command("/kam")
    def on_kam(ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        sub, rest, share = parse_command(body.get("text", ""))
        kind = "in_channel" if share else "ephemeral"
        if sub == "help":
            ack(response_type="ephemeral", text="kam-bot help", blocks=help_blocks())
            ctx.command_done(body)  # the ack is the answer
            return
        user_id, channel = body["user_id"], body.get("channel_id")
        if sub == "ask" and not share:
            ack(response_type="ephemeral", text=PLACEHOLDER)
        else:
            ack()

        def run() -> None:  # after the ack, in the answer pool: identity lookups and answers may be slow
            try:
                person = ctx.people.person(user_id)
                if person is None:
                    respond(text=UNKNOWN_USER, response_type="ephemeral", replace_original=True)
                    return
                if sub == "ask":
                    _ask(ctx, person, user_id, channel, rest, kind, respond)
                elif sub == "account":
                    _account(ctx, person, rest, kind, respond)
                elif sub == "dates":
                    _dates(ctx, person, rest, kind, respond)
                elif sub == "tiers":
                    blocks = tiers_blocks(my_portfolio(ctx.store, ctx.settings, person, ctx.day()))
                    respond(text="Your accounts by tier", blocks=blocks, response_type=kind)
                elif sub == "note":
                    _note(ctx, person, user_id, rest, respond)
                elif sub == "kpis":
                    from bot.kpi_slack import command_kpis

                    command_kpis(ctx, person, rest, kind, respond)
                elif sub == "edit":
                    from bot.handlers_edit import command_edit

                    command_edit(ctx, person, rest, body.get("trigger_id") or "", respond)
                elif sub == "case":
                    from bot.handlers_cases import command_case

                    command_case(ctx, person, rest, channel, respond)
                elif sub == "handover":
                    from bot.handlers_handover import command_handover

                    command_handover(ctx, person, rest, body.get("trigger_id") or "", respond)
            except Exception:
                log.exception("/kam %s failed", sub)
                respond(text="Sorry, that did not work. Please try again in a moment.", response_type="ephemeral")

        def answer(_attempt: int) -> None:
            run()
            ctx.command_done(body)  # its journal row (bot/inbox.py): a crash before this answers it again

        ctx.later(answer, body=body)

    @app.action(NOTE_DIMENSION)
    def on_note_dimension(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        note_id = str(action.get("block_id", "")).partition(":")[2]
        dim = (action.get("selected_option") or {}).get("value")
        pending = ctx.state.pending_note(note_id)
        if pending and dim in DIMENSIONS and pending.user == body["user"]["id"]:
            ctx.state.set_note_dimension(note_id, dim)

    @app.action(NOTE_SAVE)
    def on_note_save(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any],
                     respond: Respond) -> None:
        ack()
        note_id = action.get("value") or ""
        pending = ctx.state.pending_note(note_id)
        if pending is None or pending.user != body["user"]["id"]:
            respond(text="Only the person who wrote this note can save it.", response_type="ephemeral",
                    replace_original=False)
            return
        if pending.state != "pending":
            respond(text=f"This note was already {pending.state}.", replace_original=False)
            return
        person = ctx.store.person(pending.email)
        visible = ctx.store.visible_account_ids(person) if person else set()
        if person is None or (visible is not None and pending.account_id not in visible):
            ctx.state.close_note(note_id, "cancelled")
            respond(text="You can no longer add notes to that account.", replace_original=True)
            return
        dim = _selected_dimension(body, note_id) or pending.dimension
        if not ctx.state.close_note(note_id, "saved"):  # a double click: the first one saves
            return
        day = ctx.day()
        try:
            saved_id = ctx.store.add_note(pending.account_id, dim, pending.text, by=pending.email, on=day,
                                          source="slack")
        except Exception:
            log.exception("saving note %s failed", note_id)
            ctx.state.reopen_note(note_id)
            respond(text="Sorry, the note could not be saved. Please try again.", replace_original=False)
            return
        ctx.state.set_saved_note(note_id, saved_id, dim)
        with ctx.index_lock:
            ctx.kb.index.sync(ctx.store, accounts=[pending.account_id])
        account = ctx.store.summaries([pending.account_id])[0].name
        respond(text=f"Saved to {account}", blocks=saved_note_blocks(account, dim, pending.text, day),
                replace_original=True)

    @app.action(NOTE_CANCEL)
    def on_note_cancel(ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any],
                       respond: Respond) -> None:
        ack()
        pending = ctx.state.pending_note(action.get("value") or "")
        if pending and pending.user == body["user"]["id"] and ctx.state.close_note(pending.id, "cancelled"):
            respond(text="Note discarded.", blocks=[context("Note discarded; nothing was saved.")],
                    replace_original=True)


def _selected_dimension(body: dict[str, Any], note_id: str) -> str | None:
    values = ((body.get("state") or {}).get("values") or {}).get(f"{NOTE_BLOCK}:{note_id}") or {}
    dim = ((values.get(NOTE_DIMENSION) or {}).get("selected_option") or {}).get("value")
    return dim if dim in DIMENSIONS else None


def _ask(ctx: BotContext, person: Person, user_id: str, channel: str | None, question: str, kind: str,
         respond: Respond) -> None:
    if not question:
        respond(text="Usage: `/kam ask <question>`", response_type="ephemeral", replace_original=True)
        return
    answer, seconds = ctx.ask(question, person, f"{channel}:{user_id}:command")
    answer_id = ctx.state.record_answer(
        user=user_id, email=person.email, channel=channel, thread_ts=None, surface="command", question=question,
        answer=answer.answer, status=answer.status, path=answer.path,
        sources=[s.model_dump(mode="json") for s in answer.sources], seconds=round(seconds, 4))
    messages = render_answer(answer, answer_id, stale_days=ctx.settings.kam_stale_days, owner_label=ctx.owner_label,
                             edits=ctx.answer_edits(answer))
    for i, message in enumerate(messages):
        respond(text=message["text"], blocks=message["blocks"], response_type=kind,
                replace_original=(i == 0 and kind == "ephemeral"))


def _account(ctx: BotContext, person: Person, rest: str, kind: str, respond: Respond) -> None:
    name, dim = split_dimension(rest)
    if not name:
        respond(text="Usage: `/kam account <name> [dimension]`", response_type="ephemeral")
        return
    found = visible_profile(ctx, person, name, respond)
    if found is None:
        return
    account_id, profile = found
    q = quality(profile, ctx.settings.kam_required_fields, ctx.day(), ctx.settings.kam_stale_days)
    tier = current_tier_map(ctx.store, ctx.day()).get(account_id)
    blocks = account_blocks(profile, q, tier, ctx.owner_label, dimension=dim, account_id=account_id)
    respond(text=f"{profile.account}" + (f": {dim}" if dim else ""), blocks=blocks, response_type=kind)


def _dates(ctx: BotContext, person: Person, rest: str, kind: str, respond: Respond) -> None:
    try:
        days = int(rest.split()[0]) if rest.split() else 30
    except ValueError:
        respond(text="Usage: `/kam dates [days]`, e.g. `/kam dates 60`", response_type="ephemeral")
        return
    days = min(max(days, 1), 366)
    upcoming = upcoming_dates(ctx.store, ctx.store.visible_account_ids(person), ctx.day(), days)
    respond(text=f"Key dates in the next {days} days", blocks=dates_blocks(upcoming, days, ctx.owner_label),
            response_type=kind)


def _note(ctx: BotContext, person: Person, user_id: str, rest: str, respond: Respond) -> None:
    m = re.match(r"\s*(.+?)\s*[:：]\s*(\S.*)", rest, re.S)
    if not m:
        respond(text="Usage: `/kam note <account>: <what you learned>`", response_type="ephemeral")
        return
    name, text = m.groups()
    account_id = resolve_account(ctx, person, name)
    if account_id is None:
        respond(text=f"I couldn't find an account called “{name.strip()}” among the accounts you can see.",
                response_type="ephemeral")
        return
    text = text.strip()
    guess = ctx.classifier.classify(text)
    note_id = ctx.state.add_pending_note(user=user_id, email=person.email, account_id=account_id,
                                         dimension=guess.dimension, text=text, confidence=guess.confidence)
    account = ctx.store.summaries([account_id])[0].name
    blocks = note_confirm_blocks(note_id, account, text, guess.dimension, guess.matched)
    respond(text=f"Save this note to {account}?", blocks=blocks + [context(
        "Nothing is saved until you press *Save note*.")], response_type="ephemeral")
