"""Profile history: every change to a profile (profile_changes) and the last imported fields per account and
import source (profile_bases), the base of the field-by-field merge of imports.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "profile_changes" not in tables:
        op.create_table(
            "profile_changes",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("account_id", sa.String(80), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
            sa.Column("path", sa.String(1000), nullable=False),
            sa.Column("old", sa.JSON(), nullable=True),
            sa.Column("new", sa.JSON(), nullable=True),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("actor", sa.String(320), nullable=True),
            sa.Column("origin", sa.String(1000), nullable=True),
            sa.Column("at", sa.DateTime(), nullable=False),
        )
        op.create_index("ix_profile_changes_account_at", "profile_changes", ["account_id", "at"])
    if "profile_bases" not in tables:
        op.create_table(
            "profile_bases",
            sa.Column("account_id", sa.String(80), sa.ForeignKey("accounts.id", ondelete="CASCADE"),
                      primary_key=True),
            sa.Column("source_key", sa.String(500), primary_key=True),
            sa.Column("fields", sa.JSON(), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("profile_bases")
    op.drop_index("ix_profile_changes_account_at", "profile_changes")
    op.drop_table("profile_changes")
