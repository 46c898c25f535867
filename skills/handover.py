"""Account handover: a leaving rep's accounts go to another rep with everything the product knows about them.

Plain data, no Slack. `handover()` checks who may do it (an admin, or a manager of both reps), then per account:
  * changes the owner (and replaces the leaving rep in the team) through `Store.edit_profile`, source "handover",
    so the change is in the history and a later ingest of a file that still names the old owner keeps it
    (knowledge/merge.py: a field the file did not change never overwrites the product);
  * moves the leaving rep's open nudges and snoozes to the new owner (scheduler/ledger.py tables) and copies the
    "done" marks of the current cycles, so nothing they already dealt with comes back;
  * reassigns the open service cases (skills.cases.reassign_open_cases);
  * builds the brief the new owner gets (`Brief`) and the summary for whoever made the handover.
Sending is the caller's business (bot/handover_notify.py): this module returns the data.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from knowledge.history import changes_of
from knowledge.profile import AccountProfile, Contact, Person
from knowledge.quality import quality
from knowledge.settings import Settings
from knowledge.store import Store
from skills.cases import list_cases, reassign_open_cases

log = logging.getLogger(__name__)
SOURCE = "handover"
DECISION_ROLES = ("decision_maker", "economic_buyer", "champion", "blocker")
ROLE_TITLES = {"decision_maker": "decision maker", "economic_buyer": "economic buyer", "champion": "champion",
               "blocker": "blocker"}
RECENT = 5  # interactions and notes in a brief


class HandoverError(ValueError):
    """Bad input or not allowed; `field` names the option at fault (from, to, accounts, as)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------------------------------- the brief
@dataclass
class DecisionPerson:
    name: str
    title: str | None
    role: str
    last_contact: str | None  # YYYY-MM-DD of the latest interaction naming them
    last_contact_summary: str | None


@dataclass
class Brief:
    account_id: str
    account: str
    previous_owner: str
    new_owner: str
    tier: str | None
    tier_why: list[str]
    decision_unit: list[DecisionPerson]
    key_dates: list[dict[str, Any]]  # open (today or later)
    cases: list[dict[str, Any]] | None  # the open service cases (None only in briefs older than cases)
    interactions: list[dict[str, Any]]  # newest first
    notes: list[dict[str, Any]]  # newest first
    our_share: float | None
    rivals: list[dict[str, Any]]  # suppliers with shares, then competitors
    gaps: list[str]
    stale: list[str]
    completeness: float
    clv: str | None = None
    nudges_moved: int = 0
    snoozes_moved: int = 0
    cases_moved: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HandoverResult:
    from_email: str
    to_email: str
    by: str
    accounts: list[str]  # ids, in name order
    owner_changed: list[str]  # ids whose owner changed
    team_changed: list[str]  # ids where only the team changed (the leaving rep was on the team)
    nudges_moved: int
    snoozes_moved: int
    cases_moved: int | None  # open service cases moved to the new owner
    briefs: list[Brief] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["briefs"] = [b.to_json() for b in self.briefs]
        return data


# ------------------------------------------------------------------------------------------- access
def may_hand_over(store: Store, by: Person | None, from_email: str, to_email: str) -> bool:
    """An admin, or a manager of both reps (directly or not); a manager may also take the accounts themself."""
    if by is None:
        return False
    if by.role == "admin":
        return True
    if by.role != "manager":
        return False
    reports = {p.email for p in store.reports_of(by.email)}
    return from_email in reports and (to_email in reports or to_email == by.email)


def _person(store: Store, ident: str | None, option: str) -> Person:
    if not ident or not ident.strip():
        raise HandoverError(f"--{option} is required: the email of a person in people.yaml", option)
    person = store.person(ident.strip())
    if person is None:
        raise HandoverError(f"--{option} {ident!r} is not a person in people.yaml", option)
    return person


def _idents(person: Person) -> set[str]:
    return {person.email, *([person.slack_id] if person.slack_id else [])}


def held_accounts(store: Store, person: Person) -> list[str]:
    """Accounts a person owns or is on the team of, in name order."""
    idents = _idents(person)
    return [s.id for s in store.summaries() if s.owner in idents or idents & set(s.team)]


