"""Service cases, the closed loop: a customer's issue is opened, acknowledged, resolved and confirmed by the customer
(with a satisfaction 1-5 and a note), or reopened. Plain data, nothing Slack-specific.

States and the actions that move them (anything else is refused, naming the state):

    open ──ack──> acknowledged ──resolve──> resolved ──confirm──> closed
      └────────────resolve───────────────────┘  │  └──reopen──> reopened ──ack / resolve──> ...
                                                 └──────reopen─────┘ (closed cases can be reopened too)

Service levels (skills/case_sla.py; skills/cases.yaml, KAM_CASES_CONFIG): a response and a resolution target per
tier and severity, in business hours / days of the case owner's time zone. A case nearing its target nudges its
owner on the local business day it falls due (`case_due`), past it on the next business day (`case_overdue`); past
`escalate_after` times the target it goes into the manager's digest. A reopened case counts again from the reopening.

Access is the accounts' rule (skills.edit.may_edit): who may see an account may open and work its cases; only the
case's owner, whoever opened it, or an admin may record the customer's confirmation.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, or_, select, update

from knowledge.db import AccountMemberRow, AccountRow, MetricsRow
from knowledge.limits import MAX_TEXT_CHARS
from knowledge.profile import Person
from knowledge.settings import Settings
from knowledge.store import Store
from skills.case_models import CaseEventRow, CaseRow
from skills.case_sla import (  # noqa: F401 - the service levels are part of this feature's API
    CONFIG_PATH,
    SEVERITIES,
    CaseError,
    SlaConfig,
    Target,
    add_business,
    config_path,
    horizon,
    is_business_day,
    load_sla,
    next_business_day,
    parse_duration,
)

STATES = ("open", "acknowledged", "resolved", "closed", "reopened")
ACTIVE = ("open", "acknowledged", "reopened")  # the owner still has work to do: service levels run
OPEN_STATES = (*ACTIVE, "resolved")  # not closed: `kam cases --open`
ACTIONS = ("ack", "resolve", "confirm", "reopen")
# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "ack": (("open", "reopened"), "acknowledged"),
    "resolve": (("open", "acknowledged", "reopened"), "resolved"),
    "confirm": (("resolved",), "closed"),
    "reopen": (("resolved", "closed"), "reopened"),
}
COMPLAINT_WINDOW_DAYS = 365  # complaints "in the last 12 months", a tiering input
MAX_NOTE_CHARS = 2_000


# ------------------------------------------------------------------ cases as plain data
@dataclass
class Stage:
    """One service level of a case: when it is due, and whether it is met, overdue or escalated."""

    stage: str  # response | resolution
    target: str  # "4 business hours"
    starts: dt.datetime  # aware, owner's zone
    due: dt.datetime
    escalate_at: dt.datetime
    met_at: dt.datetime | None  # when it was met (acknowledged / resolved), None while running
    overdue: bool = False  # running, and past its due moment

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "target": self.target, "due": self.due.isoformat(), "overdue": self.overdue,
                "escalate_at": self.escalate_at.isoformat(),
                "met_at": self.met_at.isoformat(timespec="seconds") if self.met_at else None}


@dataclass
class Case:
    id: int
    account_id: str
    account: str
    text: str
    severity: str
    state: str
    opened_by: str
    owner: str
    source: str
    opened_at: dt.datetime  # naive UTC, as stored
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    reopened_at: dt.datetime | None
    reopen_count: int
    satisfaction: int | None
    note: str | None
    channel: str | None
    thread_ts: str | None
    tier: str | None = None
    timezone: str = "UTC"
    stages: list[Stage] = field(default_factory=list)
    overdue: bool = False
    escalated: bool = False

    @property
    def open(self) -> bool:
        return self.state != "closed"

    def to_json(self) -> dict[str, Any]:
        def iso(v: dt.datetime | None) -> str | None:
            return v.isoformat(timespec="seconds") + "Z" if v else None

        return {"id": self.id, "account_id": self.account_id, "account": self.account, "text": self.text,
                "severity": self.severity, "state": self.state, "opened_by": self.opened_by, "owner": self.owner,
                "source": self.source, "opened_at": iso(self.opened_at), "acknowledged_at": iso(self.acknowledged_at),
                "resolved_at": iso(self.resolved_at), "confirmed_at": iso(self.confirmed_at),
                "reopened_at": iso(self.reopened_at), "reopen_count": self.reopen_count,
                "satisfaction": self.satisfaction, "note": self.note,
                "thread": {"channel": self.channel, "ts": self.thread_ts} if self.channel else None,
                "tier": self.tier, "timezone": self.timezone, "overdue": self.overdue, "escalated": self.escalated,
                "sla": [s.to_json() for s in self.stages]}


def _aware(naive_utc: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return naive_utc.replace(tzinfo=dt.UTC).astimezone(zone)


def stages_of(row: Any, tier: str | None, zone: ZoneInfo, sla: SlaConfig) -> list[Stage]:
    """The case's service levels in its current round (since opening, or since the last reopening)."""
    since = row.reopened_at or row.opened_at
    start = _aware(since, zone)
    out = []
    for stage, met in (("response", row.acknowledged_at or row.resolved_at), ("resolution", row.resolved_at)):
        target = sla.target(tier, row.severity, stage)
        met = met if met is not None and met >= since else None  # met in an earlier round does not count
        out.append(Stage(stage, target.label(), start, add_business(start, target, sla),
                         add_business(start, target.scaled(sla.escalate_after), sla),
                         _aware(met, zone) if met else None))
    return out


