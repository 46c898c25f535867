"""`kam tiers ...`: list, explain, review, what-if and override account tiers (see docs/tiering.md)."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from cli import demo_cmd
from cli.context import console, ctx, err_console, fail, notifier, print_json

if TYPE_CHECKING:
    from skills.tiering.changes import TierChange
    from skills.tiering.config import TieringConfig
    from skills.tiering.history import Explanation

tiers_app = typer.Typer(help="Account tiers: key, strategic, maintenance, opportunity.", no_args_is_help=False)

TIER_STYLE = {"key": "bold green", "strategic": "cyan", "maintenance": "yellow", "opportunity": "dim"}


def _config(path: Path | None = None) -> TieringConfig:
    from skills.tiering.config import TieringConfigError, config_path, load_config

    try:
        return load_config(path or config_path(ctx().settings))
    except TieringConfigError as exc:
        fail(str(exc))


def _resolve(name: str) -> str:
    from cli.knowledge_cmds import resolve_account as resolve

    return resolve(name)


def _tier(t: str | None) -> str:
    return f"[{TIER_STYLE.get(t or '', '')}]{t}[/]" if t else "-"


def _score(v: float | None) -> str:
    return f"{v:.2f}" if v is not None else "?"


@tiers_app.callback(invoke_without_command=True)
def tiers(typer_ctx: typer.Context,
          tier: str | None = typer.Option(None, "--tier", help="only accounts in this tier"),
          as_json: bool = typer.Option(False, "--json", help="print the list as JSON"),
          chart: Path | None = typer.Option(None, "--chart", help="also draw the tier matrix (importance x "
                                            "strength, movers as arrows) to this PNG file")) -> None:
    """List every account's tier, both axis scores and the tier before its last change."""
    from skills.tiering.history import listing

    if typer_ctx.invoked_subcommand:
        return
    if chart is not None:
        _tier_chart(chart)
    rows = [r for r in listing(ctx().store) if not tier or r.tier == tier]
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not any(r.scored_tier for r in rows):
        err_console.print("no tier review yet: run [bold]kam tiers review[/]")
    table = Table("account", "tier", "importance", "strength", "previous", "owner")
    for r in rows:
        tier_text = _tier(r.tier) + (" (override)" if r.override else "")
        table.add_row(r.account, tier_text, _score(r.importance), _score(r.strength), _tier(r.previous_tier), r.owner)
    console.print(table)
    console.print(f"{len(rows)} accounts")


def _tier_chart(chart: Path) -> None:
    """The tier matrix as a PNG (skills/charts.py); said on stderr so --json output stays clean."""
    from cli.kpis_cmds import chart_path, write_png
    from skills.charts import render_tier_matrix, tier_matrix_data

    target = chart_path(chart)
    data = tier_matrix_data(ctx().store, _config())
    write_png(target, render_tier_matrix(data))
    err_console.print(f"tier matrix of {len(data.points)} accounts written to {target}", highlight=False)


