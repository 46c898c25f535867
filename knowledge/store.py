"""The relational store: saving validated profiles and people, reading them back, and who may see what."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from slugify import slugify
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from knowledge.db import (
    AccountMemberRow,
    AccountRow,
    AliasRow,
    ContactRow,
    DimensionRow,
    DocumentRow,
    InteractionRow,
    KeyDateRow,
    MetricsRow,
    NoteRow,
    PersonRow,
    SourceFileRow,
    YearlyRevenueRow,
    create_schema,
    make_engine,
    session_factory,
    upsert,
    utcnow,
)
from knowledge.fields import RECORDS, flatten, parse, records, unflatten
from knowledge.history import SOURCES, Change, diff, last_changed, load_base, record, save_base
from knowledge.loader import ProfileError, field_name
from knowledge.merge import Conflict, merge
from knowledge.profile import DIMENSIONS, AccountProfile, Contact, Interaction, KeyDate, Metrics, Note, Person
from knowledge.settings import Settings

log = logging.getLogger(__name__)
LOAD_CHUNK = 500  # accounts per IN (...) query when loading many; well under SQLite's variable limit


def name_key(name: str) -> str:
    """Names compare after NFKC folding, so `Ｈａｎｓｈａｎ` (full-width) is `Hanshan`, not a second account."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def profile_hash(profile: AccountProfile) -> str:
    payload = json.dumps(profile.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class SaveResult:
    account_id: str
    changed: bool
    conflicts: list[Conflict] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


@dataclass
class AccountSummary:
    id: str
    name: str
    owner: str
    team: list[str]
    industry: str | None
    region: str | None
    source: str
    aliases: list[str] = field(default_factory=list)


class _CreatedMeanwhile(Exception):
    """The account a new profile would create was committed by a concurrent importer: save again as an update."""


class Store:
    """All reads and writes of accounts and people. One instance per process; sessions are short."""

    def __init__(self, settings: Settings):
        self.settings = settings
        if settings.database_url is None:
            settings.home.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.db_url)
        self.migrations = create_schema(self.engine)  # what was done to the schema, for `kam init` / `kam migrate`
        self._sessions = session_factory(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back (changing nothing) on any error."""
        with self._sessions() as session, session.begin():
            yield session

    # ---------------------------------------------------------------- people
    def save_people(self, people: Iterable[Person], source: str) -> int:
        people = list(people)
        rows = {p.email: {"email": p.email, "name": p.name, "slack_id": p.slack_id, "role": p.role,
                          "manager": p.manager, "timezone": p.timezone, "source": source} for p in people}
        with self.session() as s:
            upsert(s, PersonRow, list(rows.values()), ["email"])
        return len(people)

    def people(self) -> list[Person]:
        with self.session() as s:
            rows = s.scalars(select(PersonRow).order_by(PersonRow.email)).all()
            return [_person(r) for r in rows]

    def person(self, ident: str) -> Person | None:
        """A person by email (case-insensitive) or Slack user id."""
        with self.session() as s:
            row = s.get(PersonRow, ident.lower()) or s.scalars(
                select(PersonRow).where(PersonRow.slack_id == ident)).first()
            return _person(row) if row else None

    # -------------------------------------------------------------- accounts
    def account_id_for(self, s: Session, name: str) -> str:
        """A stable, readable id for a new account (slug of its name, made unique)."""
        base = slugify(name, max_length=60) or "account-" + hashlib.sha1(name.encode()).hexdigest()[:8]
        candidate, n = base, 2
        while s.get(AccountRow, candidate) is not None:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def _check_names(self, s: Session, profile: AccountProfile, account_id: str | None, source: str,
                     is_new: bool = False) -> None:
        keys = [name_key(profile.account)] + [name_key(a) for a in profile.aliases]
        for key, label in zip(keys, [profile.account, *profile.aliases], strict=True):
            other = s.scalars(select(AccountRow).where(AccountRow.name_key == key)).first()
            if other is None:
                alias = s.get(AliasRow, key)
                other = s.get(AccountRow, alias.account_id) if alias else None
            if other is not None and other.id != account_id:
                if is_new and (other.source == source or other.name_key == keys[0]):
                    raise _CreatedMeanwhile  # another importer of this file/account committed it just now
                raise ProfileError(source, f"duplicate account name {label!r}: already used by account "
                                           f"{other.name!r} from {other.source}", field="account")

    def find_by_source_or_name(self, s: Session, profile: AccountProfile, source: str) -> AccountRow | None:
        """The stored account a profile updates: same name, else the account last loaded from the same file
        (an account renamed in its file). Duplicates within one import run are caught by the importer."""
        # FOR UPDATE (PostgreSQL; SQLite has one writer anyway): a concurrent writer of this account waits for us,
        # then reads what we wrote, instead of replacing child rows from a stale snapshot
        row = s.scalars(select(AccountRow).where(AccountRow.name_key == name_key(profile.account))
                        .with_for_update()).first()
        if row is None:
            row = s.scalars(select(AccountRow).where(AccountRow.source == source).with_for_update()).first()
        return row

    def unchanged_sources(self) -> dict[str, tuple[str, str, list[str]]]:
        """path -> (sha256, account id, labels) for files whose account still comes from that file."""
        with self.session() as s:
            rows = s.execute(select(SourceFileRow.path, SourceFileRow.sha256, SourceFileRow.account_id,
                                    SourceFileRow.labels)
                             .join(AccountRow, (AccountRow.id == SourceFileRow.account_id)
                                   & (AccountRow.source == SourceFileRow.path))).all()
        return {r.path: (r.sha256, r.account_id, list(r.labels or [])) for r in rows}

    def remember_source(self, path: str, sha256: str, account_id: str, labels: list[str]) -> None:
        with self.session() as s:  # an upsert: two importers of one directory both get here
            upsert(s, SourceFileRow, [{"path": path, "sha256": sha256, "account_id": account_id,
                                       "labels": labels}], ["path"])

    def save_profile(
        self, profile: AccountProfile, source: str, *, keep_other_sources: bool = True
    ) -> tuple[str, bool]:
        """Import one profile file's account (see import_profile; records from other sources are always kept, so
        `keep_other_sources` is only there for old callers). Returns (id, changed)."""
        result = self.import_profile(profile, source, kind="file")
        return result.account_id, result.changed

    def import_profile(self, profile: AccountProfile, source: str, *, kind: str, base_key: str | None = None,
                       actor: str | None = None, origin: str | None = None,
                       source_time: dt.datetime | None = None, account_id: str | None = None,
                       scope: set[str] | None = None) -> SaveResult:
        """Merge an imported profile into the store, field by field, in one transaction (docs/profile-format.md,
        "Merge rules"; knowledge/merge.py): a field the source did not change since its last import never
        overwrites what the product holds; when both changed the newer wins and the conflict is returned.

        `source` names where the account lives (a file path, "crm:DIR#name"); `kind` is the history's source
        (file, crm, filing); `base_key` the import source the base snapshot is kept under (default `source`);
        `source_time` when the source was last changed (default now); `account_id` the account to merge into
        (default: found by name, else by `source`); `scope` the only field paths this import may change.
        A `file` import also replaces the account's records that came from profile files (key dates,
        interactions, notes); records from elsewhere (Slack, the CRM) are kept.
        Two processes saving the same account: an existing row is locked (the second waits for the first), and a
        new account created by both at once fails one insert; that one is retried once as an update.
        """
        args = (profile, source, kind, base_key or source, actor, origin, source_time or utcnow(), account_id, scope)
        try:
            return self._import_profile(*args)
        except (IntegrityError, _CreatedMeanwhile):
            log.warning("account %r was created by another writer at the same time; saving over it", profile.account)
        try:
            return self._import_profile(*args)
        except (IntegrityError, _CreatedMeanwhile) as exc:
            raise ProfileError(source, f"account {profile.account!r} is being written by another process at the same "
                                       "time (two imports of the same account); run this import again when the "
                                       f"other one is done ({type(getattr(exc, 'orig', exc)).__name__})",
                               field="account") from None

    def _import_profile(self, profile: AccountProfile, source: str, kind: str, base_key: str, actor: str | None,
                        origin: str | None, source_time: dt.datetime, account_id: str | None,
                        scope: set[str] | None) -> SaveResult:
        theirs = flatten(profile)
        digest = profile_hash(profile)
        with self.session() as s:
            if account_id is not None:
                row = s.scalars(select(AccountRow).where(AccountRow.id == account_id).with_for_update()).first()
            else:
                row = self.find_by_source_or_name(s, profile, source)
            conflicts: list[Conflict] = []
            if row is None:
                new_id = self.account_id_for(s, profile.account)
                self._check_names(s, profile, new_id, source, is_new=True)
                row = AccountRow(id=new_id, revision=0, indexed_revision=0, source=source, file_hash=digest)
                s.add(row)
                before, merged = None, theirs
            elif row.file_hash == digest and scope is None:
                # the same content as the account's last import (from this source, or from the file this one is a
                # copy of): the source changed nothing since, so by the merge rules nothing of it can change
                if kind == "file" and row.source != source and not os.path.lexists(row.source):
                    row.source = source  # a moved file: remember where it lives now
                return SaveResult(row.id, False)
            else:
                before = self._profiles_from_rows(s, [row])[row.id]
                current = flatten(before)
                base = load_base(s, row.id, base_key)
                if base is None and kind == "file" and row.source != source:
                    base = load_base(s, row.id, row.source)  # a moved or copied file goes on from the old one
                if base is None and row.source == source:  # stored before bases were kept: the source owned it
                    base = current
                if theirs == current:  # the common re-import: nothing to merge (and no history to read)
                    merged = current
                else:
                    merged, conflicts = merge(base, theirs, current, source_time=source_time,
                                              changed_at=last_changed(s, row.id), scope=scope)
            kept = profile if kind == "file" else before  # whose records the merged profile carries
            try:
                after = AccountProfile.model_validate({**unflatten(merged), **{k: getattr(kept, k) for k in RECORDS}}
                                                      if kept else unflatten(merged))
            except ValidationError as exc:  # e.g. the file's shares plus a share changed in the product
                err = exc.errors()[0]
                error = ProfileError(source, f"merged with what the product holds, the profile is invalid: "
                                             f"{err['msg']} (see `kam history`; change the file or the product)",
                                     field=field_name(tuple(err["loc"])))
                error.loc = tuple(err["loc"])  # the importer that has the file's text adds the line
                raise error from None
            if before is not None:
                self._check_names(s, after, row.id, source)
            changes = self._write(s, row, before, after, records_from=source if kind == "file" else None,
                                  source=kind, actor=actor, origin=origin or source)
            if (before is None or changes or row.source == source) and scope is None:
                row.source, row.file_hash = source, digest  # a scoped import leaves the account where it lives
            elif kind == "file" and row.source != source and digest == row.file_hash \
                    and not os.path.lexists(row.source):
                row.source = source  # the same content from a moved file: remember where it lives now
            save_base(s, row.id, base_key, theirs)
            return SaveResult(row.id, bool(changes) or before is None, conflicts, changes)

    def edit_profile(self, account_id: str, fields: Mapping[str, Any] | None = None, *,
                     add: Sequence[Note | Interaction | KeyDate] = (), source: str, actor: str | None,
                     origin: str | None = None, at: dt.datetime | None = None) -> list[Change]:
        """Change an account from inside the product (Slack, a handover, the CLI), in one transaction, recording
        every change in the history. This is the entry point for editing modals.

        `fields`: {field path: new value}, paths as in knowledge/fields.py (`finance.revenue`,
        `contacts[Zhang Min].title`, `suppliers.items[SMC].share`); None removes the field, and removing an
        item's `.name` (`contacts[Zhang Min].name`) removes the item; a new item is added by setting its `.name` (and
        any other of its fields). `add`: records (notes, interactions, key
        dates) to add. `source`: slack | cli | handover (knowledge.history.SOURCES); `actor`: who (an email or
        Slack id). Raises KeyError for an unknown account and ValueError (a pydantic ValidationError) when the
        result is not a valid profile; nothing is written then. Returns the changes recorded (none when the
        values were already as asked).
        """
        with self.session() as s:
            row = s.scalars(select(AccountRow).where(AccountRow.id == account_id).with_for_update()).first()
            if row is None:
                raise KeyError(account_id)
            before = self._profiles_from_rows(s, [row])[account_id]
            flat = flatten(before)
            for path, value in (fields or {}).items():
                parse(path)  # a malformed path is an error, not a silent new field
                if value is None:
                    flat.pop(path, None)
                    if path.endswith("].name"):
                        item = path[: -len("name")]
                        flat = {p: v for p, v in flat.items() if not p.startswith(item)}
                else:
                    flat[path] = value
            after = AccountProfile.model_validate({**unflatten(flat), **{k: getattr(before, k) for k in RECORDS}})
            self._check_names(s, after, account_id, row.source)
            return self._write(s, row, before, after, records_from=None, add=add, source=source, actor=actor,
                               origin=origin, at=at)

    def _write(self, s: Session, row: AccountRow, before: AccountProfile | None, after: AccountProfile, *,
               records_from: str | None, source: str, actor: str | None, origin: str | None,
               add: Sequence[Note | Interaction | KeyDate] = (), at: dt.datetime | None = None,
               added: list | None = None) -> list[Change]:
        """The one write of a profile: store `after`'s fields (and, with `records_from`, its records as the
        profile-file records), add `add` as records of `source`, and record what changed. Nothing is written
        and the revision stays when nothing changes."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        new = before is None
        if not new and flatten(before) == flatten(after) and not add and (
                records_from is None or self._file_records_same(s, row.id, after)):
            return []
        row.name, row.name_key = after.account, name_key(after.account)
        row.owner, row.team = _ident(after.owner), [_ident(t) for t in after.team]
        row.industry, row.region = after.industry, after.region
        s.flush()
        self._replace_children(s, row.id, after, records=records_from is not None, new=new)
        for item in add:
            table = {Note: NoteRow, Interaction: InteractionRow, KeyDate: KeyDateRow}[type(item)]
            added_row = table(account_id=row.id, source=source, **item.model_dump())
            s.add(added_row)
            if added is not None:
                added.append(added_row)
        s.flush()
        # a new account holds exactly `after` (nothing else can be there yet); otherwise read back what is stored
        now = after if new and not add else self._profiles_from_rows(s, [row])[row.id]
        old = {**flatten(before), **records(before)} if before is not None else {}
        changes = record(s, row.id, diff(old, {**flatten(now), **records(now)}), source=source, actor=actor,
                         at=at, origin=origin)
        if changes or new:
            row.revision = (row.revision or 0) + 1
        return changes

    def _file_records_same(self, s: Session, account_id: str, p: AccountProfile) -> bool:
        stored = {t: sorted(_record_key(r) for r in s.scalars(select(t).where(t.account_id == account_id,
                                                                                t.source == "profile")))
                  for t in (KeyDateRow, InteractionRow, NoteRow)}
        return stored == self._file_records(s, account_id, p)

    def _file_records(self, s: Session, account_id: str, p: AccountProfile) -> dict[type, list[tuple]]:
        """The profile's records that are not already there from another source (an exported note from Slack
        read back from its file is the same note, not a second one), as sorted keys per table."""
        others: dict[type, list[tuple]] = {}
        for t in (KeyDateRow, InteractionRow, NoteRow):
            others[t] = [_record_key(r) for r in s.scalars(select(t).where(t.account_id == account_id,
                                                                           t.source != "profile"))]
        out: dict[type, list[tuple]] = {}
        for t, items in ((KeyDateRow, p.key_dates), (InteractionRow, p.interactions), (NoteRow, p.notes)):
            pool = list(others[t])
            keep = []
            for item in items:
                key = _record_key(item)
                if key in pool:
                    pool.remove(key)
                else:
                    keep.append(key)
            out[t] = sorted(keep)
        return out

    def _replace_children(self, s: Session, account_id: str, p: AccountProfile, records: bool,
                          new: bool = False) -> None:
        """Replace the account's rows with the profile's. Inserts go as one executemany per table (the ORM's
        bulk path): per-object unit-of-work bookkeeping was most of an import's time."""
        if not new:  # a brand-new id has no rows to delete (foreign keys are enforced)
            for table in (AliasRow, DimensionRow, ContactRow, MetricsRow, AccountMemberRow):
                s.execute(delete(table).where(table.account_id == account_id))
            if records:  # the profile file's records; those from elsewhere (Slack, the CRM) stay
                for table in (KeyDateRow, InteractionRow, NoteRow):
                    s.execute(delete(table).where(table.account_id == account_id, table.source == "profile"))
        rows: dict[type, list[dict]] = {}
        seen_alias = set()
        for alias in p.aliases:
            key = name_key(alias)
            if key != name_key(p.account) and key not in seen_alias:
                seen_alias.add(key)
                rows.setdefault(AliasRow, []).append({"alias_key": key, "account_id": account_id, "alias": alias,
                                                      "position": len(seen_alias)})
        members = {_ident(p.owner): "owner"}
        for t in p.team:
            members.setdefault(_ident(t), "team")
        rows[AccountMemberRow] = [{"account_id": account_id, "member": m, "relation": r} for m, r in members.items()]
        for dim in DIMENSIONS:
            section = p.dimension(dim)
            if not section.is_empty() or section.updated:
                data = section.model_dump(mode="json", exclude_none=True, exclude={"updated"})
                rows.setdefault(DimensionRow, []).append(
                    {"account_id": account_id, "name": dim, "data": data, "updated": section.updated})
        rows[ContactRow] = [{"account_id": account_id, "position": i, **c.model_dump()}
                            for i, c in enumerate(p.contacts)]
        rows[MetricsRow] = [{"account_id": account_id, **p.metrics.model_dump()}]
        if records:
            left = self._file_records(s, account_id, p) if not new else {
                t: [_record_key(i) for i in items]
                for t, items in ((KeyDateRow, p.key_dates), (InteractionRow, p.interactions), (NoteRow, p.notes))}
            for table, items in ((KeyDateRow, p.key_dates), (InteractionRow, p.interactions), (NoteRow, p.notes)):
                for item in items:
                    if _record_key(item) in left[table]:
                        left[table].remove(_record_key(item))
                        rows.setdefault(table, []).append({"account_id": account_id, "source": "profile",
                                                           **item.model_dump()})
        for table, values in rows.items():
            if values:
                s.execute(insert(table), values)

    def bump(self, s: Session, account_id: str) -> None:
        s.execute(update(AccountRow).where(AccountRow.id == account_id).values(revision=AccountRow.revision + 1))

    def add_note(self, account_id: str, dimension: str, text: str, by: str | None, on: dt.date | None = None,
                 source: str = "slack") -> int:
        """A note captured outside the profile file (Slack, the CLI), recorded in the history; returns its id."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
        note = Note(date=on or dt.date.today(), dimension=dimension, by=by, text=text)
        added: list = []
        self._add_records(account_id, [note], source=source, actor=by, added=added)
        return int(added[0].id)

    def add_interaction(self, account_id: str, kind: str, on: dt.date, by: str | None, summary: str | None,
                        source: str = "slack") -> None:
        """A visit, call, meeting or email logged outside the profile file, recorded in the history."""
        item = Interaction(date=on, kind=kind, by=by, summary=summary)  # validates
        self._add_records(account_id, [item], source=source, actor=by)

    def _add_records(self, account_id: str, items: list, *, source: str, actor: str | None,
                     added: list | None = None) -> None:
        with self.session() as s:
            row = s.scalars(select(AccountRow).where(AccountRow.id == account_id).with_for_update()).first()
            if row is None:
                raise KeyError(account_id)
            before = self._profiles_from_rows(s, [row])[account_id]
            self._write(s, row, before, before, records_from=None, add=items, source=source, actor=actor,
                        origin=None, added=added)

    # ------------------------------------------------------------- reading
    def account_ids(self) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(AccountRow.id).order_by(AccountRow.id)))

    def count_accounts(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(AccountRow)) or 0

    def summaries(self, ids: Iterable[str] | None = None) -> list[AccountSummary]:
        with self.session() as s:
            q = select(AccountRow).order_by(AccountRow.name_key)
            if ids is not None:
                q = q.where(AccountRow.id.in_(list(ids)))
            rows = s.scalars(q).all()
            aliases: dict[str, list[str]] = {}
            for a in s.scalars(select(AliasRow).order_by(AliasRow.account_id, AliasRow.position)):
                aliases.setdefault(a.account_id, []).append(a.alias)
            return [AccountSummary(r.id, r.name, r.owner, list(r.team or []), r.industry, r.region, r.source,
                                   aliases.get(r.id, [])) for r in rows]

    def load_profile(self, account_id: str) -> AccountProfile | None:
        """The account as one profile, including records captured outside its file (Slack notes, CRM data)."""
        with self.session() as s:
            row = s.get(AccountRow, account_id)
            if row is None:
                return None
            return self._profiles_from_rows(s, [row])[account_id]

    def profile_in(self, s: Session, account_id: str) -> AccountProfile:
        """The account as one profile, read inside an open session (a transaction that is writing it)."""
        row = s.get(AccountRow, account_id)
        if row is None:
            raise KeyError(account_id)
        return self._profiles_from_rows(s, [row])[account_id]

    def load_profiles(self, ids: Iterable[str]) -> dict[str, AccountProfile]:
        """Many accounts at once: one query per table for every LOAD_CHUNK accounts, not one session each."""
        ids = list(ids)
        out: dict[str, AccountProfile] = {}
        with self.session() as s:
            for i in range(0, len(ids), LOAD_CHUNK):
                rows = s.scalars(select(AccountRow).where(AccountRow.id.in_(ids[i : i + LOAD_CHUNK]))).all()
                out.update(self._profiles_from_rows(s, rows))
        return out

    def _profiles_from_rows(self, s: Session, rows: Sequence[AccountRow]) -> dict[str, AccountProfile]:
        ids = [r.id for r in rows]
        if not ids:
            return {}

        def grouped(table: type, *order: object) -> dict[str, list]:
            out: dict[str, list] = {}
            for x in s.scalars(select(table).where(table.account_id.in_(ids)).order_by(table.account_id, *order)):
                out.setdefault(x.account_id, []).append(x)
            return out

        aliases = grouped(AliasRow, AliasRow.position)  # file order
        dims = grouped(DimensionRow)
        contacts = grouped(ContactRow, ContactRow.position)
        key_dates = grouped(KeyDateRow, KeyDateRow.date, KeyDateRow.id)
        interactions = grouped(InteractionRow, InteractionRow.date, InteractionRow.id)
        notes = grouped(NoteRow, NoteRow.date, NoteRow.id)
        metrics = {m.account_id: m for m in s.scalars(select(MetricsRow).where(MetricsRow.account_id.in_(ids)))}
        out: dict[str, AccountProfile] = {}
        for row in rows:
            aid = row.id
            data: dict = {
                "account": row.name, "owner": row.owner, "team": list(row.team or []),
                "industry": row.industry, "region": row.region,
                "aliases": [a.alias for a in aliases.get(aid, [])],
            }
            for d in dims.get(aid, []):
                data[d.name] = {**d.data, "updated": d.updated}
            data["contacts"] = [
                Contact(name=c.name, title=c.title, role=c.role, influence=c.influence, birthday=c.birthday,
                        email=c.email, phone=c.phone, notes=c.notes) for c in contacts.get(aid, [])]
            data["key_dates"] = [KeyDate(date=k.date, kind=k.kind, title=k.title, remind=k.remind)
                                 for k in key_dates.get(aid, [])]
            data["interactions"] = [Interaction(date=i.date, kind=i.kind, by=i.by, summary=i.summary)
                                    for i in interactions.get(aid, [])]
            m = metrics.get(aid)
            if m is not None:
                data["metrics"] = Metrics(**{k: getattr(m, k) for k in Metrics.model_fields})
            data["notes"] = [Note(date=n.date, dimension=n.dimension, by=n.by, text=n.text)
                             for n in notes.get(aid, [])]
            out[aid] = AccountProfile.model_validate(data)
        return out

    def documents_of(self, ids: Iterable[str]) -> dict[str, list[DocumentRow]]:
        """Documents of many accounts, grouped by account, each list in id order (as documents() gives)."""
        ids = list(ids)
        out: dict[str, list[DocumentRow]] = {}
        with self.session() as s:
            for i in range(0, len(ids), LOAD_CHUNK):
                q = (select(DocumentRow).where(DocumentRow.account_id.in_(ids[i : i + LOAD_CHUNK]))
                     .order_by(DocumentRow.account_id, DocumentRow.id))
                for doc in s.scalars(q):
                    out.setdefault(doc.account_id, []).append(doc)
        return out

    def documents(self, account_id: str) -> list[DocumentRow]:
        with self.session() as s:
            return list(s.scalars(select(DocumentRow).where(DocumentRow.account_id == account_id)
                                  .order_by(DocumentRow.id)))

    def find_account(self, name: str) -> str | None:
        """Exact lookup by id, name or alias (case-insensitive)."""
        key = name_key(name)
        with self.session() as s:
            if s.get(AccountRow, name) is not None:
                return name
            row = s.scalars(select(AccountRow.id).where(AccountRow.name_key == key)).first()
            if row:
                return row
            alias = s.get(AliasRow, key)
            return alias.account_id if alias else None

    # -------------------------------------------------------------- access
    def visible_account_ids(self, person: Person) -> set[str] | None:
        """The access rule: None means every account (admins)."""
        if person.role == "admin":
            return None
        with self.session() as s:
            idents = {person.email, *([person.slack_id] if person.slack_id else [])}
            if person.role == "manager":
                rows = s.execute(select(PersonRow.email, PersonRow.slack_id, PersonRow.manager)).all()
                reports: dict[str, list[tuple[str, str | None]]] = {}
                for email, slack_id, manager in rows:
                    if manager:
                        reports.setdefault(manager, []).append((email, slack_id))
                queue, seen = [person.email], {person.email}
                while queue:  # transitive reports; `seen` stops cycles
                    for email, slack_id in reports.get(queue.pop(), []):
                        if email not in seen:
                            seen.add(email)
                            queue.append(email)
                            idents.add(email)
                            if slack_id:
                                idents.add(slack_id)
            return set(s.scalars(select(AccountMemberRow.account_id)
                                 .where(AccountMemberRow.member.in_(idents))))

    def reports_of(self, manager_email: str) -> list[Person]:
        """Everyone who reports to a manager, directly or not."""
        people = self.people()
        by_manager: dict[str, list[Person]] = {}
        for p in people:
            if p.manager:
                by_manager.setdefault(p.manager, []).append(p)
        out, queue, seen = [], [manager_email.lower()], {manager_email.lower()}
        while queue:
            for p in by_manager.get(queue.pop(), []):
                if p.email not in seen:
                    seen.add(p.email)
                    out.append(p)
                    queue.append(p.email)
        return out

    def yearly_revenue(self, account_id: str) -> dict[int, float]:
        with self.session() as s:
            rows = s.scalars(select(YearlyRevenueRow).where(YearlyRevenueRow.account_id == account_id))
            return {r.year: r.revenue for r in rows}


def _record_key(r: object) -> tuple:
    """A key date, interaction or note (model or row) as comparable values."""
    if isinstance(r, KeyDate | KeyDateRow):
        return (r.date, r.kind, r.title, tuple(r.remind) if r.remind is not None else None)
    if isinstance(r, Interaction | InteractionRow):
        return (r.date, r.kind, r.by or "", r.summary or "")
    return (r.date, r.dimension, r.by or "", r.text)


def _ident(value: str) -> str:
    """Owner/team ids: emails are case-insensitive, Slack ids are kept as given."""
    return value.lower() if "@" in value else value


def _person(row: PersonRow) -> Person:
    return Person(email=row.email, name=row.name, slack_id=row.slack_id, role=row.role, manager=row.manager,
                  timezone=row.timezone)