class _Context:
    """What turning rows into cases needs, read once: names, tiers, owners' zones, the service levels."""

    def __init__(self, store: Store, settings: Settings, tiers: dict[str, str] | None = None):
        from skills.nudges import load_tiers, recipients_by_owner

        self.settings = settings
        self.sla = load_sla(settings)
        self.tiers = load_tiers(store) if tiers is None else tiers
        self.by_owner = recipients_by_owner(store.people())
        self._zones: dict[str, ZoneInfo] = {}

    def person(self, ident: str) -> Person | None:
        return self.by_owner.get(ident) or self.by_owner.get(ident.lower())

    def zone(self, owner: str) -> ZoneInfo:
        z = self._zones.get(owner)
        if z is None:
            p = self.person(owner)
            z = self._zones[owner] = ZoneInfo((p.timezone if p and p.timezone else None) or
                                              self.settings.kam_timezone)
        return z


def _case(row: CaseRow, account: str, cx: _Context, now: dt.datetime) -> Case:
    tier = cx.tiers.get(row.account_id)
    zone = cx.zone(row.owner)
    c = Case(row.id, row.account_id, account, row.text, row.severity, row.state, row.opened_by, row.owner,
             row.source, row.opened_at, row.acknowledged_at, row.resolved_at, row.confirmed_at, row.reopened_at,
             row.reopen_count, row.satisfaction, row.note, row.channel, row.thread_ts, tier, zone.key)
    c.stages = stages_of(row, tier, zone, cx.sla)
    if row.state in ACTIVE:
        running = [s for s in c.stages if s.met_at is None]
        for s in running:
            s.overdue = now > s.due
        c.overdue = any(s.overdue for s in running)
        c.escalated = any(now > s.escalate_at for s in running)
    return c


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


