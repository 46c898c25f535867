"""`kam rivals`: per rival across your accounts, its share, our revenue at risk, its trend and where it is gaining
(docs/competitor-watch.md)."""

from __future__ import annotations

import datetime as dt

import typer

from cli import demo_cmd
from cli.context import console, ctx, fail, print_json


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.0f} pts"


def rivals(as_email: str | None = typer.Option(None, "--as", help="only the accounts this person may see"),
           rival: str | None = typer.Option(None, "--rival", help="only this rival (a stored name or an alias)"),
           today: str | None = typer.Option(None, "--today", help="as of this date (YYYY-MM-DD); default today"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Per rival across your accounts: share, satisfaction, exposure (our revenue at risk), 90/365-day trend."""
    from skills.nudges import load_tiers
    from skills.rivals.report import rivals_report

    store = ctx().store
    person = None
    if as_email is not None:
        person = store.person(as_email.strip())
        if person is None:
            fail(f"--as: unknown person {as_email!r}: not in people.yaml")
    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError:
        fail(f"--today must be a date YYYY-MM-DD, not {today!r}")
    views = rivals_report(store, person, day, load_tiers(store), rival)
    if rival and not views:
        fail(f"--rival: {rival!r} is not a supplier at any account you can see")
    if as_json:
        print_json({"as_of": day.isoformat(), "asker": person.email if person else None,
                    "rivals": [v.to_json() for v in views]})
        return
    if not views:
        console.print("no suppliers on file at your accounts")
        return
    for v in views:
        gaining = f"; gaining at {', '.join(v.gaining_at)}" if v.gaining_at else ""
        sat = f"; satisfaction {v.satisfaction:.1f}/5" if v.satisfaction is not None else ""
        console.print(f"[bold]{v.rival}[/]: at {v.present_at} account{'s' * (v.present_at != 1)}, exposure "
                      f"{v.exposure:,.0f}; 90 days {_points(v.change_90d)}, 365 days {_points(v.change_365d)}"
                      f"{sat}{gaining}", highlight=False, soft_wrap=True)
        for a in v.accounts:
            console.print(f"  {a.account} ({a.tier or 'no tier'}): share {_pct(a.share)}, exposure "
                          f"{a.exposure:,.0f}, 90d {_points(a.change_90d)}, 365d {_points(a.change_365d)}"
                          + (f", satisfaction {a.satisfaction}/5" if a.satisfaction is not None else ""),
                          highlight=False, soft_wrap=True)


@demo_cmd.command("rivals", "rivals [NAME]: your rivals: share, exposure (our revenue at risk), trend, where gaining")
def _demo_rivals(state: dict, arg: str) -> None:
    rivals(as_email=state["user"], rival=arg.strip() or None, today=None, as_json=False)


def register(app: typer.Typer) -> None:
    app.command()(rivals)
