"""`kam history ACCOUNT` (what changed on a profile, from where, by whom) and `kam export DIR`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from cli.context import console, ctx, fail, print_json


def _short(value: object, limit: int = 80) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def history(account: str = typer.Argument(..., help="account name, alias or id"),
            since: str | None = typer.Option(None, "--since", help="only changes on or after YYYY-MM-DD"),
            field: str | None = typer.Option(None, "--field", help="only this field path or paths starting so"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Every change to an account's profile: when, source, who, field, old and new value."""
    from cli.knowledge_cmds import resolve_account
    from knowledge.history import changes_of  # imported when used: `kam --help` stays fast

    store = ctx().store
    account_id = resolve_account(account)  # found as Ask and `kam show` find it
    start = None
    if since:
        try:
            start = dt.datetime.combine(dt.date.fromisoformat(since), dt.time())
        except ValueError:
            fail(f"--since must be a date YYYY-MM-DD, not {since!r}")
    with store.session() as s:
        changes = changes_of(s, account_id, since=start)
    if field:
        changes = [c for c in changes if c.path == field or c.path.startswith(field)]
    if as_json:
        print_json([c.to_json() for c in changes])
        return
    name = store.summaries([account_id])[0].name
    console.print(f"[bold]{name}[/]: {len(changes)} change{'s' * (len(changes) != 1)}", highlight=False)
    for c in changes:
        who = f" by {c.actor}" if c.actor else ""
        console.print(f"  {c.at:%Y-%m-%d %H:%M} {c.source}{who}  {c.path}: {_short(c.old)} -> {_short(c.new)}",
                      highlight=False, soft_wrap=True)


def export(directory: Path = typer.Argument(..., help="directory to write the profile files and people.yaml to"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Write the stored profiles and people back as YAML files (docs/profile-format.md)."""
    from knowledge.export import export_dir

    try:
        report = export_dir(ctx().store, directory)
    except OSError as exc:
        fail(f"{directory}: cannot write: {exc.strerror or exc}")
    if as_json:
        print_json(report.to_json())
        return
    console.print(f"exported {len(report.accounts)} accounts and {report.people} people to {report.directory}",
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(history)
    app.command()(export)