@tiers_app.command("explain")
def explain_cmd(account: str = typer.Argument(..., help="account name, alias or id"),
                config: Path | None = typer.Option(None, "--config", help="explain under another tiering config"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Why an account is in its tier: each factor's raw and normalised value, weight, contribution; boundaries."""
    from cli.knowledge_cmds import _clv
    from skills.tiering.history import explain

    account_id = _resolve(account)
    result = explain(ctx().store, _config(config), account_id)
    clv = _clv(account_id)  # the value over the relationship, beside the tier (docs/clv.md)
    if as_json:
        print_json({**result.to_json(), "clv": clv.to_json()})
        return
    print_explanation(result)
    console.print(f"\n[bold cyan]lifetime value[/] {clv.summary()}", highlight=False)


def print_explanation(e: Explanation) -> None:
    console.print(f"[bold]{e.account}[/]  tier {_tier(e.tier)}  (scored {_tier(e.scored_tier)}, "
                  f"a review now: {_tier(e.next_tier)}, previous {_tier(e.previous_tier)})  owner {e.owner}",
                  highlight=False)
    for axis in e.axes:
        console.print(f"\n[bold cyan]{axis.axis}[/] {_score(axis.score)} "
                      f"({'high' if axis.high else 'low'}; {axis.coverage:.0%} of the weight known) - {axis.note}",
                      highlight=False)
        table = Table("factor", "raw", "normalised", "weight", "effective", "contribution", "normalisation",
                      box=None, pad_edge=False)
        for f in (f for f in e.factors if f.axis == axis.axis):
            table.add_row(f.label, f.value if f.known else "[yellow]unknown[/]", _score(f.normalised),
                          f"{f.weight_share:.0%}", f"{f.effective_weight:.0%}" if f.effective_weight else "-",
                          f"{f.contribution:.3f}" if f.contribution is not None else "-",
                          f.normalisation + (f" [{f.source}]" if f.source.startswith("derived") else ""))
        console.print(table)
    for note in e.notes:
        console.print(f"[yellow]note[/] {note}", highlight=False)
    if e.history:
        console.print("\n[bold cyan]history[/] (newest first)")
        for h in e.history[:6]:
            console.print(f"  {h['at']:%Y-%m-%d %H:%M} {h['kind']}: {h['old_tier'] or '-'} -> {h['new_tier'] or '-'}"
                          + (f" by {h['by']}" if h['by'] and h['kind'] != 'review' else "")
                          + (f" - {h['reason']}" if h['reason'] else ""), highlight=False, soft_wrap=True)


def print_changes(changes: list[TierChange], empty: str = "no tier changes") -> None:
    for c in changes:
        console.print(f"  {c.reason}", highlight=False, soft_wrap=True)
    if not changes:
        console.print(f"  {empty}")


@tiers_app.command("review")
def review_cmd(as_json: bool = typer.Option(False, "--json"),
               post: bool = typer.Option(False, "--post", help="post the changes (Slack when configured, "
                                                               "else the console)")) -> None:
    """Rescore every account, record the history and list the changes."""
    from skills.tiering.history import review

    store = ctx().store
    result = review(store, _config(), by="cli")
    if post and result.changes:
        _post(result.changes)
    if as_json:
        print_json(result.to_json())
        return
    counts = ", ".join(f"{n} {t}" for t, n in result.tiers.items())
    console.print(f"review {result.review_id}: {result.accounts} accounts ({counts})"
                  + (f"; {result.placed_first_time} placed for the first time" if result.placed_first_time else ""),
                  highlight=False)
    print_changes(result.changes)


def _post(changes: list[TierChange]) -> None:
    from bot.tier_posts import post_tier_changes
    from knowledge.kb import KnowledgeBase

    kb = KnowledgeBase(ctx().settings, ctx().store, None)  # type: ignore[arg-type]  # posting needs no index
    post_tier_changes(notifier(), kb, changes)


@tiers_app.command("what-if")
def what_if_cmd(config: Path = typer.Option(..., "--config", help="the tiering config to try"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """The tier changes another config would make (nothing is saved)."""
    from skills.tiering.history import what_if

    result = what_if(ctx().store, _config(config), _config())
    if as_json:
        print_json(result.to_json())
        return
    console.print("tiers now:  " + ", ".join(f"{n} {t}" for t, n in result.before.items()), highlight=False)
    console.print(f"with {config}: " + ", ".join(f"{n} {t}" for t, n in result.after.items()), highlight=False)
    print_changes(result.changes, "no account would change tier")


@tiers_app.command("override")
def override_cmd(account: str = typer.Argument(..., help="account name, alias or id"),
                 tier: str = typer.Argument(..., help="key | strategic | maintenance | opportunity | auto (remove)"),
                 reason: str = typer.Option(..., "--reason", help="why (kept in the history)"),
                 until: dt.datetime | None = typer.Option(None, "--until", formats=["%Y-%m-%d"],
                                                          help="last day the override applies"),
                 as_email: str = typer.Option(..., "--as", help="the manager or admin making the override"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Put an account in a tier by hand (managers of the owner, and admins)."""
    from skills.tiering.history import OverrideError, set_override

    store = ctx().store
    account_id = _resolve(account)
    try:
        change = set_override(store, account_id, tier, reason, store.person(as_email),
                              until=until.date() if until else None)
    except OverrideError as exc:
        fail(str(exc))
    if as_json:
        print_json(change.to_json())
        return
    console.print(change.reason, highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------------------------ kam demo
@demo_cmd.command("tiers", "tiers [explain ACCOUNT | review | override ACCOUNT TIER REASON]: account tiers")
def _demo_tiers(state: dict, arg: str) -> None:
    from skills.tiering.history import OverrideError, explain, listing, review, set_override

    parts = shlex.split(arg)
    store = ctx().store
    person = store.person(state["user"])
    scope = store.visible_account_ids(person) if person else set()
    if not parts:
        rows = [r for r in listing(store) if scope is None or r.id in scope]
        if not any(r.scored_tier for r in rows):
            console.print("no review yet: type [bold]tiers review[/]")
        for r in rows:
            console.print(f"  {r.account}: {_tier(r.tier)} (importance {_score(r.importance)}, strength "
                          f"{_score(r.strength)}" + (f", was {r.previous_tier}" if r.previous_tier else "") + ")",
                          highlight=False)
        return
    head, rest = parts[0], parts[1:]
    if head == "explain" and rest:
        account_id = demo_cmd.visible_account(state, " ".join(rest))
        if account_id is None:
            return
        print_explanation(explain(store, _config(), account_id))
    elif head == "review":
        result = review(store, _config(), by=state["user"])
        console.print(f"{result.accounts} accounts: " + ", ".join(f"{n} {t}" for t, n in result.tiers.items()),
                      highlight=False)
        print_changes(result.changes)
        if result.changes:  # the posts the bot would make, printed by the console notifier
            from bot.notifier import ConsoleNotifier
            from bot.tier_posts import post_tier_changes
            from knowledge.kb import KnowledgeBase

            post_tier_changes(ConsoleNotifier(), KnowledgeBase(ctx().settings, store, None),  # type: ignore[arg-type]
                              result.changes)
    elif head == "override" and len(rest) >= 3:
        from skills.ask.resolve import find_account

        account_id = find_account(store, rest[0]).account_id
        if account_id is None:
            console.print(f"no account named {rest[0]!r} (quote names with spaces)")
            return
        try:
            change = set_override(store, account_id, rest[1], " ".join(rest[2:]), person)
        except OverrideError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            return
        console.print(change.reason, highlight=False)
    else:
        console.print("usage: tiers | tiers explain ACCOUNT | tiers review | tiers override ACCOUNT TIER REASON")


def register(app: typer.Typer) -> None:
    app.add_typer(tiers_app, name="tiers")