def plan(store: Store, from_ident: str, to_ident: str, accounts: Sequence[str] | None, by_ident: str | None,
         resolve: Any = None) -> tuple[Person, Person, Person, list[str]]:
    """Check a handover without changing anything: (from, to, by, account ids). Raises HandoverError.

    `accounts`: names, aliases or ids (None or empty: every account the leaving rep holds); `resolve` turns a
    name into an id (default: exact id, name or alias)."""
    by = _person(store, by_ident, "as")
    old = _person(store, from_ident, "from")
    new = _person(store, to_ident, "to")
    if old.email == new.email:
        raise HandoverError(f"--from and --to are the same person ({old.email})", "to")
    if not may_hand_over(store, by, old.email, new.email):
        raise HandoverError(f"{by.email} may not hand over {old.email}'s accounts to {new.email}: only an admin or "
                            "a manager of both reps may", "as")
    held = held_accounts(store, old)
    if accounts:
        resolve = resolve or store.find_account
        ids: list[str] = []
        for name in accounts:
            name = name.strip()
            if not name:
                continue
            aid = resolve(name)
            if aid is None:
                raise HandoverError(f"--accounts: no account named {name!r}", "accounts")
            if aid not in held:
                owner = store.summaries([aid])[0].owner
                raise HandoverError(f"--accounts: {name!r} is held by {owner}, not by {old.email}", "accounts")
            if aid not in ids:
                ids.append(aid)
        if not ids:
            raise HandoverError("--accounts is empty: name at least one account, or leave it out for all",
                                "accounts")
        held = [a for a in held if a in ids]
    if not held:
        raise HandoverError(f"{old.email} holds no accounts to hand over", "from")
    return old, new, by, held


# ------------------------------------------------------------------------------------------- the change
def _ident(value: str) -> str:
    """Owner and team ids as the store keeps them: emails lower case, Slack ids as given."""
    return value.lower() if "@" in value else value


def _new_team(profile: AccountProfile, old: Person, new: Person, owner_moves: bool) -> list[str]:
    old_ids, new_ids = _idents(old), _idents(new)
    new_owns = _ident(profile.owner) in new_ids
    team: list[str] = []
    for member in profile.team:
        ident = _ident(member)
        if ident in old_ids:
            if not owner_moves and not new_owns:
                team.append(new.email)  # the leaving rep's seat on the team goes to the new owner
            continue
        if owner_moves and ident in new_ids:
            continue  # the new owner is the owner now, not also on the team
        team.append(member)
    return list(dict.fromkeys(team))


def _move_nudges(store: Store, account_ids: set[str], old: Person, new: Person
                 ) -> tuple[dict[str, int], dict[str, int]]:
    """Open nudges (sent, not done in their cycle) and snoozes of the leaving rep on these accounts go to the new
    owner; done marks are copied, so a cycle already dealt with stays quiet. Returns the nudges and the snoozes
    moved, per account."""
    from collections import Counter

    from scheduler.ledger import DeliveryRow, NudgeStateRow

    moved_nudges: Counter[str] = Counter()
    moved_snoozes: Counter[str] = Counter()
    with store.session() as s:
        states = {(r.kind, r.subject): r for r in s.scalars(
            select(NudgeStateRow).where(NudgeStateRow.recipient == old.email))
            if (r.payload or {}).get("account_id") in account_ids}
        theirs = {(r.kind, r.subject): r for r in s.scalars(
            select(NudgeStateRow).where(NudgeStateRow.recipient == new.email))}
        done = {(k, r.cycle) for k, r in states.items() if r.status == "done"}
        existing = {(r.kind, r.subject, r.occurrence) for r in s.scalars(
            select(DeliveryRow).where(DeliveryRow.recipient == new.email))}
        for row in s.scalars(select(DeliveryRow).where(DeliveryRow.recipient == old.email,
                                                       DeliveryRow.status == "sent", DeliveryRow.kind != "digest")):
            p = row.payload or {}
            if p.get("account_id") not in account_ids or ((row.kind, row.subject), p.get("cycle")) in done:
                continue
            if (row.kind, row.subject, row.occurrence) in existing:
                s.delete(row)  # the new owner was already sent this very reminder
            else:
                row.recipient, row.payload = new.email, {**p, "recipient": new.email}
                existing.add((row.kind, row.subject, row.occurrence))
            moved_nudges[p["account_id"]] += 1
        for key, row in states.items():
            payload = {**(row.payload or {}), "recipient": new.email}
            if key in theirs:  # the new owner's own decision about the same nudge stands
                continue
            if row.status == "snoozed":
                row.recipient, row.payload = new.email, payload
                moved_snoozes[payload["account_id"]] += 1
            else:
                s.add(NudgeStateRow(recipient=new.email, kind=row.kind, subject=row.subject, cycle=row.cycle,
                                    status=row.status, until=row.until, payload=payload, by=row.by))
    return dict(moved_nudges), dict(moved_snoozes)