def _naive(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(tzinfo=None)


# ------------------------------------------------------------------ access
def may_work(store: Store, person: Person | None, account_id: str) -> bool:
    """Who may see an account may open and work its cases (the accounts' one access rule)."""
    from skills.edit import may_edit

    return may_edit(store, person, account_id)


def may_confirm(person: Person | None, row: Any) -> bool:
    """The customer's confirmation is recorded by the case's owner, whoever opened it, or an admin."""
    if person is None:
        return False
    idents = {person.email, *([person.slack_id] if person.slack_id else [])}
    return person.role == "admin" or row.owner in idents or row.opened_by in idents


# ------------------------------------------------------------------ writes
_CASE_COMMAND = re.compile(r"\s*(.+?)\s*[:：]\s*(\S.*)", re.S)
_SEVERITY_WORD = re.compile(r"\s+(?:severity\s+)?(high|low|normal)\s*$", re.I)


def parse_case_command(text: str) -> tuple[str, str, str] | None:
    """`<account> [high|low]: <what happened>` (`/kam case`, the demo console) -> (account name, severity, text);
    None when there is no colon or nothing after it."""
    m = _CASE_COMMAND.match(text or "")
    if not m:
        return None
    name, what = m.groups()
    severity = "normal"
    if sev := _SEVERITY_WORD.search(name):
        severity, name = sev.group(1).lower(), name[:sev.start()]
    return name.strip(), severity, what


def clean_text(text: str | None, what: str = "text", limit: int = MAX_TEXT_CHARS) -> str:
    value = (text or "").strip()
    if not value:
        raise CaseError(f"{what}: describe what happened (the case text is empty)" if what == "text" else
                        f"{what}: empty", field=what)
    if len(value) > limit:
        raise CaseError(f"{what}: at most {limit:,} characters, not {len(value):,}", field=what)
    if "\x00" in value:
        raise CaseError(f"{what}: contains a NUL character", field=what)
    return value


def open_case(store: Store, settings: Settings, account_id: str, text: str, by: Person | None, *,
              severity: str = "normal", assign: str | None = None, source: str = "cli",
              now: dt.datetime | None = None, channel: str | None = None, thread_ts: str | None = None) -> Case:
    """Open a case at an account. Raises CaseError (nothing stored) for an unknown account or one the person may not
    see, an empty or oversized text, an unknown severity, or an assignee who is not on the account's team."""
    if by is None:
        raise CaseError("as: unknown person (not in people.yaml)", field="as")
    if severity not in SEVERITIES:
        raise CaseError(f"severity: one of {', '.join(SEVERITIES)}, not {severity!r}", field="severity")
    text = clean_text(text)
    now = _now(now)
    with store.session() as s:
        account = s.get(AccountRow, account_id)
        if account is None:
            raise CaseError(f"account: no account {account_id!r}", field="account")
    if not may_work(store, by, account_id):
        raise CaseError(f"account: {account.name} is not among the accounts {by.email} can see", field="account")
    owner = account.owner
    with store.session() as s:
        if assign:
            members = {m: r for m, r in s.execute(select(AccountMemberRow.member, AccountMemberRow.relation)
                                                  .where(AccountMemberRow.account_id == account_id))}
            person = store.person(assign)
            candidates = {assign, assign.lower(), *([person.email, person.slack_id or ""] if person else [])}
            if not candidates & set(members):
                raise CaseError(f"assign: {assign} is not the owner or on the team of {account.name}",
                                field="assign")
            owner = person.email if person else assign
        else:
            person = store.person(owner)
            owner = person.email if person else owner
        row = CaseRow(account_id=account_id, text=text, severity=severity, state="open", opened_by=by.email,
                      owner=owner, source=source, opened_at=_naive(now), reopen_count=0, channel=channel,
                      thread_ts=thread_ts, updated_at=_naive(now))
        s.add(row)
        s.flush()
        s.add(CaseEventRow(case_id=row.id, action="open", by=by.email, at=_naive(now), note=None))
        case_id = row.id
    return get_case(store, settings, case_id, now=now)


def act(store: Store, settings: Settings, case_id: int, action: str, by: Person | None, *,
        satisfaction: Any = None, note: str | None = None, now: dt.datetime | None = None) -> Case:
    """ack | resolve | confirm | reopen a case, checked against the state machine and the access rule. A confirmation
    needs the customer's satisfaction (1-5) and takes a note. Raises CaseError; nothing is stored then."""
    if action not in TRANSITIONS:
        raise CaseError(f"action: one of {', '.join(ACTIONS)}, not {action!r}", field="action")
    if by is None:
        raise CaseError("as: unknown person (not in people.yaml)", field="as")
    now = _now(now)
    score: int | None = None
    if action == "confirm":
        score = parse_satisfaction(satisfaction)
    note = clean_text(note, "note", MAX_NOTE_CHARS) if note is not None and note.strip() else None
    with store.session() as s:
        row = s.scalars(select(CaseRow).where(CaseRow.id == case_id).with_for_update()).first()
        if row is None or not may_work(store, by, row.account_id):
            raise CaseError(f"id: no case {case_id} among the accounts {by.email} can see", field="id")
        sources, target = TRANSITIONS[action]
        if row.state not in sources:
            raise CaseError(f"id: case {case_id} is {row.state}; {action} needs a case that is "
                            f"{' or '.join(sources)}", field="id")
        if action == "confirm" and not may_confirm(by, row):
            raise CaseError(f"as: case {case_id} is {row.owner}'s; only its owner, whoever opened it ({row.opened_by}) "
                            "or an admin can record the customer's confirmation", field="as")
        at = _naive(now)
        row.state, row.updated_at = target, at
        if action == "ack":
            row.acknowledged_at = at
        elif action == "resolve":
            row.resolved_at = at
            if row.acknowledged_at is None or row.acknowledged_at < (row.reopened_at or row.opened_at):
                row.acknowledged_at = at  # resolved at once: the response came with it
        elif action == "confirm":
            row.confirmed_at, row.satisfaction, row.note = at, score, note
        elif action == "reopen":
            row.reopened_at, row.reopen_count = at, row.reopen_count + 1
            row.resolved_at = row.confirmed_at = None
            row.satisfaction = None
        s.add(CaseEventRow(case_id=row.id, action=action, by=by.email, at=at,
                           note=f"satisfaction {score}" + (f": {note}" if note else "") if action == "confirm"
                           else note))
    return get_case(store, settings, case_id, now=now)


def parse_satisfaction(value: Any) -> int:
    try:
        score = int(str(value).strip())
    except (TypeError, ValueError):
        score = 0
    if value is None or str(value).strip() == "":
        raise CaseError("satisfaction: the customer's satisfaction 1-5 is needed to confirm a case",
                        field="satisfaction")
    if not 1 <= score <= 5 or str(score) != str(value).strip():
        raise CaseError(f"satisfaction: a whole number from 1 to 5, not {value!r}", field="satisfaction")
    return score


def set_thread(store: Store, case_id: int, channel: str, ts: str) -> None:
    """Record the Slack thread where the case lives (the first message posted about it)."""
    with store.session() as s:
        s.execute(update(CaseRow).where(CaseRow.id == case_id, CaseRow.channel.is_(None))
                  .values(channel=channel, thread_ts=ts))


def resolutions(store: Store, settings: Settings, since: dt.datetime, until: dt.datetime,
                tiers: dict[str, str] | None = None) -> list[tuple[str, bool]]:
    """(account, resolved within its resolution target) for each case resolved in [since, until) and not reopened
    since (state resolved or closed): the service KPI (skills/kpis.py)."""
    with store.session() as s:
        rows = s.execute(select(CaseRow).where(CaseRow.state.in_(("resolved", "closed")),
                                               CaseRow.resolved_at >= _naive(since),
                                               CaseRow.resolved_at < _naive(until))).scalars().all()
        s.expunge_all()
    cx = _Context(store, settings, tiers)
    out = []
    for row in rows:
        stages = stages_of(row, cx.tiers.get(row.account_id), cx.zone(row.owner), cx.sla)
        resolution = next(st for st in stages if st.stage == "resolution")
        out.append((row.account_id, resolution.met_at is not None and resolution.met_at <= resolution.due))
    return out


def reassign_open_cases(store: Store, account_ids: Iterable[str], from_email: str, to_email: str) -> int:
    """Move the cases still open (not closed) at these accounts from one owner to another (a handover); returns
    how many moved. Each move is a step in the case's history."""
    ids = list(account_ids)
    if not ids:
        return 0
    from_person, to_person = store.person(from_email), store.person(to_email)
    olds = {from_email, from_email.lower()}  # owners are stored as emails; a Slack id may have been given
    if from_person is not None:
        olds |= {from_person.email, *([from_person.slack_id] if from_person.slack_id else [])}
    new_owner = to_person.email if to_person else to_email
    at = _naive(_now(None))
    with store.session() as s:
        rows = list(s.scalars(select(CaseRow).where(CaseRow.account_id.in_(ids), CaseRow.owner.in_(olds),
                                                    CaseRow.state != "closed").with_for_update()))
        for row in rows:
            s.add(CaseEventRow(case_id=row.id, action="reassign", by=None, at=at,
                               note=f"{row.owner} -> {new_owner}"))
            row.owner, row.updated_at = new_owner, at
    return len(rows)


# ------------------------------------------------------------------ reads
def get_case(store: Store, settings: Settings, case_id: int, *, person: Person | None = None,
             now: dt.datetime | None = None) -> Case:
    """One case; with `person`, only if they may see its account. Raises CaseError for an unknown id."""
    with store.session() as s:
        found = s.execute(select(CaseRow, AccountRow.name).join(AccountRow, AccountRow.id == CaseRow.account_id)
                          .where(CaseRow.id == case_id)).first()
    if found is None or (person is not None and not may_work(store, person, found[0].account_id)):
        who = f" among the accounts {person.email} can see" if person else ""
        raise CaseError(f"id: no case {case_id}{who}", field="id")
    return _case(found[0], found[1], _Context(store, settings), _now(now))


def list_cases(store: Store, settings: Settings, *, person: Person | None = None,
               account_ids: set[str] | None = None, open_only: bool = False, overdue_only: bool = False,
               opened_since: dt.datetime | None = None, opened_until: dt.datetime | None = None,
               now: dt.datetime | None = None, tiers: dict[str, str] | None = None,
               touched_since: dt.datetime | None = None, started_since: dt.datetime | None = None) -> list[Case]:
    """Cases the person may see (everyone's with no person), newest first, filtered as asked (`touched_since`:
    running, or changed since then)."""
    now = _now(now)
    visible = store.visible_account_ids(person) if person is not None else None
    q = select(CaseRow, AccountRow.name).join(AccountRow, AccountRow.id == CaseRow.account_id)
    if open_only or overdue_only:
        q = q.where(CaseRow.state.in_(OPEN_STATES if open_only and not overdue_only else ACTIVE))
    if account_ids is not None:
        q = q.where(CaseRow.account_id.in_(sorted(account_ids)))
    if opened_since is not None:
        q = q.where(CaseRow.opened_at >= _naive(opened_since))
    if opened_until is not None:
        q = q.where(CaseRow.opened_at < _naive(opened_until))
    if touched_since is not None:
        q = q.where(or_(CaseRow.state.in_(ACTIVE), CaseRow.updated_at >= _naive(touched_since)))
    if started_since is not None:  # the current round (since opening or the last reopening) began then or later
        q = q.where(func.coalesce(CaseRow.reopened_at, CaseRow.opened_at) >= _naive(started_since))
    with store.session() as s:
        rows = s.execute(q.order_by(CaseRow.opened_at.desc(), CaseRow.id.desc())).all()
    cx = _Context(store, settings, tiers)
    out = [_case(r, name, cx, now) for r, name in rows if visible is None or r.account_id in visible]
    return [c for c in out if c.overdue] if overdue_only else out


def history(store: Store, case_id: int) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.scalars(select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.id))
        return [{"action": r.action, "by": r.by, "at": r.at.isoformat(timespec="seconds") + "Z", "note": r.note}
                for r in rows]


