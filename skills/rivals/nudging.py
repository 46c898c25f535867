"""Competitor alerts as nudges (kind `competitor_alert`): to the account's owner, on the first daily batch after the
change was recorded (the owner's local day of the change when it came before KAM_SWEEP_HOUR, else the next day),
so a change made after the morning's batch went out is in the next one, never lost. Sent once by the ledger."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from knowledge.settings import Settings
from knowledge.store import Store
from skills.rivals.watch import Alert, competitor_alerts

if TYPE_CHECKING:
    from skills.nudges import Nudge

KIND = "competitor_alert"


def batch_day(at: dt.datetime, zone: ZoneInfo, sweep_hour: int) -> dt.date:
    """The recipient's local day whose batch first comes after a change recorded at `at` (naive UTC)."""
    local = at.replace(tzinfo=dt.UTC).astimezone(zone)
    return local.date() + dt.timedelta(days=1 if local.hour >= sweep_hour else 0)


def competitor_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date,
                      accounts: dict[str, tuple[str, str]], tiers: dict[str, str]) -> list[Nudge]:
    """Competitor alerts whose batch day falls in [start, end], for `accounts` (id -> (name, recipient))."""

    zones = {p.email: p.timezone for p in store.people() if p.timezone}
    lo = dt.datetime.combine(start - dt.timedelta(days=2), dt.time())  # every time zone's day, with margin
    hi = dt.datetime.combine(end + dt.timedelta(days=2), dt.time())
    out = []
    for a in competitor_alerts(store, settings, lo, hi, set(accounts), tiers):
        name, rcpt = accounts[a.account_id]
        day = batch_day(a.at, ZoneInfo(zones.get(rcpt) or settings.kam_timezone), settings.kam_sweep_hour)
        if start <= day <= end:
            out.append(alert_nudge(a, name, rcpt, day))
    return out


def alert_nudge(a: Alert, account: str, recipient: str, day: dt.date) -> Nudge:
    from skills.nudges import Nudge

    return Nudge(recipient=recipient, kind=KIND, account_id=a.account_id, account=account, due=day, remind_on=day,
                 subject=a.subject, cycle=a.cycle, step="alert", title=a.title(), detail=a.detail(),
                 contact=a.contact, days_left=0, extra=a.to_json())
