"""SQLAlchemy 2 tables of the relational store (SQLite by default, any DATABASE_URL).

Later features add their own tables on the same `Base` (tier history, delivery ledger, ...) so that
`create_schema` creates everything in one place.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    cast,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[int]: JSON}


class PersonRow(Base):
    __tablename__ = "people"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    slack_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="rep")
    manager: Mapped[str | None] = mapped_column(String(320))
    timezone: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(500))


class AccountRow(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), unique=True)  # casefolded name, for lookups
    owner: Mapped[str] = mapped_column(String(320), index=True)
    team: Mapped[list[str]] = mapped_column(default=list)
    industry: Mapped[str | None] = mapped_column(String(300))
    region: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(500))  # the profile file, "crm:DIR", ...
    file_hash: Mapped[str | None] = mapped_column(String(64))  # of the validated source, to skip unchanged files
    revision: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every change
    indexed_revision: Mapped[int] = mapped_column(Integer, default=0)  # revision last pushed to the index
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class SourceFileRow(Base):
    """A profile file as last loaded: its bytes' hash and the names it claims. A re-ingest skips parsing a file
    whose bytes are unchanged and whose account still comes from it."""

    __tablename__ = "source_files"
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(80))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)  # the account name and aliases in the file


class AccountMemberRow(Base):
    """Who is attached to an account (owner or team), by email or Slack id: the access rule's index."""

    __tablename__ = "account_members"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    member: Mapped[str] = mapped_column(String(320), primary_key=True, index=True)
    relation: Mapped[str] = mapped_column(String(8), default="team")  # owner | team


class AliasRow(Base):
    __tablename__ = "aliases"
    alias_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # order in the profile


class DimensionRow(Base):
    __tablename__ = "dimensions"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated: Mapped[dt.date | None] = mapped_column(Date)


class ContactRow(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(32), index=True)
    influence: Mapped[str | None] = mapped_column(String(16))
    birthday: Mapped[str | None] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)


class KeyDateRow(Base):
    __tablename__ = "key_dates"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    remind: Mapped[list[int] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(32), default="profile")


class InteractionRow(Base):
    __tablename__ = "interactions"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    by: Mapped[str | None] = mapped_column(String(320))
    summary: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="profile")  # profile | crm | slack


class MetricsRow(Base):
    __tablename__ = "metrics"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    revenue: Mapped[float | None] = mapped_column(Float)
    profit_margin: Mapped[float | None] = mapped_column(Float)
    purchase_share: Mapped[float | None] = mapped_column(Float)
    growth: Mapped[float | None] = mapped_column(Float)
    potential: Mapped[float | None] = mapped_column(Float)
    footprint: Mapped[float | None] = mapped_column(Float)
    tech_cooperation: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    complaints: Mapped[int | None] = mapped_column(Integer)
    as_of: Mapped[dt.date | None] = mapped_column(Date)


class YearlyRevenueRow(Base):
    """Revenue with us per year (e.g. from CRM won deals): the history that growth is derived from."""

    __tablename__ = "yearly_revenue"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    revenue: Mapped[float] = mapped_column(Float)
    deals: Mapped[int] = mapped_column(Integer, default=0)


class NoteRow(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(32))
    by: Mapped[str | None] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="profile")  # profile | slack | cli
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DocumentRow(Base):
    """A dated document attached to an account (e.g. one 10-K section), split into chunks at index time."""

    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    dimension: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(32))  # "10-K", ...
    section: Mapped[str | None] = mapped_column(String(64))
    dated: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_documents_account_dim", "account_id", "dimension"),)


class ImportIssueRow(Base):
    """What an import skipped or had to repair, kept so `kam` can show the last import's report."""

    __tablename__ = "import_issues"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    importer: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("run_at", "importer", "source", "message"),)


def json_text(column: Any) -> ColumnElement[str]:
    """A JSON column read as its text on every backend. Bulk reads decode it with orjson (faster than the column
    type), and text compares with the JSON literal 'null'; a bare type_coerce would leave PostgreSQL comparing
    `json = varchar` and its driver returning decoded objects."""
    return cast(column, Text)


def _insert(target: Any, table: type[Base]) -> Any:
    """The dialect's INSERT (with ON CONFLICT) for a session or a connection."""
    dialect = target.dialect.name if isinstance(target, Connection) else target.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - the two supported backends
        raise NotImplementedError(f"upsert on {dialect}")
    return dialect_insert(table)


def upsert(target: Any, table: type[Base], rows: list[dict[str, Any]], keys: list[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, on SQLite and PostgreSQL alike: concurrent writers of the same row
    both succeed (the last one wins) where a read-then-insert lets one die on the primary key."""
    if not rows:
        return
    stmt = _insert(target, table)
    columns = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in columns})
    target.execute(stmt, rows)


def insert_ignore(target: Any, table: type[Base], rows: list[dict[str, Any]], keys: list[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING: the first writer's row stays."""
    if rows:
        target.execute(_insert(target, table).on_conflict_do_nothing(index_elements=keys), rows)


class MetaRow(Base):
    """Facts about the deployment itself (its identity)."""

    __tablename__ = "kam_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))


def deployment_id(engine: Engine) -> str:
    """This database's identity: a random id made once, when the schema is first created here. With the database's
    own name it names the Chroma collection, so two databases on one Chroma server never share vectors."""
    import uuid

    with engine.begin() as c:
        insert_ignore(c, MetaRow, [{"key": "deployment", "value": uuid.uuid4().hex}], ["key"])
        value = c.scalar(select(MetaRow.value).where(MetaRow.key == "deployment"))
    assert value is not None
    return value


def database_name(engine: Engine) -> str:
    """The database as the server names it (a copy restored under another name is another deployment)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            return str(c.scalar(text("SELECT current_database()")))
    return str(engine.url.database or "")


BUSY_BACKOFF_MAX = 2.0  # seconds between two attempts on a busy database, at most


def is_busy(exc: BaseException) -> bool:
    """A write that found the database locked by another connection for longer than its busy timeout."""
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database is busy" in text)


def retry_busy(work: Callable[[], T], budget: float = 120.0) -> T:
    """`work()`, tried again with growing, jittered pauses while the database is busy, for up to `budget` seconds.

    SQLite's busy timeout bounds one wait; under sustained contention (another process writing, CPU starved
    threads holding the lock) it can run out, and a write that then fails would lose what it carried."""
    deadline = time.monotonic() + budget
    pause = 0.05
    while True:
        try:
            return work()
        except OperationalError as exc:
            left = deadline - time.monotonic()
            if not is_busy(exc) or left <= 0:
                raise
            time.sleep(min(left, pause * (0.5 + random.random())))
            pause = min(BUSY_BACKOFF_MAX, pause * 2)


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:  # WAL: readers never block the writer
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

    return engine


# Modules of later features that declare tables on `Base`; imported here so one create_all makes every table.
TABLE_MODULES = ("knowledge.lexical", "knowledge.history", "skills.ask.memory", "skills.tiering.models", "bot.state",
                 "bot.inbox", "scheduler.ledger", "skills.case_models", "knowledge.supplier_history",
                 "skills.kpi_snapshots")


def import_table_modules() -> None:
    import importlib

    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not (name == exc.name or name.startswith(exc.name + ".")):
                # a feature that is not there is fine; a broken import inside one is not
                raise


def create_schema(engine: Engine) -> list[str]:
    """Every table, at the newest revision (see knowledge.migrations); returns what was done."""
    from knowledge.migrations import migrate

    import_table_modules()
    return migrate(engine)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False, future=True)