# ------------------------------------------------------------------ nudges and escalation
def case_nudges(store: Store, settings: Settings, start: dt.date, end: dt.date, accounts: dict[str, tuple[str, str]],
                tiers: dict[str, str]) -> list[Any]:
    """`case_due` on the owner's local business day a running target falls due, `case_overdue` on the next business
    day after it passed (flagged `escalate` when it is also past the escalation multiple by then). Computed from the
    targets alone, so a catch-up after downtime finds the same nudges and the ledger sends each once."""
    from skills.nudges import Nudge

    cx = _Context(store, settings, tiers)
    with store.session() as s:
        rows = s.execute(select(CaseRow.id, CaseRow.account_id, CaseRow.text, CaseRow.severity, CaseRow.state,
                                CaseRow.owner, CaseRow.opened_at, CaseRow.acknowledged_at, CaseRow.resolved_at,
                                CaseRow.reopened_at, CaseRow.reopen_count)
                         .where(CaseRow.state.in_(ACTIVE),
                                func.coalesce(CaseRow.reopened_at, CaseRow.opened_at) >= _naive(
                                    dt.datetime.combine(start - horizon(cx.sla), dt.time(), dt.UTC)))).all()
    out: list[Nudge] = []
    sla = cx.sla
    for row in rows:
        acc = accounts.get(row.account_id)
        if acc is None:
            continue
        zone = cx.zone(row.owner)
        tier = cx.tiers.get(row.account_id)
        since = row.reopened_at or row.opened_at
        start_at = _aware(since, zone)
        for stage, met in (("response", row.acknowledged_at or row.resolved_at), ("resolution", row.resolved_at)):
            if met is not None and met >= since:
                continue
            # the due moment alone first: most running cases are nowhere near a target on the swept days
            target = sla.target(tier, row.severity, stage)
            due = add_business(start_at, target, sla)
            due_day = due.date()
            over_day = next_business_day(due_day, sla)
            if not (start <= due_day <= end or start <= over_day <= end):
                continue
            escalate_at = add_business(start_at, target.scaled(sla.escalate_after), sla)
            person = cx.person(row.owner)
            summary = row.text if len(row.text) <= 120 else row.text[:119] + "…"
            common = dict(recipient=person.email if person else row.owner, account_id=row.account_id,
                          account=acc[0], subject=f"case:{row.id}", cycle=f"{stage}-r{row.reopen_count}",
                          contact=None, detail=summary)
            extra = {"case_id": row.id, "stage": stage, "severity": row.severity, "state": row.state,
                     "target": target.label(), "due_at": due.isoformat(), "escalate_at": escalate_at.isoformat(),
                     "tier": tier or sla.untiered}
            if start <= due_day <= end:
                out.append(Nudge(kind="case_due", due=due_day, remind_on=due_day, step="due",
                                 title=f"Case #{row.id} {stage} due {due:%H:%M} ({target.label()})", days_left=0,
                                 extra=extra, **common))
            if start <= over_day <= end:
                escalate = dt.datetime.combine(over_day, sla.start, zone) > escalate_at
                out.append(Nudge(kind="case_overdue", due=due_day, remind_on=over_day, step="overdue",
                                 title=f"Case #{row.id} {stage} overdue (target {target.label()})",
                                 days_left=(due_day - over_day).days, escalate=escalate, extra=extra, **common))
    return out


