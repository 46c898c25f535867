"""Ask: "what changed at Acme this month?" / "寒山这个月有什么变化" — an account's change history in a period.

The period is looked back on: "this month" is from the 1st to today, "this week" from Monday, "the last 14 days"
the 14 days up to today; a window wholly in the past ("in October") is taken as it is; without one, the last 30 days.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from knowledge.history import Change, changes_of
from knowledge.profile import DIMENSIONS
from knowledge.store import Store
from skills.ask.dates import Window
from skills.ask.facts import AccountFacts, Part
from skills.ask.phrases import t

DEFAULT_DAYS = 30
SHOWN = 8  # changes listed; the rest are counted


def period(window: Window | None, days: int | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the period a change question looks back on."""
    if days:
        return today - dt.timedelta(days=days), today
    if window is None:
        return today - dt.timedelta(days=DEFAULT_DAYS), today
    if window.end < today:
        return window.start, window.end
    label = window.label.casefold()
    if "month" in label:
        return today.replace(day=1), today
    if "week" in label:
        return today - dt.timedelta(days=today.weekday()), today
    if "year" in label:
        return today.replace(month=1, day=1), today
    return min(window.start, today), today


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):  # a record: its text
        value = value.get("text") or value.get("summary") or value.get("title") or json.dumps(value, ensure_ascii=False)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"


def _line(c: Change) -> str:
    who = f", {c.actor}" if c.actor else ""
    return f"- {c.at.date().isoformat()} {c.path}: {_value(c.old)} → {_value(c.new)} ({c.source}{who})"


def changes_part(store: Store, fx: AccountFacts, window: Window | None, days: int | None, today: dt.date) -> Part:
    start, end = period(window, days, today)
    with store.session() as s:
        found = changes_of(s, fx.id, since=dt.datetime.combine(start, dt.time()),
                           until=dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    span = {"account": fx.name, "start": start.isoformat(), "end": end.isoformat()}
    if not found:
        return Part([t(fx.lang, "changes_none", **span)], [], known=False)
    # the account's creation (every field set at once) is one line, not one per field
    created = [c for c in found if c.path == "account" and c.old is None]
    batch = {(c.at, c.source) for c in created}
    entries: list[tuple[dt.datetime, str]] = [(c.at, _line(c)) for c in found if (c.at, c.source) not in batch]
    for c in created:
        n = sum((x.at, x.source) == (c.at, c.source) for x in found)
        entries.append((c.at, t(fx.lang, "changes_created", date=c.at.date().isoformat(), n=n, source=c.source,
                                actor=c.actor or "?")))
    entries.sort(key=lambda e: e[0], reverse=True)
    lines = [t(fx.lang, "changes", n=len(found), **span), *[line for _, line in entries[:SHOWN]]]
    if len(entries) > SHOWN:
        lines.append(t(fx.lang, "changes_more", n=len(entries) - SHOWN))
    latest = sorted(found, key=lambda c: c.at, reverse=True)
    dims = {c.path.split(".")[0].split("[")[0] for c in found} & set(DIMENSIONS)
    dim = next(iter(dims)) if len(dims) == 1 else None
    return Part(lines, [fx.src(dim, f"{fx.id}:history", latest[0].at.date())])
