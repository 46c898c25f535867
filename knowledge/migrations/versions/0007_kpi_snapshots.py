"""Weekly KPI snapshots (skills/kpi_snapshots.py), so `kam kpis --chart` and the digest can show trends.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "kpi_snapshots" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "kpi_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(320), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("reconstructed", sa.Boolean(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("week", "scope", "subject", "period_days", name="uq_kpi_snapshot"),
    )
    op.create_index("ix_kpi_snapshots_taken_on", "kpi_snapshots", ["taken_on"])


def downgrade() -> None:
    op.drop_index("ix_kpi_snapshots_taken_on", table_name="kpi_snapshots")
    op.drop_table("kpi_snapshots")
