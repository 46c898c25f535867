"""Where a test's data lives: the embedded defaults (SQLite + Chroma in KAM_HOME), or real PostgreSQL and Chroma
servers (`pytest --backend=postgres`, inside .ci/services.sh, which exports their addresses).

On PostgreSQL every KAM_HOME a test makes gets a database of its own, created from an empty template on first use;
databases of a test's own homes are dropped when it ends, the session's at the session's end.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine


class Embedded:
    name = "embedded"

    def overrides(self, home: Path) -> dict[str, object]:
        return {}

    def env(self, home: Path) -> dict[str, str]:
        return {}

    def clone_home_db(self, src: Path, dst: Path) -> None:
        """Nothing to do: the database and the index are files in KAM_HOME, copied with it."""

    def drop_under(self, base: Path) -> None:
        pass

    def close(self) -> None:
        pass


class Postgres:
    name = "postgres"

    def __init__(self, admin_url: str, chroma_host: str, chroma_port: int):
        self.admin = make_url(admin_url)
        self.chroma_host, self.chroma_port = chroma_host, chroma_port
        self.prefix = "kt" + uuid.uuid4().hex[:8]  # this session's databases
        self._engine: Engine = create_engine(self.admin, isolation_level="AUTOCOMMIT", pool_size=1)
        self._dbs: dict[Path, str] = {}
        self._n = itertools.count(1)

    def _url(self, db: str) -> str:
        return self.admin.set(database=db).render_as_string(hide_password=False)

    def database_for(self, home: Path, template: str = "template0") -> str:
        home = home.resolve()
        db = self._dbs.get(home)
        if db is None:
            db = f"{self.prefix}_{next(self._n)}"
            with self._engine.connect() as c:
                c.execute(text(f'CREATE DATABASE "{db}" TEMPLATE "{template}"'))
            self._dbs[home] = db
        return db

    def overrides(self, home: Path) -> dict[str, object]:
        return {"database_url": self._url(self.database_for(home)), "chroma_host": self.chroma_host,
                "chroma_port": self.chroma_port}

    def env(self, home: Path) -> dict[str, str]:
        return {"DATABASE_URL": self._url(self.database_for(home)), "CHROMA_HOST": self.chroma_host,
                "CHROMA_PORT": str(self.chroma_port)}

    def clone_home_db(self, src: Path, dst: Path) -> None:
        """dst's database starts as a copy of src's (PostgreSQL copies a template database file by file)."""
        source = self._dbs[src.resolve()]
        with self._engine.connect() as c:  # a template must have no sessions
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": source})
        self.database_for(dst, template=source)

    def _drop(self, home: Path) -> None:
        db = self._dbs.pop(home)
        with self._engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))

    def drop_under(self, base: Path) -> None:
        base = base.resolve()
        for home in [h for h in self._dbs if h == base or base in h.parents]:
            self._drop(home)

    def close(self) -> None:
        for home in list(self._dbs):
            self._drop(home)
        self._engine.dispose()


def make_backend(name: str) -> Embedded | Postgres:
    if name == "embedded":
        return Embedded()
    try:
        url = os.environ["KAM_TEST_DATABASE_URL"]
        host, port = os.environ["KAM_TEST_CHROMA_HOST"], int(os.environ["KAM_TEST_CHROMA_PORT"])
    except KeyError as exc:
        raise SystemExit(f"--backend=postgres needs {exc.args[0]}: run the tests inside .ci/services.sh, "
                         "e.g. `.ci/services.sh .venv/bin/pytest --backend=postgres`") from None
    return Postgres(url, host, port)
