"""Where a benchmark's data lives: `embedded` (SQLite + Chroma files in KAM_HOME) or `postgres` (PostgreSQL + a
Chroma server). The servers come from .ci/services.sh, e.g.

    .ci/services.sh .venv/bin/python bench/ingest.py --backends embedded,postgres --sizes 1000

Each postgres run gets a database of its own; children get the addresses in their environment.
"""

from __future__ import annotations

import os
import uuid

SERVICE_VARIABLES = ("DATABASE_URL", "CHROMA_HOST", "CHROMA_PORT", "CHROMA_SSL")


def backend_env(kind: str) -> dict[str, str]:
    """Environment for a child process: the embedded defaults, or a fresh PostgreSQL database + the Chroma server."""
    base = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    if kind == "embedded":
        return base
    if kind != "postgres":
        raise SystemExit(f"unknown backend {kind!r} (embedded or postgres)")
    try:
        admin = os.environ["KAM_TEST_DATABASE_URL"]
        host, port = os.environ["KAM_TEST_CHROMA_HOST"], os.environ["KAM_TEST_CHROMA_PORT"]
    except KeyError as exc:
        raise SystemExit(f"the postgres backend needs {exc.args[0]}: run inside .ci/services.sh") from None
    from sqlalchemy import create_engine, make_url, text

    name = "kam_bench_" + uuid.uuid4().hex[:8]
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    return {**base, "DATABASE_URL": url, "CHROMA_HOST": host, "CHROMA_PORT": port}
