"""`kam kpis`: KAM KPIs per rep and per manager's team, weekly snapshots and the trend chart (docs/kpis.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from cli import demo_cmd
from cli.context import console, ctx, fail, print_json

if TYPE_CHECKING:
    from skills.kpis import KpiReport

kpis_app = typer.Typer(help="KAM KPIs per rep and team; weekly snapshots; trend charts.", no_args_is_help=False)


def _day(value: str | None, option: str) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD, got {value!r}")


def _period(value: str | None) -> int:
    from skills.kpis import PeriodError, parse_period

    if value is None:
        return ctx().settings.kam_kpi_period_days
    try:
        return parse_period(value)
    except PeriodError as exc:
        fail(str(exc))


def chart_path(chart: Path) -> Path:
    if chart.suffix.lower() != ".png":
        fail(f"--chart must name a .png file, got {str(chart)!r}")
    if not chart.parent.exists():
        fail(f"--chart: the directory {str(chart.parent)!r} does not exist")
    if chart.is_dir():
        fail(f"--chart: {str(chart)!r} is a directory")
    return chart


def write_png(path: Path, data: bytes) -> None:
    """Written beside the target then renamed: an interrupted run never leaves half a PNG."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@kpis_app.callback(invoke_without_command=True)
def kpis(typer_ctx: typer.Context,
         rep: str | None = typer.Option(None, "--rep", help="one rep (email)"),
         manager: str | None = typer.Option(None, "--manager", help="a manager's team (email): everyone reporting "
                                                                   "to them, directly or not"),
         period: str | None = typer.Option(None, "--period", help="the window, e.g. 90d or 12w (default "
                                                                 "KAM_KPI_PERIOD_DAYS, 90 days)"),
         on: str | None = typer.Option(None, "--on", help="the window's last day, YYYY-MM-DD; default today"),
         as_json: bool = typer.Option(False, "--json", help="print the KPIs as JSON"),
         chart: Path | None = typer.Option(None, "--chart", help="also write the KPI trends of the last 12 weeks, "
                                                                "per rep, to this PNG file")) -> None:
    """KAM KPIs per rep and in total, over a period: cadence, multi-threading, profile completeness and freshness,
    key-date follow-through, service, tier movement and key-account revenue growth."""
    if typer_ctx.invoked_subcommand:
        return
    show_kpis(rep, manager, period, on, as_json, chart)


def show_kpis(rep: str | None, manager: str | None, period: str | None, on: str | None, as_json: bool,
              chart: Path | None) -> None:
    from skills.kpis import ScopeError, compute

    days = _period(period)
    end = _day(on, "--on")
    target = chart_path(chart) if chart is not None else None
    store = ctx().store
    try:
        report = compute(store, ctx().settings, end=end, period_days=days, rep=rep, manager=manager)
    except ScopeError as exc:
        fail(str(exc))
    if target is not None:
        from skills.charts import kpi_trend_data, render_kpi_trends

        data = kpi_trend_data(store, ctx().settings, end=end, rep=rep, manager=manager, period_days=days)
        write_png(target, render_kpi_trends(data))
    if as_json:
        out = report.to_json()
        if target is not None:
            out["chart"] = str(target)
        print_json(out)
        return
    print_report(report)
    if target is not None:
        console.print(f"chart written to {target}", highlight=False)


def print_report(report: KpiReport) -> None:
    from skills.kpis import fmt, kpi_names, label

    who = {"rep": f"rep {report.subject}", "team": f"team of {report.subject}", "all": "all reps"}[report.scope]
    console.print(f"[bold]KAM KPIs, {who}[/]: {report.start} to {report.end} ({report.period_days} days)",
                  highlight=False)
    if not report.reps:
        console.print("no accounts in scope")
        return
    show_total = len(report.reps) != 1
    table = Table("KPI", *[r.rep.split("@")[0] for r in report.reps], *(["total"] if show_total else []))
    sets = [r.kpis for r in report.reps] + ([report.total] if show_total else [])
    short = len(sets) > 2  # narrow columns: the panel names of the chart (full names in docs/kpis.md)
    table.add_row("Accounts (key+strat.)", *[f"{k.accounts} ({k.covered_accounts})" for k in sets])
    for kpi in kpi_names():
        table.add_row(label(kpi, short=short), *[fmt(k, kpi) for k in sets])
    console.print(table)


@kpis_app.command("snapshot")
def snapshot(on: str | None = typer.Option(None, "--on", help="the snapshot's day, YYYY-MM-DD; default today"),
             period: str | None = typer.Option(None, "--period", help="the window, e.g. 90d (default 90 days)"),
             backfill: int = typer.Option(0, "--backfill", min=0, max=104,
                                          help="also compute this many past weeks without a snapshot (marked "
                                               "reconstructed)"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Store this week's KPI snapshot now (the scheduler does it every week on KAM_WEEKLY_DAY)."""
    from skills.kpi_snapshots import backfill as backfill_weeks
    from skills.kpi_snapshots import take_snapshots
    from skills.nudges import iso_week

    day = _day(on, "--on")
    days = _period(period)
    store = ctx().store
    written = {day.isoformat(): take_snapshots(store, ctx().settings, day, period_days=days)}
    if backfill:
        written.update(backfill_weeks(store, ctx().settings, day, backfill, days))
    if as_json:
        print_json({"period_days": days, "snapshots": written})
        return
    for when, n in written.items():
        console.print(f"{when} (week {iso_week(dt.date.fromisoformat(when))}): {n} snapshots", highlight=False)


@demo_cmd.command("kpis", "kpis: your KPIs (a manager: the team's) over the last 90 days")
def _demo_kpis(state: dict, arg: str) -> None:
    person = ctx().store.person(state["user"])
    is_manager = person is not None and (person.role == "manager" or ctx().store.reports_of(person.email))
    show_kpis(None if is_manager else state["user"], state["user"] if is_manager else None, arg.strip() or None,
              None, False, None)


def register(app: typer.Typer) -> None:
    app.add_typer(kpis_app, name="kpis")
