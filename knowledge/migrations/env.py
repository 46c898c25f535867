"""Alembic's environment: always the connection handed over by knowledge.migrations.migrate()."""

from alembic import context

from knowledge.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
