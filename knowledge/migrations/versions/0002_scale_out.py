"""Scale-out: aliases keep their file order (PostgreSQL has no implicit row order); the lexical index, chunk ledger
and deployment identity move into the database (tables created from the models after this script).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("aliases")}
    if "position" not in columns:
        op.add_column("aliases", sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        # the old rows' insertion order, which is what readers relied on
        if op.get_bind().dialect.name == "sqlite":
            op.execute("UPDATE aliases SET position = rowid")
        else:
            op.execute("UPDATE aliases a SET position = r.n FROM (SELECT ctid, row_number() OVER "
                       "(PARTITION BY account_id ORDER BY ctid) AS n FROM aliases) r WHERE a.ctid = r.ctid")