@dataclass
class Escalation:
    case_id: int
    account_id: str
    account: str
    owner: str
    stage: str
    target: str
    severity: str
    tier: str | None
    due: dt.datetime
    escalated_at: dt.datetime
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "account_id": self.account_id, "account": self.account,
                "owner": self.owner, "stage": self.stage, "target": self.target, "severity": self.severity,
                "tier": self.tier, "due": self.due.isoformat(), "escalated_at": self.escalated_at.isoformat(),
                "text": self.text}


def escalations(store: Store, settings: Settings, account_ids: set[str], since: dt.datetime, until: dt.datetime,
                tiers: dict[str, str] | None = None) -> tuple[list[Escalation], int]:
    """(cases whose escalation moment fell in [since, until), running cases escalated by `until` in all): the digest
    lists each escalation once, in the first digest after it happened (also when the case was handled since), and
    counts the ones still escalated."""
    # a round that began before `cut` escalated before `since` (its resolution target, never met while it runs,
    # lies within the horizon): such running cases are only counted, the rest is worked out
    cut = since - horizon(load_sla(settings), load_sla(settings).escalate_after)
    cx = _Context(store, settings, tiers)
    sla = cx.sla
    ids = sorted(account_ids)
    rows: list[Any] = []
    old = 0
    with store.session() as s:
        for i in range(0, len(ids), 5000):
            chunk, start = ids[i:i + 5000], func.coalesce(CaseRow.reopened_at, CaseRow.opened_at)
            rows += s.execute(select(CaseRow.id, CaseRow.account_id, AccountRow.name, CaseRow.text,
                                     CaseRow.severity, CaseRow.state, CaseRow.owner, CaseRow.opened_at,
                                     CaseRow.acknowledged_at, CaseRow.resolved_at, CaseRow.reopened_at)
                              .join(AccountRow, AccountRow.id == CaseRow.account_id)
                              .where(CaseRow.account_id.in_(chunk), start >= _naive(cut),
                                     or_(CaseRow.state.in_(ACTIVE), CaseRow.updated_at >= _naive(since)))).all()
            old += s.scalar(select(func.count()).select_from(CaseRow).where(
                CaseRow.account_id.in_(chunk), CaseRow.state.in_(ACTIVE), start < _naive(cut))) or 0
    new, still = [], old
    for row in rows:  # only the escalation moments are worked out (the due moment only for what is listed)
        zone, tier = cx.zone(row.owner), cx.tiers.get(row.account_id)
        began = row.reopened_at or row.opened_at
        start_at = _aware(began, zone)
        listed = running = False
        for stage, met in (("response", row.acknowledged_at or row.resolved_at), ("resolution", row.resolved_at)):
            met = met if met is not None and met >= began else None
            target = sla.target(tier, row.severity, stage)
            escalate_at = add_business(start_at, target.scaled(sla.escalate_after), sla)
            if met is None and row.state in ACTIVE and until > escalate_at:
                running = True
            if not listed and since <= escalate_at < until and (met is None or _aware(met, zone) > escalate_at):
                listed = True
                new.append(Escalation(row.id, row.account_id, row.name, row.owner, stage, target.label(),
                                      row.severity, tier, add_business(start_at, target, sla), escalate_at,
                                      row.text))
        still += running
    return sorted(new, key=lambda e: e.escalated_at), still


