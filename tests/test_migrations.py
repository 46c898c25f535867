"""Schema migrations: a database made before migrations existed upgrades in place (both backends)."""

from __future__ import annotations

from sqlalchemy import inspect, text

from knowledge.importers.profiles import ingest_dir
from knowledge.migrations import head
from knowledge.store import Store
from tests.conftest import EXAMPLES


def test_new_database_is_created_at_the_newest_revision(settings):
    from knowledge.db import Base
    from knowledge.migrations import head

    store = Store(settings)
    assert store.migrations == [f"created the schema ({len(Base.metadata.tables)} tables) at revision {head()}"]
    assert Store(settings).migrations == []  # the second start changes nothing
    store.engine.dispose()


def test_a_database_from_before_migrations_upgrades_in_place(settings):
    store = Store(settings)
    ingest_dir(store, EXAMPLES)
    acme = store.find_account("Acme")
    aliases = store.load_profile(acme).aliases
    assert len(aliases) > 1
    with store.engine.begin() as c:  # the schema as the previous version left it
        c.execute(text("DROP TABLE alembic_version"))
        c.execute(text("ALTER TABLE aliases DROP COLUMN position"))
        for table in ("chunk_terms", "chunk_vectors", "chunks", "lexical_stats", "kam_meta", "profile_changes",
                      "profile_bases", "slack_inbox"):
            c.execute(text(f"DROP TABLE {table}"))
    store.engine.dispose()
    upgraded = Store(settings)
    assert upgraded.migrations[:2] == ["an existing database without migrations: taken as revision 0001",
                                       f"upgraded from revision 0001 to {head()}"]
    assert "chunks" in upgraded.migrations[2]
    assert "position" in {col["name"] for col in inspect(upgraded.engine).get_columns("aliases")}
    assert {"profile_changes", "profile_bases"} <= set(inspect(upgraded.engine).get_table_names())
    assert upgraded.load_profile(acme).aliases == aliases  # file order kept through the upgrade
    upgraded.engine.dispose()


def test_the_fast_up_to_date_check_knows_the_newest_revision():
    """Start-up skips Alembic when the database is at HEAD: HEAD must be Alembic's own head."""
    from knowledge.migrations import HEAD, head

    assert head() == HEAD


def test_a_database_at_0003_gets_the_slack_inbox(settings):
    store = Store(settings)
    with store.engine.begin() as c:  # the schema as revision 0003 left it
        c.execute(text("DROP TABLE slack_inbox"))
        c.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    store.engine.dispose()
    upgraded = Store(settings)
    assert upgraded.migrations == [f"upgraded from revision 0003 to {head()}"]
    columns = {col["name"] for col in inspect(upgraded.engine).get_columns("slack_inbox")}
    assert {"key", "body", "status", "attempts", "owner", "lease_until", "finished_at"} <= columns
    assert {i["name"] for i in inspect(upgraded.engine).get_indexes("slack_inbox")} >= {
        "ix_slack_inbox_status", "ix_slack_inbox_lease_until"}
    upgraded.engine.dispose()


def test_a_database_at_0004_gets_the_kpi_snapshots(settings):
    store = Store(settings)
    with store.engine.begin() as c:  # the schema as revision 0004 left it
        c.execute(text("DROP TABLE kpi_snapshots"))
        c.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    store.engine.dispose()
    upgraded = Store(settings)
    assert upgraded.migrations == [f"upgraded from revision 0004 to {head()}"]
    columns = {col["name"] for col in inspect(upgraded.engine).get_columns("kpi_snapshots")}
    assert {"week", "taken_on", "scope", "subject", "period_days", "data", "reconstructed"} <= columns
    upgraded.engine.dispose()
