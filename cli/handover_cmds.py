"""`kam handover --from EMAIL --to EMAIL [--accounts A,B] [--as MANAGER] [--json]` (docs/handover.md)."""

from __future__ import annotations

import datetime as dt
import os

import typer

from cli import demo_cmd
from cli.context import console, ctx, fail, notifier, print_json


def handover(from_email: str = typer.Option(..., "--from", help="the rep handing over (email in people.yaml)"),
             to_email: str = typer.Option(..., "--to", help="the new owner (email in people.yaml)"),
             accounts: str | None = typer.Option(None, "--accounts",
                                                 help="only these accounts, comma separated (default: all they hold)"),
             as_email: str | None = typer.Option(None, "--as", help="the manager of both reps, or an admin, making "
                                                 "the handover (default: $KAM_ACTOR)"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Hand a rep's accounts to another rep: owner, team seat, open nudges, snoozes and cases; briefs by DM."""
    from bot.handover_notify import send_handover
    from skills.handover import HandoverError
    from skills.handover import handover as do_handover

    store, settings = ctx().store, ctx().settings
    by = as_email or os.environ.get("KAM_ACTOR")
    if not by:
        fail("--as is required: the email of the manager of both reps, or of an admin (or set KAM_ACTOR)")
    names = [a for a in (accounts or "").split(",") if a.strip()] if accounts is not None else None
    if accounts is not None and not names:
        fail("--accounts is empty: name at least one account, or leave the option out for all")
    try:
        result = do_handover(store, settings, from_email, to_email, names, by, today=dt.date.today(),
                             resolve=_resolver())
    except HandoverError as exc:
        fail(str(exc))
    _sync_index(result.accounts)
    account_names = {s.id: s.name for s in store.summaries(result.accounts)}
    sender = notifier()
    if as_json and hasattr(sender, "echo"):
        sender.echo = False  # stdout carries the JSON only
    delivery = send_handover(sender, result, account_names, summary=False,
                             full_text=not settings.slack_bot_token)
    if as_json:
        print_json({**result.to_json(), "delivery": delivery.to_json()})
        return
    n = len(result.owner_changed)
    console.print(f"handed over {n} account{'s' * (n != 1)} from {result.from_email} to {result.to_email}"
                  + (f" (team seat on {len(result.team_changed)} more)" if result.team_changed else ""),
                  highlight=False)
    for aid in result.accounts:
        console.print(f"  {account_names.get(aid, aid)}", highlight=False)
    console.print(f"moved {result.nudges_moved} open nudges and {result.snoozes_moved} snoozes"
                  + (f", {result.cases_moved} open cases" if result.cases_moved is not None else
                     "; cases: not installed"), highlight=False)
    console.print(f"briefs sent to {result.to_email}: {len(delivery.sent)}", highlight=False)
    for f in delivery.failed:
        console.print(f"[yellow]not delivered:[/] {f}", highlight=False, soft_wrap=True)


def _resolver():  # noqa: ANN202 - a name -> id function
    """Accounts found as `kam show` finds them (names, aliases, Chinese and short names), None when unknown."""
    from skills.ask.resolve import find_account

    store = ctx().store

    def resolve(name: str) -> str | None:
        return find_account(store, name).account_id

    return resolve


def _sync_index(account_ids: list[str]) -> None:
    """The owner shows in search results: re-index the accounts, unless another process (the bot, a demo) owns
    the index; the next sync there picks up the changed revisions (only accounts whose revision moved)."""
    index = ctx().index
    if not index.read_only:
        index.sync(ctx().store, accounts=account_ids)


@demo_cmd.command("handover", "handover FROM TO [ACCOUNT, ...]: hand a rep's accounts to another (managers, admins)")
def _demo_handover(state: dict, arg: str) -> None:
    from bot.handover_notify import send_handover
    from bot.notifier import ConsoleNotifier
    from skills.handover import HandoverError
    from skills.handover import handover as do_handover

    parts = arg.split(maxsplit=2)
    if len(parts) < 2:
        console.print("usage: handover FROM TO [ACCOUNT, ...]  (emails; accounts comma separated, default all)")
        return
    accounts = [a for a in parts[2].split(",") if a.strip()] if len(parts) > 2 else None
    store = ctx().store
    try:
        result = do_handover(store, ctx().settings, parts[0], parts[1], accounts, state["user"], resolve=_resolver())
    except HandoverError as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        return
    _sync_index(result.accounts)
    names = {s.id: s.name for s in store.summaries(result.accounts)}
    send_handover(ConsoleNotifier(), result, names, full_text=True)  # what the new owner and you would get


def register(app: typer.Typer) -> None:
    app.command()(handover)