def _move_cases(store: Store, account_ids: list[str], old: Person, new: Person) -> int:
    """Open service cases of these accounts held by the leaving rep, reassigned (skills/cases.py)."""
    return reassign_open_cases(store, account_ids, old.email, new.email) if account_ids else 0


def _open_cases(store: Store, settings: Settings, account_id: str) -> list[dict[str, Any]]:
    """The account's service cases not closed yet, oldest first, as the brief lists them."""
    found = list_cases(store, settings, account_ids={account_id}, open_only=True)
    return [{"id": c.id, "state": c.state, "severity": c.severity, "owner": c.owner, "overdue": c.overdue,
             "opened_at": c.opened_at.date().isoformat(), "text": c.text[:300]} for c in reversed(found)]


def handover(store: Store, settings: Settings, from_ident: str, to_ident: str, accounts: Sequence[str] | None,
             by_ident: str | None, *, today: dt.date | None = None, resolve: Any = None) -> HandoverResult:
    """Do the handover (see the module docstring); nothing changes when the input is refused."""
    today = today or dt.date.today()
    old, new, by, ids = plan(store, from_ident, to_ident, accounts, by_ident, resolve)
    origin = f"handover {old.email} -> {new.email}"
    old_ids = _idents(old)
    profiles = store.load_profiles(ids)
    owner_changed = [a for a in ids if _ident(profiles[a].owner) in old_ids]
    team_changed = [a for a in ids if a not in owner_changed]
    # what hangs off the ownership moves first: run again after a failure, the accounts not yet edited are still
    # held by the leaving rep and are picked up, and nothing of the ones already done is left behind
    nudges, snoozes = _move_nudges(store, set(owner_changed), old, new)
    cases = _move_cases(store, owner_changed, old, new)
    for aid in ids:
        owner_moves = aid in owner_changed
        fields: dict[str, Any] = {"team": _new_team(profiles[aid], old, new, owner_moves) or None}
        if owner_moves:
            fields["owner"] = new.email
        store.edit_profile(aid, fields, source=SOURCE, actor=by.email, origin=origin)
    result = HandoverResult(old.email, new.email, by.email, ids, owner_changed, team_changed,
                            sum(nudges.values()), sum(snoozes.values()), cases)
    result.briefs = briefs(store, settings, owner_changed, old.email, new.email, today)
    for b in result.briefs:
        b.nudges_moved, b.snoozes_moved = nudges.get(b.account_id, 0), snoozes.get(b.account_id, 0)
    return result


# ------------------------------------------------------------------------------------------- briefs
def _mentions(text: str | None, contact: Contact) -> bool:
    if not text:
        return False
    name = contact.name.casefold()
    if re.search(r"[\u3400-\u9fff]", name):
        return name in text.casefold()
    return re.search(rf"\b{re.escape(name)}\b", text.casefold()) is not None


def decision_unit(profile: AccountProfile) -> list[DecisionPerson]:
    """Who decides, buys, champions and blocks, each with our last recorded contact (an interaction naming them)."""
    out = []
    order = {r: i for i, r in enumerate(DECISION_ROLES)}
    for c in sorted((c for c in profile.contacts if c.role in DECISION_ROLES), key=lambda c: order[c.role or ""]):
        seen = [i for i in profile.interactions if _mentions(i.summary, c)]
        last = max(seen, key=lambda i: i.date) if seen else None
        out.append(DecisionPerson(c.name, c.title, c.role or "", last.date.isoformat() if last else None,
                                  last.summary if last else None))
    return out


def tier_reasons(store: Store, settings: Settings, account_ids: list[str],
                 today: dt.date) -> dict[str, tuple[str | None, list[str]]]:
    """Per account: the tier in force and why, in a few lines of `kam tiers explain` (the portfolio scored once)."""
    try:
        from skills.tiering.config import TieringConfigError, config_path, load_config
        from skills.tiering.history import explain_many
    except ImportError:
        return {}
    try:
        explained = explain_many(store, load_config(config_path(settings)), account_ids, today)
    except (KeyError, TieringConfigError) as exc:
        log.warning("no tier reasons in handover briefs: %s", exc)
        return {}
    out = {}
    for aid, e in explained.items():
        why = [f"{a.axis} {a.score:.2f}: {a.note}" if a.score is not None else a.note for a in e.axes]
        top = sorted((f for f in e.factors if f.contribution), key=lambda f: -(f.contribution or 0))[:3]
        if top:
            why.append("biggest contributions: " + ", ".join(f"{f.label} {f.value}" for f in top))
        why += [n for n in e.notes if n.startswith(("override", "not reviewed", "scores say"))]
        out[aid] = (e.tier, why)
    return out