# ------------------------------------------------------------------ tiering inputs
@dataclass
class LoopInputs:
    complaints: int  # cases opened in the last 12 months
    satisfaction: float | None  # mean of the confirmed cases' satisfaction in the last 12 months
    last_confirmed: dt.date | None


def loop_inputs(conn: Any, today: dt.date) -> dict[str, LoopInputs]:
    """Per account with cases in the last 12 months: the complaints count and the confirmed satisfaction."""
    since = dt.datetime.combine(today - dt.timedelta(days=COMPLAINT_WINDOW_DAYS), dt.time())
    out: dict[str, LoopInputs] = {}
    for aid, n in conn.execute(select(CaseRow.account_id, func.count()).where(CaseRow.opened_at >= since)
                               .group_by(CaseRow.account_id)):
        out[aid] = LoopInputs(int(n), None, None)
    for aid, mean, last in conn.execute(
            select(CaseRow.account_id, func.avg(CaseRow.satisfaction), func.max(CaseRow.confirmed_at))
            .where(CaseRow.confirmed_at >= since, CaseRow.satisfaction.is_not(None)).group_by(CaseRow.account_id)):
        item = out.setdefault(aid, LoopInputs(0, None, None))
        item.satisfaction = round(float(mean), 2)
        item.last_confirmed = last.date() if isinstance(last, dt.datetime) else dt.date.fromisoformat(str(last)[:10])
    return out


