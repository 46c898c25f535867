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

from bot.render_kpis import kpi_blocks
from knowledge.profile import Person
from knowledge.settings import Settings
from knowledge.store import Store

log = logging.getLogger("kam.bot")
# (workspace API, person, day, period) -> file id: one upload a day per person
_home_charts: dict[tuple[str, str, str, int], str] = {}
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


def home_kpi_blocks(store: Store, settings: Settings, client: WebClient, person: Person,
                    day: dt.date) -> list[dict[str, Any]]:
    """The App Home's KPI section: a manager's team (else the rep's own), with the trend chart uploaded once a
    day per person."""
    from skills.kpis import compute

    team = is_manager(store, person)
    period = settings.kam_kpi_period_days
    report = compute(store, settings, end=day, period_days=period,
                     manager=person.email if team else None, rep=None if team else person.email)
    if not report.total.accounts:
        return []
    key = (client.base_url, person.email, day.isoformat(), period)
    with _lock:
        file_id = _home_charts.get(key)
    if file_id is None:
        try:
            file_id = upload_png(client, trend_chart(store, settings, person, day, team),
                                 f"kpis-{day.isoformat()}.png", "KPI trends, last 12 weeks",
                                 "KPI trends per rep over the last 12 weeks")
            with _lock:
                _home_charts[key] = file_id
        except Exception as exc:  # noqa: BLE001 - the KPIs still show as text
            log.warning("KPI chart for %s not uploaded: %s", person.email, exc)
    title = "Team KPIs" if team else "My KPIs"
    return kpi_blocks(title, report.total, period, chart_file_id=file_id)


def digest_chart(notifier: Any, store: Store, settings: Settings, manager: Person, day: dt.date) -> str | None:
    """The team's KPI trend chart for a digest, uploaded through the notifier (None: console, or it failed)."""
    upload = getattr(notifier, "upload_png", None)
    if upload is None:
        return None
    try:
        return str(upload(trend_chart(store, settings, manager, day, team=True), f"team-kpis-{day.isoformat()}.png",
                          "Team KPI trends, last 12 weeks", "KPI trends per rep over the last 12 weeks"))
    except Exception as exc:  # noqa: BLE001 - the digest goes out without its chart
        log.warning("digest chart for %s not uploaded: %s", manager.email, exc)
        return None
