"""`kam nudges`, `kam digest` and `kam scheduler`: what would be sent on a day, a manager's digest, the scheduler."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from cli import demo_cmd
from cli.context import console, ctx, err_console, fail, notifier, print_json

if TYPE_CHECKING:
    from bot.notifier import Notifier
    from knowledge.settings import Settings


def _day(value: str | None, label: str) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{label} must be a date YYYY-MM-DD, got {value!r}")


def nudges(on: str | None = typer.Option(None, "--on", help="the (local) day, YYYY-MM-DD; default today"),
           for_email: str | None = typer.Option(None, "--for", help="only this recipient (email)"),
           as_json: bool = typer.Option(False, "--json", help="print the nudges as JSON")) -> None:
    """List the nudges due on a day (each recipient's local day), without sending anything."""
    from scheduler.sweep import state_views
    from skills.nudges import due_on

    day = _day(on, "--on")
    store = ctx().store
    recipient = None
    if for_email:
        person = store.person(for_email)
        if person is None:
            fail(f"--for: no person {for_email!r} in people.yaml")
        recipient = person.email
    items = due_on(store, ctx().settings, day, recipient=recipient,
                   states=state_views(store, {recipient} if recipient else None))
    if as_json:
        print_json([n.to_json() for n in items])
        return
    if not items:
        console.print(f"nothing due on {day}")
        return
    table = Table("recipient", "kind", "account", "due", "what", title=f"nudges for {day}")
    for n in items:
        what = n.title + (f" — {n.detail}" if n.detail else "")
        table.add_row(n.recipient, n.kind, n.account, n.due.isoformat(), what)
    console.print(table)


def digest(manager: str = typer.Option(..., "--manager", help="the manager's email"),
           on: str | None = typer.Option(None, "--on", help="the day, YYYY-MM-DD; default today"),
           as_json: bool = typer.Option(False, "--json", help="print the digest as JSON")) -> None:
    """Print a manager's digest: tier changes, key dates ahead, overdue accounts, coverage risks, stale profiles."""
    from scheduler.ledger import last_sent_day
    from skills.digest import KEY_DATE_HORIZON_DAYS, build_digest

    day = _day(on, "--on")
    store = ctx().store
    person = store.person(manager)
    if person is None:
        fail(f"--manager: no person {manager!r} in people.yaml")
    last = last_sent_day(store, "digest", person.email)
    d = build_digest(store, ctx().settings, person.email, day, since=last if last and last < day else None)
    if as_json:
        print_json(d.to_json())
        return
    console.print(f"[bold]Digest for {person.name or person.email}, {day}[/]  ({d.totals_line()})", highlight=False)
    overdue = []
    for rep, items in d.overdue.items():
        for o in items:
            flag = "[red]ESCALATED[/] " if o.escalate else ""
            since = f"{o.days_since} days" if o.days_since is not None else "never"
            overdue.append(f"  {rep}: {flag}{o.account} ({o.tier}, {since}, cadence {o.cadence_days})")
    sections = [
        (f"Tier changes since {d.since}", [f"  {c.account} ({c.rep}): {c.old_tier} -> {c.new_tier}  {c.reason or ''}"
                                           for c in d.tier_changes]),
        (f"Key dates in the next {KEY_DATE_HORIZON_DAYS} days",
         [f"  {k.date} {k.kind:<11} {k.account}: {k.title} ({k.rep})" for k in d.key_dates]),
        ("Overdue for contact", overdue),
        (f"Competitor alerts since {d.since}", [f"  {c.on} {c.account} ({c.rep}): {c.title}: {c.detail}"
                                                for c in d.competitor]),
        ("Coverage risks", [f"  {c.account} ({c.tier}, {c.rep}): {c.detail}" for c in d.coverage]),
        ("Stale profiles", [f"  {c.account} ({c.rep}): {c.detail}" for c in d.stale]),
        (f"Team KPIs, last {d.kpi_period_days} days (kam kpis --manager {person.email})", _kpi_lines(d.kpis)),
    ]
    shown = [(title, lines) for title, lines in sections if lines]  # an empty section is left out
    for title, lines in shown:
        console.print(f"\n[bold]{title}[/]")
        for line in lines:
            console.print(line, highlight=False)
    if not shown:
        console.print("\nNothing needs your attention.")


def _kpi_lines(data: dict) -> list[str]:
    from skills.kpis import KpiSet, fmt, kpi_names, label

    if not data or not data.get("accounts"):
        return []
    kpis = KpiSet.from_json(data)
    return [f"  {label(k)}: {fmt(kpis, k)}" for k in kpi_names()]


def scheduler(once: str | None = typer.Option(None, "--once", help="run one job now and exit: sweep | digest | "
                                                                     "tier-review (sent for real)"),
              force: bool = typer.Option(False, "--force", help="with --once: do not wait for the local hour")) -> None:
    """Run the scheduler in the foreground (one per database; a second one waits and takes over)."""
    from scheduler import runner

    settings = ctx().settings
    out = notifier()
    if once:
        try:
            with runner.leased(ctx().store, settings, out) as leased_notifier:  # the running scheduler's lock
                _run_once(once, settings, leased_notifier, force)
        except runner.LeaseLost as exc:
            fail(str(exc), code=3)
        return
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job added and run otherwise
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err_console.print("scheduler: waiting for the scheduler lock…")
    from scheduler.clock import clock_for

    handle = runner.start_in_background(None, settings, out, clock_for(settings), store=ctx().store,
                                        on_lead=lambda: err_console.print("scheduler: running"))
    try:
        stop.wait()
    finally:
        handle.stop()


def _run_once(once: str, settings: Settings, notifier: Notifier, force: bool) -> None:
    from knowledge.kb import KnowledgeBase
    from scheduler import sweep
    from scheduler.clock import clock_for

    now = clock_for(settings).now()
    store = ctx().store
    if once == "sweep":
        r = sweep.run_sweep(store, settings, notifier, now, force=force)
    elif once == "digest":
        r = sweep.run_digests(store, settings, notifier, now, force=force)
    elif once == "tier-review":
        result = sweep.run_tier_review(KnowledgeBase(settings, store, None), settings, notifier,  # type: ignore[arg-type]
                                       now)
        console.print("tier review: " + ("already ran today" if result is None else
                                         f"{len(result.changes)} changes"))
        return
    else:
        fail("--once must be sweep, digest or tier-review")
    console.print(f"{once}: {r.messages} messages, {r.nudges} nudges ({r.late} late, {r.retried} retried)"
                  + (f"; failed for {', '.join(r.failed)}" if r.failed else ""), highlight=False)
    if r.failed:
        raise typer.Exit(1)


# ------------------------------------------------------------------------------------------------ kam demo
@demo_cmd.command("nudges", "nudges [YYYY-MM-DD]: what you would be nudged about that day (default today)")
def _demo_nudges(state: dict, arg: str) -> None:
    nudges(on=arg.strip() or None, for_email=state["user"], as_json=False)


@demo_cmd.command("digest", "digest [YYYY-MM-DD]: your manager's digest, if you are a manager")
def _demo_digest(state: dict, arg: str) -> None:
    digest(manager=state["user"], on=arg.strip() or None, as_json=False)


def register(app: typer.Typer) -> None:
    app.command("nudges")(nudges)
    app.command("digest")(digest)
    app.command("scheduler")(scheduler)
