"""The sync rules of `kam ingest DIR` (docs/profile-format.md, "Sync rules"): the directory is the source of truth.

* people.yaml decides who may see what: a person it no longer lists is removed (with their role, hence their
  access); people from other sources (the CRM import) are left alone.
* A profile file that is gone from the directory takes its account with it (the account, its contacts, dates,
  interactions, notes and documents; the tier history stays). A file that is still there but invalid keeps its
  stored version, and an account another file took over is kept.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from knowledge.db import AccountRow, PersonRow, SourceFileRow
from knowledge.loader import ProfileError
from knowledge.profile import Person
from knowledge.store import Store

PEOPLE_FILES = ("people.yaml", "people.yml")


def sync_people(store: Store, people: list[Person], source: Path) -> list[str]:
    """Store people.yaml as the list of people, in one transaction; returns the emails removed."""
    wanted = {p.email for p in people}
    for attempt in (1, 2):
        try:
            return _sync_people(store, people, wanted, source)
        except IntegrityError as exc:
            # a second importer inserting the same person at the same moment (PostgreSQL): its row is committed
            # once we get here, so one more try updates instead; a real slack_id clash fails again
            if attempt == 2:
                raise ProfileError(source, "a slack_id is already used by a person from another source "
                                           f"({str(exc.orig).splitlines()[0]}); give each person their own") from None
    return []


def _sync_people(store: Store, people: list[Person], wanted: set[str], source: Path) -> list[str]:
    with store.session() as s:
        rows = s.scalars(select(PersonRow)).all()
        removed = sorted(r.email for r in rows
                         if r.email not in wanted and r.source and Path(r.source).name.lower() in PEOPLE_FILES)
        if removed:
            s.execute(delete(PersonRow).where(PersonRow.email.in_(removed)))
        # a person stored exactly as listed is left alone (and keeps the source it came from: a people.yaml
        # written by `kam export` lists the CRM's people too, and ingesting it changes nothing)
        stored = {r.email: (r.name, r.slack_id, r.role, r.manager, r.timezone) for r in rows}
        people = [p for p in people if stored.get(p.email) != (p.name, p.slack_id, p.role, p.manager, p.timezone)]
        # Slack ids may move between people (a swap, a corrected typo): clear the ones being rewritten first
        s.execute(update(PersonRow).where(PersonRow.email.in_([p.email for p in people])).values(slack_id=None))
        s.flush()
        for p in people:
            s.merge(PersonRow(email=p.email, name=p.name, slack_id=p.slack_id, role=p.role,
                              manager=p.manager, timezone=p.timezone, source=str(source)))
    return removed


def remove_vanished(store: Store, directory: Path, present: set[str]) -> list[str]:
    """Remove the accounts whose profile file was in `directory` and is gone; returns their names."""
    directory = directory.resolve()
    with store.session() as s:
        sources = s.execute(select(SourceFileRow.path, SourceFileRow.account_id)).all()
    removed = []
    for path, account_id in sources:
        if Path(path).parent != directory or path in present:
            continue
        with store.session() as s:  # one transaction per account
            account = s.get(AccountRow, account_id)
            if account is not None and account.source == path:  # not taken over by another file meanwhile
                removed.append(account.name)
                s.execute(delete(AccountRow).where(AccountRow.id == account_id))  # children: ON DELETE CASCADE
            s.execute(delete(SourceFileRow).where(SourceFileRow.path == path))
    return removed
