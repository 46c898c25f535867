"""Ask about service cases: "open cases at X", "which of my accounts have overdue cases", "上个月寒山有什么投诉".

One account: its cases opened in the period the question names (looked back on: "last month" is the previous
calendar month), else the cases still open. Many accounts (no account named): the asker's accounts with overdue
cases, or with open ones. Case text is quoted as data. Words are in data/cases.yaml and vocab.yaml, phrasing in
phrasebook.yaml.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import yaml

from knowledge.kb import KnowledgeBase
from knowledge.profile import Person
from skills import cases
from skills.ask.facts import AccountFacts, Part
from skills.ask.models import Answer, Source
from skills.ask.phrases import t
from skills.ask.understand import Query
from skills.ask.vocab import normalise, words

SHOWN = 10  # cases listed in one answer; the rest are counted
CLIP = 140  # characters of a case's text in a list


@functools.cache
def _data() -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / "data" / "cases.yaml").read_text(encoding="utf-8"))


def _found(text: str, spec: dict[str, list[str]]) -> bool:
    low = normalise(text)
    tokens = {w for w, _, _ in words(low)}
    for term in spec.get("en", []):
        parts = term.split()
        if all(p in tokens or p.rstrip("s") in tokens for p in parts) and term in low:
            return True
    return any(term in low for term in spec.get("zh", []))


def period(q: Query, today: dt.date) -> tuple[dt.date, dt.date, str] | None:
    """(first day, last day, key) of the past period a case question names, or None."""
    for key, spec in _data()["periods"].items():
        if _found(q.text, spec):
            first_of_month = today.replace(day=1)
            monday = today - dt.timedelta(days=today.weekday())
            return {
                "last_month": ((first_of_month - dt.timedelta(days=1)).replace(day=1),
                               first_of_month - dt.timedelta(days=1)),
                "this_month": (first_of_month, today),
                "last_week": (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
                "this_week": (monday, today),
                "last_year": (today - dt.timedelta(days=365), today),
                "this_year": (today.replace(month=1, day=1), today),
            }[key] + (key,)
    if q.days:
        return today - dt.timedelta(days=q.days), today, "days"
    w = q.window
    if w is not None:
        start, end = w.start, w.end
        if start > today:  # "in October" asked in November: the October that has been
            start, end = start.replace(year=start.year - 1), end.replace(year=end.year - 1)
        return start, min(end, today), "window"
    return None


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(first, dt.time(), dt.UTC),
            dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC))


def _line(lang: str, c: cases.Case) -> str:
    text = c.text if len(c.text) <= CLIP else c.text[:CLIP - 1] + "…"
    state = t(lang, f"case_state_{c.state}") + (t(lang, "case_overdue_mark") if c.overdue else "")
    return t(lang, "case_line", id=c.id, date=c.opened_at.date().isoformat(), state=state,
             severity=t(lang, f"case_severity_{c.severity}"), text=f'"{text}"')


def _now(today: dt.date) -> dt.datetime:
    """The end of `today` (answers are as of a day), or now when today is today."""
    now = dt.datetime.now(dt.UTC)
    return now if now.date() == today else dt.datetime.combine(today, dt.time(23, 59), dt.UTC)


def cases_part(kb: KnowledgeBase, fx: AccountFacts, kind: str, q: Query, today: dt.date) -> Part:
    """One account's cases: in the period asked, else the overdue ones (asked so), else the open ones."""
    lang, span = fx.lang, period(q, today)
    now = _now(today)
    overdue = kind == "cases:overdue"
    if span and not overdue:
        since, until = _bounds(span[0], span[1])
        found = cases.list_cases(kb.store, kb.settings, account_ids={fx.id}, opened_since=since, opened_until=until,
                                 now=now)
        if _found(q.text, _data()["open"]):  # "open cases last month": those of them still open
            found = [c for c in found if c.open]
        args = {"account": fx.name, "start": span[0].isoformat(), "end": span[1].isoformat(), "n": len(found)}
        head, empty = t(lang, "cases_period", **args), t(lang, "cases_period_none", **args)
    else:
        open_only = not overdue
        found = cases.list_cases(kb.store, kb.settings, account_ids={fx.id}, open_only=open_only,
                                 overdue_only=overdue, now=now)
        key = "cases_overdue" if overdue else "cases_open"
        head, empty = t(lang, key, account=fx.name, n=len(found)), t(lang, key + "_none", account=fx.name)
    source = fx.src(None, f"{fx.id}:cases", found[0].opened_at.date() if found else None)
    if not found:
        return Part([empty], [source])
    lines = [head, *[_line(lang, c) for c in found[:SHOWN]]]
    if len(found) > SHOWN:
        lines.append(t(lang, "more", n=len(found) - SHOWN))
    return Part(lines, [source])


def portfolio_cases(kb: KnowledgeBase, q: Query, person: Person, visible: set[str] | None, lang: str,
                    today: dt.date) -> Answer:
    """The asker's accounts with overdue cases ("which of my accounts have overdue cases"), else with open ones."""
    overdue = q.has("cases:overdue")
    now = _now(today)
    found = cases.list_cases(kb.store, kb.settings, person=person, open_only=not overdue, overdue_only=overdue,
                             now=now)
    by_account: dict[str, list[cases.Case]] = {}
    for c in found:
        by_account.setdefault(c.account_id, []).append(c)
    key = "p_cases_overdue" if overdue else "p_cases_open"
    if not by_account:
        return Answer(answer=t(lang, key + "_none"), status="answered", language=lang)
    lines = [t(lang, key, n=len(by_account))]
    sources = []
    owners = {s.id: s.owner for s in kb.store.summaries(list(by_account))}
    for aid, items in sorted(by_account.items(), key=lambda kv: (-len(kv[1]), kv[1][0].account.casefold())):
        first = items[0]
        lines.append(t(lang, "list_row", account=f"**{first.account}**", text=t(
            lang, "p_cases_row", n=len(items), ids=", ".join(f"#{c.id}" for c in items[:5]))))
        sources.append(Source(account=first.account, dimension=None, updated=first.opened_at.date(),
                              owner=owners.get(aid, first.owner), id=f"{aid}:cases"))
    return Answer(answer="\n".join(lines), status="answered", language=lang, sources=sources,
                  account_ids=list(by_account))