def brief(store: Store, settings: Settings, account_id: str, previous_owner: str, new_owner: str,
          today: dt.date, *, reasons: tuple[str | None, list[str]] | None = None, clv: str | None = None) -> Brief:
    """One account's brief; `reasons` and `clv` when the caller computed them for many accounts at once."""
    profile = store.load_profile(account_id)
    if profile is None:
        raise KeyError(account_id)
    q = quality(profile, settings.kam_required_fields, today, settings.kam_stale_days)
    tier, why = reasons if reasons is not None else tier_reasons(store, settings, [account_id], today).get(
        account_id, (None, []))
    interactions = sorted(profile.interactions, key=lambda i: i.date, reverse=True)[:RECENT]
    notes = sorted(profile.notes, key=lambda n: n.date, reverse=True)[:RECENT]
    rivals = [{"name": i.name, "kind": "supplier", "share": i.share, "notes": i.notes}
              for i in profile.suppliers.items]
    rivals += [{"name": i.name, "kind": "competitor", "share": None, "notes": i.notes}
               for i in profile.competitors.items]
    if clv is None:
        clv = _values(store, [account_id], today).get(account_id)
    return Brief(
        account_id, profile.account, previous_owner, new_owner, tier, why, decision_unit(profile),
        [{"date": d.date.isoformat(), "kind": d.kind, "title": d.title}
         for d in sorted(profile.key_dates, key=lambda d: d.date) if d.date >= today],
        _open_cases(store, settings, account_id),
        [{"date": i.date.isoformat(), "kind": i.kind, "by": i.by, "summary": i.summary} for i in interactions],
        [{"date": n.date.isoformat(), "dimension": n.dimension, "by": n.by, "text": n.text} for n in notes],
        profile.metrics.purchase_share, rivals, list(q.missing), list(q.stale), round(q.overall, 2), clv)


def _values(store: Store, account_ids: list[str], today: dt.date) -> dict[str, str]:
    """Lifetime value lines (skills/clv.py); none when its parameters are broken (the handover goes on)."""
    from skills.clv import ClvConfigError, portfolio_clv

    try:
        return {aid: c.summary() for aid, c in portfolio_clv(store, account_ids, today).items()}
    except ClvConfigError as exc:
        log.warning("no lifetime values in handover briefs: %s", exc)
        return {}


def briefs(store: Store, settings: Settings, account_ids: Iterable[str], previous_owner: str, new_owner: str,
           today: dt.date) -> list[Brief]:
    ids = list(account_ids)
    reasons = tier_reasons(store, settings, ids, today)
    values = _values(store, ids, today)
    return [brief(store, settings, aid, previous_owner, new_owner, today, reasons=reasons.get(aid, (None, [])),
                  clv=values.get(aid)) for aid in ids]


# ------------------------------------------------------------------------------------------- from history
@dataclass
class OwnerSpell:
    owner: str
    since: dt.datetime | None  # None: from the account's creation
    until: dt.datetime | None  # None: still the owner
    source: str | None  # how they got it: file, crm, handover, ...
    by: str | None


def owner_history(store: Store, account_id: str) -> list[OwnerSpell]:
    """Who held the account, oldest first, from the change history of its `owner` field."""
    with store.session() as s:
        changes = [c for c in changes_of(s, account_id) if c.path == "owner"]
    spells: list[OwnerSpell] = []
    for c in changes:
        if spells:
            spells[-1].until = c.at
        elif c.old:
            spells.append(OwnerSpell(str(c.old), None, c.at, None, None))
        if c.new:
            spells.append(OwnerSpell(str(c.new), c.at, None, c.source, c.actor))
    return spells


def inherited(store: Store, new_owner: Person, previous: Person) -> list[tuple[str, str, dt.datetime, str | None]]:
    """Accounts the owner field moved from `previous` to `new_owner` (a handover, or any other change), as
    (account id, name, when, source), newest first; only accounts `new_owner` still holds."""
    from knowledge.history import ProfileChangeRow

    prev, mine = _idents(previous), _idents(new_owner)
    names = {s.id: (s.name, s.owner) for s in store.summaries()}
    out = []
    with store.session() as s:
        rows = s.scalars(select(ProfileChangeRow).where(ProfileChangeRow.path == "owner")
                         .order_by(ProfileChangeRow.at.desc(), ProfileChangeRow.id.desc()))
        for r in rows:
            if str(r.old) in prev and str(r.new) in mine and r.account_id in names \
                    and names[r.account_id][1] in mine and r.account_id not in {o[0] for o in out}:
                out.append((r.account_id, names[r.account_id][0], r.at, r.source))
    return out
