"""Schema migrations (Alembic), run in code: no alembic.ini, the scripts live in this package.

A new database gets every table from the models and is stamped at the newest revision. A database made before
migrations existed (tables, no `alembic_version`) is stamped at the baseline and upgraded. `kam init` and
`kam migrate` print what was done; on PostgreSQL an advisory lock makes concurrent starters wait for one migrator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:  # Alembic is loaded only when there is something to migrate (every command opens the store)
    from alembic.config import Config

BASELINE = "0001"
HEAD = "0007"  # the newest revision in versions/ (tests/test_migrations.py checks it against Alembic's head)
MIGRATE_LOCK = 7283910465  # pg_advisory_xact_lock key: one migrator per database


def _config(conn: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory(str(Path(__file__).parent)).get_current_head())


def current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> list[str]:
    """Bring the database to the newest schema; returns what was done, for people to read."""
    from knowledge.db import Base

    if _up_to_date(engine, Base.metadata.tables):
        return []
    from alembic import command

    done: list[str] = []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # processes starting together: one migrates, the others wait
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK})
        cfg = _config(conn)
        tables = set(inspect(conn).get_table_names())
        rev = current(conn)
        if rev is None and not (tables - {"alembic_version"}):
            Base.metadata.create_all(conn)
            command.stamp(cfg, "head")
            done.append(f"created the schema ({len(Base.metadata.tables)} tables) at revision {head()}")
            return done
        if rev is None:
            command.stamp(cfg, BASELINE)
            done.append(f"an existing database without migrations: taken as revision {BASELINE}")
            rev = BASELINE
        if rev != HEAD:
            command.upgrade(cfg, "head")
            done.append(f"upgraded from revision {rev} to {head()}")
        missing = [t for t in Base.metadata.sorted_tables if t.name not in set(inspect(conn).get_table_names())]
        if missing:  # tables of features added since (whole new tables need no migration script)
            Base.metadata.create_all(conn, tables=missing)
            done.append("created tables " + ", ".join(t.name for t in missing))
    return done


def _up_to_date(engine: Engine, tables: object) -> bool:
    """At the newest revision with every table there: nothing to do, decided without loading Alembic."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        if "alembic_version" not in present or not set(tables) <= present:  # type: ignore[arg-type]
            return False
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
