"""Competitor alerts: what changed at an account that says a rival is moving in (docs/competitor-watch.md).

Five kinds, each computed from the dated history (knowledge/supplier_history.py, knowledge/history.py) and so the
same every time it is computed: a sweep that runs twice, or an ingest of an unchanged file, finds nothing new.

* rival_share_up: a rival's share at a key or strategic account (KAM_RIVAL_TIERS) up by KAM_RIVAL_SHARE_RISE
  points since the last alert about it, or else since KAM_RIVAL_WINDOW_DAYS ago;
* our_share_down / satisfaction_down: our purchase share down by KAM_OUR_SHARE_DROP points, the account's
  satisfaction with us down by KAM_SATISFACTION_DROP, measured the same way;
* key_contact_leaving: a decision maker or economic buyer removed from the profile, or said to be leaving (in the
  contact's notes or title, or in a new note next to their name);
* rival_mentioned: a rival named in a new note (or service case) at a key or strategic account.

An account's first load is where it starts, never a change. Each alert is dated by the change that caused it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, inspect, or_, select
from sqlalchemy import text as sql_text

from knowledge.db import ContactRow
from knowledge.history import ProfileChangeRow
from knowledge.settings import Settings
from knowledge.store import Store
from knowledge.supplier_history import OURS, Point, SupplierHistoryRow
from skills.rivals.mentions import Finding, NoteScanner
from skills.rivals.vocab import watch_vocab

ALERT_KINDS = ("rival_share_up", "our_share_down", "satisfaction_down", "key_contact_leaving", "rival_mentioned")
_CONTACT = "contacts["
_EPS = 1e-9


@dataclass
class Alert:
    account_id: str
    kind: str  # one of ALERT_KINDS
    at: dt.datetime  # when the change was recorded (naive UTC)
    party: str | None = None  # the rival (rival_share_up, rival_mentioned)
    contact: str | None = None  # key_contact_leaving
    old: float | None = None  # the value it is measured from
    new: float | None = None
    since: dt.datetime | None = None  # when `old` was recorded (None: before the rival was on file)
    sources: list[dict[str, Any]] = field(default_factory=list)  # the changes behind it: source, actor, origin, at
    excerpt: str | None = None  # the note's / case's sentence, the contact's leaving words
    extra_role: str | None = None  # key_contact_leaving: the contact's role

    @property
    def subject(self) -> str:
        who = self.party or self.contact or ""
        return f"cw:{self.account_id}:{self.kind}:{_short(who)}"

    @property
    def cycle(self) -> str:
        extra = f"-{_short(self.excerpt or '')}" if self.kind == "rival_mentioned" else ""
        return self.at.isoformat(timespec="seconds") + extra

    def title(self) -> str:
        if self.kind == "rival_share_up":
            return f"{self.party}: share up {_points(self.old, self.new)}"
        if self.kind == "our_share_down":
            return f"Our purchase share down {_points(self.new, self.old)}"
        if self.kind == "satisfaction_down":
            return f"Satisfaction with us down {(self.old or 0) - (self.new or 0):.1f}"
        if self.kind == "key_contact_leaving":
            return f"{self.contact} ({(self.extra_role or 'key contact').replace('_', ' ')}) " + (
                "removed" if self.excerpt is None else "may be leaving")
        case = bool(self.sources) and self.sources[0]["source"] == "case"
        return f"{self.party} named in a new {'service case' if case else 'note'}"

    def detail(self) -> str:
        since = f" since {self.since:%Y-%m-%d}" if self.since else " (new on file)"
        if self.kind in ("rival_share_up", "our_share_down"):
            body = f"{_pct(self.old)} → {_pct(self.new)}{since}"
        elif self.kind == "satisfaction_down":
            body = f"{self.old or 0:.1f} → {self.new or 0:.1f} of 5{since}"
        elif self.kind == "key_contact_leaving":
            body = f"“{self.excerpt}”" if self.excerpt else "removed from the profile"
        else:
            body = f"“{self.excerpt}”"
        return f"{body}; {sources_line(self.sources)}"

    def to_json(self) -> dict[str, Any]:
        return {"alert": self.kind, "party": self.party, "contact": self.contact, "role": self.extra_role,
                "from": self.old, "to": self.new, "since": self.since.isoformat(timespec="seconds") + "Z"
                if self.since else None, "at": self.at.isoformat(timespec="seconds") + "Z",
                "excerpt": self.excerpt, "sources": self.sources}


def _short(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _pct(value: float | None) -> str:
    return "absent" if value is None else f"{value * 100:.0f}%"


def _points(low: float | None, high: float | None) -> str:
    return f"{((high or 0) - (low or 0)) * 100:.0f} points"


def sources_line(sources: list[dict[str, Any]]) -> str:
    parts = []
    for src in sources[-3:]:
        who = f" by {src['actor']}" if src.get("actor") else ""
        where = f" ({src['origin']})" if src.get("origin") and src["source"] in ("file", "crm", "filing") else ""
        parts.append(f"{src['source']}{who}{where} {src['at'][:10]}")
    more = f" and {len(sources) - 3} earlier" if len(sources) > 3 else ""
    return "source: " + "; ".join(parts) + more if parts else "source: the profile history"


# ------------------------------------------------------------------ series: shares and satisfaction
def series_alerts(points: list[Point], *, rise: bool, threshold: float, window: dt.timedelta,
                  absent_is_zero: bool, listed_since: dt.datetime | None = None
                  ) -> list[tuple[Point, float | None, dt.datetime | None, list[Point]]]:
    """Replay one series (oldest first): (point, from, since, the points since) for each alert. A change is
    measured from the value at the last alert when that is within `window`, else from the value in effect
    `window` before it (or the first one recorded after that). With `absent_is_zero` (a rival's share) a
    supplier removed counts as 0, and one new to the list as 0 before it ("absent": `from` None) when the account
    had a supplier list before (`listed_since`): filling in an empty list for the first time is not a move."""
    out = []
    last: tuple[int, float] | None = None
    times = [p.at for p in points]
    for i, p in enumerate(points):
        if p.initial:
            continue
        value = p.value if p.value is not None else (0.0 if absent_is_zero else None)
        if value is None:
            continue
        ref = p.at - window
        old: float | None
        if last is not None and points[last[0]].at >= ref:
            old, since, first = last[1], points[last[0]].at, last[0] + 1
        else:
            k = max(bisect_right(times, ref, 0, i) - 1, 0)  # the point in effect at `ref`, else the first one
            if k == i:  # nothing earlier: a rival new to a supplier list that was already there
                if not absent_is_zero or listed_since is None or listed_since >= p.at:
                    continue
                old, since, first = None, None, i
            else:
                old, since, first = points[k].value, points[k].at, k + 1
                if old is None and not absent_is_zero:
                    continue
        base = old if old is not None else 0.0
        change = value - base if rise else base - value
        if change >= threshold - _EPS:
            out.append((p, old, since, points[first:i + 1]))
            last = (i, value)
    return out


def _series(store: Store, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[Point]]:
    """Every dated point of these series (account, party, metric), oldest first (plain rows: the ORM's per-object
    cost was most of the daily check)."""
    h = SupplierHistoryRow
    cols = (h.account_id, h.party, h.metric, h.value, h.initial, h.source, h.actor, h.origin, h.at)
    out: dict[tuple[str, str, str], list[Point]] = defaultdict(list)
    ids = sorted({k[0] for k in keys})
    with store.session() as s:
        for i in range(0, len(ids), 500):
            for r in s.execute(select(*cols).where(h.account_id.in_(ids[i:i + 500])).order_by(h.at, h.id)):
                if (r[0], r[1], r[2]) in keys:
                    out[(r[0], r[1], r[2])].append(Point(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7],
                                                         r[8]))
    return out


def _lists_since(store: Store, account_ids: set[str]) -> dict[str, dt.datetime]:
    """When each account's supplier list first had a share on file."""
    h = SupplierHistoryRow
    ids = sorted(account_ids)
    out: dict[str, dt.datetime] = {}
    with store.session() as s:
        for i in range(0, len(ids), 500):
            out.update(dict(s.execute(select(h.account_id, func.min(h.at)).where(
                h.account_id.in_(ids[i:i + 500]), h.party != OURS, h.metric == "share").group_by(h.account_id)).all()))
    return out


def _metric_alerts(store: Store, settings: Settings, lo: dt.datetime, hi: dt.datetime, accounts: set[str],
                   tiers: dict[str, str]) -> list[Alert]:
    h = SupplierHistoryRow
    watched_tiers = set(settings.kam_rival_tiers)
    with store.session() as s:  # the series that moved in the range (on the index of `at`)
        touched = {(aid, party, metric) for aid, party, metric in s.execute(
            select(h.account_id, h.party, h.metric).distinct().where(h.at >= lo, h.at < hi, h.initial.is_(False)))
            if aid in accounts and (party == OURS or (metric == "share" and tiers.get(aid) in watched_tiers))}
    if not touched:
        return []
    window = dt.timedelta(days=settings.kam_rival_window_days)
    listed = _lists_since(store, {aid for aid, party, _ in touched if party != OURS})
    out = []
    for (aid, party, metric), points in _series(store, touched).items():
        if party != OURS:
            kind, rise, threshold = "rival_share_up", True, settings.kam_rival_share_rise / 100
        elif metric == "share":
            kind, rise, threshold = "our_share_down", False, settings.kam_our_share_drop / 100
        else:
            kind, rise, threshold = "satisfaction_down", False, settings.kam_satisfaction_drop
        for p, old, since, behind in series_alerts(points, rise=rise, threshold=threshold, window=window,
                                                   absent_is_zero=party != OURS, listed_since=listed.get(aid)):
            if lo <= p.at < hi:
                out.append(Alert(aid, kind, p.at, party=party or None, old=old, new=p.value or 0.0, since=since,
                                 sources=[b.source_json() for b in behind]))
    return out


# ------------------------------------------------------------------ contacts, notes, cases
def _first_loads(store: Store, account_ids: set[str]) -> dict[str, dt.datetime]:
    ids = sorted(account_ids)
    out: dict[str, dt.datetime] = {}
    with store.session() as s:
        for i in range(0, len(ids), 500):
            q = select(ProfileChangeRow.account_id, func.min(ProfileChangeRow.at)).where(
                ProfileChangeRow.account_id.in_(ids[i:i + 500])).group_by(ProfileChangeRow.account_id)
            out.update(dict(s.execute(q).all()))
    return out


def _src(row: Any) -> dict[str, Any]:
    return {"source": row.source, "actor": row.actor, "origin": row.origin,
            "at": row.at.isoformat(timespec="seconds") + "Z"}


def _text_alerts(store: Store, settings: Settings, lo: dt.datetime, hi: dt.datetime, accounts: set[str],
                 tiers: dict[str, str]) -> list[Alert]:
    c = ProfileChangeRow
    q = select(c.account_id, c.path, c.old, c.new, c.source, c.actor, c.origin, c.at).where(
        c.at >= lo, c.at < hi, or_(c.path.like("contacts[%"), c.path.like("notes[%"))).order_by(c.at, c.id)
    with store.session() as s:
        rows = [r for r in s.execute(q) if r.account_id in accounts]
    cases = _case_texts(store, lo, hi, accounts)
    if not rows and not cases:
        return []
    first = _first_loads(store, {r.account_id for r in rows})
    rows = [r for r in rows if r.at != first.get(r.account_id)]
    if not rows and not cases:
        return []
    vocab = watch_vocab()
    scanner = NoteScanner.from_store(store, {r.account_id for r in rows} | {a for a, *_ in cases})
    watched_tiers = set(settings.kam_rival_tiers)
    out: list[Alert] = []
    roles_now: dict[tuple[str, str], str | None] = {}
    with store.session() as s:
        ids = sorted({r.account_id for r in rows if r.path.startswith(_CONTACT)})
        for aid, name, role in s.execute(select(ContactRow.account_id, ContactRow.name, ContactRow.role)
                                         .where(ContactRow.account_id.in_(ids))):
            roles_now[(aid, name)] = role
    batch_roles: dict[tuple[str, dt.datetime, str], Any] = {}
    for r in rows:
        if r.path.startswith(_CONTACT) and r.path.endswith("].role"):
            batch_roles[(r.account_id, r.at, r.path[len(_CONTACT):-len("].role")])] = r.old
    for r in rows:
        if r.path.startswith("notes["):
            if r.old is None and isinstance(r.new, dict) and r.new.get("text"):
                out += _findings(scanner.scan(r.account_id, str(r.new["text"]), r.source, r.at), [_src(r)], tiers,
                                 watched_tiers)
            continue
        name, _, attr = r.path[len(_CONTACT):].rpartition("].")
        name = name.replace("\\]", "]").replace("\\\\", "\\")
        if attr == "name" and r.old is not None and r.new is None:
            role = batch_roles.get((r.account_id, r.at, name))
            if role in vocab.key_roles:
                out.append(Alert(r.account_id, "key_contact_leaving", r.at, contact=name, sources=[_src(r)],
                                 extra_role=role))
        elif attr in ("notes", "title") and isinstance(r.new, str):
            role = roles_now.get((r.account_id, name))
            words = scanner.says_leaving(r.new)
            if role in vocab.key_roles and words and not scanner.says_leaving(r.old if isinstance(r.old, str)
                                                                               else None):
                out.append(Alert(r.account_id, "key_contact_leaving", r.at, contact=name, sources=[_src(r)],
                                 excerpt=r.new[:200], extra_role=role))
    for aid, text, when, case_id in cases:
        src = {"source": "case", "actor": None, "origin": f"case {case_id}",
               "at": when.isoformat(timespec="seconds") + "Z"}
        out += _findings(scanner.scan(aid, text, "case", when), [src], tiers, watched_tiers)
    return out


def _findings(found: list[Finding], sources: list[dict[str, Any]], tiers: dict[str, str],
              watched_tiers: set[str]) -> list[Alert]:
    out = []
    for f in found:
        if f.kind == "rival_mentioned":
            if tiers.get(f.account_id) in watched_tiers:
                out.append(Alert(f.account_id, f.kind, f.when, party=f.name, sources=sources, excerpt=f.excerpt))
        else:
            out.append(Alert(f.account_id, f.kind, f.when, contact=f.name, sources=sources, excerpt=f.excerpt,
                             extra_role=f.role))
    return out


def _case_texts(store: Store, lo: dt.datetime, hi: dt.datetime,
                accounts: set[str]) -> list[tuple[str, str, dt.datetime, Any]]:
    """Service cases opened in the range, when that feature's `service_cases` table is there."""
    columns = {c["name"] for c in inspect(store.engine).get_columns("service_cases")} \
        if inspect(store.engine).has_table("service_cases") else set()
    if not {"id", "account_id", "text", "opened_at"} <= columns:
        return []
    with store.session() as s:
        rows = s.execute(sql_text("SELECT account_id, text, opened_at, id FROM service_cases "
                                  "WHERE opened_at >= :lo AND opened_at < :hi"), {"lo": lo, "hi": hi}).all()
    return [(a, t, w if isinstance(w, dt.datetime) else dt.datetime.fromisoformat(str(w)), i)
            for a, t, w, i in rows if a in accounts and t]


# ------------------------------------------------------------------ the entry point
def competitor_alerts(store: Store, settings: Settings, since: dt.datetime, until: dt.datetime,
                      accounts: set[str], tiers: dict[str, str]) -> list[Alert]:
    """Alerts for changes recorded in [since, until) (naive UTC) at `accounts`, oldest first."""
    alerts = _metric_alerts(store, settings, since, until, accounts, tiers)
    alerts += _text_alerts(store, settings, since, until, accounts, tiers)
    seen: set[tuple[str, str, str]] = set()
    out = []
    for a in sorted(alerts, key=lambda a: (a.at, a.account_id, a.kind, a.party or a.contact or "")):
        if (a.subject, a.cycle, a.kind) not in seen:  # a leaving contact named twice in one change: one alert
            seen.add((a.subject, a.cycle, a.kind))
            out.append(a)
    return out
