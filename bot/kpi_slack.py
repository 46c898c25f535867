"""KPIs and charts in Slack: render a chart, upload it (files.getUploadURLExternal, the bytes, then
files.completeUploadExternal: what slack_sdk's files_upload_v2 does) and build the blocks that show it.

An upload that fails leaves the KPIs as text: a chart is never a reason for a digest or a Home tab not to appear.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from slack_sdk import WebClient

from bot.render_kpis import UploadedChart, kpi_blocks
from knowledge.profile import Person
from knowledge.settings import Settings
from knowledge.store import Store

log = logging.getLogger("kam.bot")
# (workspace API, person, day, period) -> file id: one upload a day per person
_home_charts: dict[tuple[str, str, str, int], list[UploadedChart]] = {}
_lock = threading.Lock()


def upload_png(client: WebClient, data: bytes, filename: str, title: str, alt: str) -> str:
    """Upload PNG bytes privately (shared with no channel; image blocks reference it by id); returns the file id."""
    resp = client.files_upload_v2(filename=filename, content=data, title=title, alt_txt=alt[:1000])
    return str(resp["file"]["id"])


def is_manager(store: Store, person: Person) -> bool:
    return person.role == "manager" or bool(store.reports_of(person.email))


def trend_chart(store: Store, settings: Settings, person: Person, day: dt.date, team: bool) -> bytes:
    from skills.charts import kpi_trend_data, render_kpi_trends

    data = kpi_trend_data(store, settings, end=day, manager=person.email if team else None,
                          rep=None if team else person.email)
    return render_kpi_trends(data)


def matrix_chart(store: Store, settings: Settings, person: Person, team: bool) -> bytes | None:
    """The tier matrix of the team's accounts (or the rep's); None when none of them has been reviewed yet."""
    from skills.charts import render_tier_matrix, tier_matrix_data
    from skills.kpis import accounts_of, scope_reps
    from skills.tiering.config import config_path, load_config

    _, _, reps = scope_reps(store, None if team else person.email, person.email if team else None)
    data = tier_matrix_data(store, load_config(config_path(settings)), ids=set(accounts_of(store, reps)))
    if not data.points:
        return None
    return render_tier_matrix(data, title=f"Tier matrix · {len(data.points)} accounts of "
                                          f"{'the team of ' if team else ''}{person.name or person.email}")


CHARTS = (  # what each surface shows: (name, title, alt text)
    ("trends", "KPI trends, last 12 weeks", "KPI trends per rep over the last 12 weeks"),
    ("matrix", "Tier matrix", "Accounts by importance and strength, tier regions shaded, movers as arrows"),
)


def _render(name: str, store: Store, settings: Settings, person: Person, day: dt.date, team: bool) -> bytes | None:
    if name == "trends":
        return trend_chart(store, settings, person, day, team)
    return matrix_chart(store, settings, person, team)


def upload_charts(upload: Any, store: Store, settings: Settings, person: Person, day: dt.date,
                  team: bool) -> list[UploadedChart]:
    """Render and upload each chart with `upload(data, filename, title, alt) -> file id`; one that fails is left
    out (logged), the others still go."""
    out = []
    for name, title, alt in CHARTS:
        try:
            data = _render(name, store, settings, person, day, team)
            if data is None:
                continue
            out.append(UploadedChart(str(upload(data, f"{name}-{day.isoformat()}.png", title, alt)), title, alt))
        except Exception as exc:  # noqa: BLE001 - the KPIs still show as text
            log.warning("%s chart for %s not uploaded: %s", name, person.email, exc)
    return out


def home_kpi_blocks(store: Store, settings: Settings, client: WebClient, person: Person,
                    day: dt.date) -> list[dict[str, Any]]:
    """The App Home's KPI section: a manager's team (else the rep's own), with the KPI trends and the tier matrix
    uploaded once a day per person."""
    from skills.kpis import compute

    team = is_manager(store, person)
    period = settings.kam_kpi_period_days
    report = compute(store, settings, end=day, period_days=period,
                     manager=person.email if team else None, rep=None if team else person.email)
    if not report.total.accounts:
        return []
    key = (client.base_url, person.email, day.isoformat(), period)
    with _lock:
        charts = _home_charts.get(key)
    if charts is None:
        charts = upload_charts(lambda *a: upload_png(client, *a), store, settings, person, day, team)
        if len(charts) == len(CHARTS):  # a partial set is tried again next time
            with _lock:
                _home_charts[key] = charts
    return kpi_blocks("Team KPIs" if team else "My KPIs", report.total, period, charts=charts)


def digest_charts(notifier: Any, store: Store, settings: Settings, manager: Person,
                  day: dt.date) -> list[UploadedChart]:
    """The team's charts for a digest, uploaded through the notifier (none on the console)."""
    upload = getattr(notifier, "upload_png", None)
    return [] if upload is None else upload_charts(upload, store, settings, manager, day, team=True)


def command_kpis(ctx: Any, person: Person, rest: str, kind: str, respond: Any) -> None:
    """`/kam kpis [period]`: the asker's KPIs, a manager's team with a line per rep (text only; the charts are on
    the Home tab)."""
    from bot.render_kpis import rep_lines
    from skills.kpis import PeriodError, compute, parse_period

    try:
        period = parse_period(rest.split()[0]) if rest.split() else ctx.settings.kam_kpi_period_days
    except PeriodError:
        respond(text="Usage: `/kam kpis [period]`, e.g. `/kam kpis 30d` or `/kam kpis 12w`", response_type="ephemeral")
        return
    team = is_manager(ctx.store, person)
    report = compute(ctx.store, ctx.settings, end=ctx.day(), period_days=period,
                     manager=person.email if team else None, rep=None if team else person.email)
    if not report.total.accounts:
        respond(text="You have no accounts to measure yet.", response_type="ephemeral")
        return
    title = "Team KPIs" if team else "My KPIs"
    blocks = kpi_blocks(title, report.total, period) + (rep_lines(report) if team else [])
    respond(text=f"{title}, last {period} days", blocks=blocks, response_type=kind)