def apply_loop_inputs(conn: Any, ids: list[str], raw: np.ndarray, today: dt.date,
                      factors: tuple[str, ...]) -> dict[str, set[str]]:
    """Let the service loop feed the tiering inputs, in place: `complaints` becomes the cases of the last 12 months
    (or the profile's own count when that is higher and dated within the 12 months); `satisfaction` becomes the
    mean of the confirmed cases when the profile's own figure is older than the latest confirmation (or absent).
    Returns {account id: factors taken from cases} for `kam tiers explain`."""
    loop = loop_inputs(conn, today)
    if not loop:
        return {}
    as_of = dict(conn.execute(select(MetricsRow.account_id, MetricsRow.as_of)
                              .where(MetricsRow.account_id.in_(list(loop)))).all())
    ci, si = factors.index("complaints"), factors.index("satisfaction")
    cut = today - dt.timedelta(days=COMPLAINT_WINDOW_DAYS)
    pos = {aid: i for i, aid in enumerate(ids)}
    used: dict[str, set[str]] = {}
    for aid, item in loop.items():
        i = pos.get(aid)
        if i is None:
            continue
        dated = as_of.get(aid)
        dated = dated if isinstance(dated, dt.date) or dated is None else dt.date.fromisoformat(str(dated)[:10])
        if item.complaints:
            own = raw[i, ci]
            own_counts = not np.isnan(own) and dated is not None and dated >= cut
            if not own_counts or item.complaints >= own:
                raw[i, ci] = float(item.complaints)
                used.setdefault(aid, set()).add("complaints")
        if item.satisfaction is not None and (np.isnan(raw[i, si]) or dated is None or
                                              (item.last_confirmed and dated < item.last_confirmed)):
            raw[i, si] = item.satisfaction
            used.setdefault(aid, set()).add("satisfaction")
    return used
