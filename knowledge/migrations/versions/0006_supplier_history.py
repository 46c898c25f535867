"""Supplier history: each account's suppliers' shares and satisfaction and our own purchase share and
satisfaction, dated (knowledge/supplier_history.py, read by the competitor watch); an index on profile_changes.at
for the watch's daily read. Existing history is copied in, so the watch starts from what is already known.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _backfill(bind: sa.engine.Connection) -> None:
    from knowledge.supplier_history import watched

    changes = sa.table("profile_changes", sa.column("account_id"), sa.column("path"), sa.column("old"),
                       sa.column("new"), sa.column("source"), sa.column("actor"), sa.column("origin"),
                       sa.column("at"), sa.column("id"))
    history = sa.table("supplier_history", sa.column("account_id"), sa.column("party"), sa.column("metric"),
                       sa.column("value"), sa.column("initial"), sa.column("source"), sa.column("actor"),
                       sa.column("origin"), sa.column("at"))
    first = dict(bind.execute(sa.select(changes.c.account_id, sa.func.min(changes.c.at))
                              .group_by(changes.c.account_id)).all())
    q = sa.select(changes.c.account_id, changes.c.path, changes.c.old, changes.c.new, changes.c.source,
                  changes.c.actor, changes.c.origin, changes.c.at).where(
        sa.or_(changes.c.path.like("suppliers.items[%"), changes.c.path.in_(["metrics.purchase_share",
                                                                              "metrics.satisfaction"]))
    ).order_by(changes.c.at, changes.c.id)
    rows = []
    for aid, path, old, new, source, actor, origin, at in bind.execute(q):
        key = watched(path)
        if key is None:
            continue
        value = new if isinstance(new, int | float) and not isinstance(new, bool) else None
        if value == old:
            continue
        rows.append({"account_id": aid, "party": key[0][:300], "metric": key[1], "value": value,
                     "initial": at == first.get(aid), "source": source, "actor": actor, "origin": origin, "at": at})
    if rows:
        bind.execute(history.insert(), rows)


def upgrade() -> None:
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    if "supplier_history" not in tables:
        op.create_table(
            "supplier_history",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("account_id", sa.String(80), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
            sa.Column("party", sa.String(300), nullable=False),
            sa.Column("metric", sa.String(16), nullable=False),
            sa.Column("value", sa.Float(), nullable=True),
            sa.Column("initial", sa.Boolean(), nullable=False),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("actor", sa.String(320), nullable=True),
            sa.Column("origin", sa.String(1000), nullable=True),
            sa.Column("at", sa.DateTime(), nullable=False),
        )
        op.create_index("ix_supplier_history_series", "supplier_history", ["account_id", "party", "metric", "at"])
        op.create_index("ix_supplier_history_at", "supplier_history", ["at"])
        _backfill(bind)
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes("profile_changes")}
    if "ix_profile_changes_at" not in indexes:
        op.create_index("ix_profile_changes_at", "profile_changes", ["at"])


def downgrade() -> None:
    op.drop_index("ix_profile_changes_at", "profile_changes")
    op.drop_table("supplier_history")
