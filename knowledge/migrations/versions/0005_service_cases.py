"""Service cases (skills/cases.py): the cases and their steps.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = sa.inspect(op.get_bind()).get_table_names()
    if "service_cases" not in tables:
        op.create_table(
            "service_cases",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("account_id", sa.String(80), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("severity", sa.String(8), nullable=False),
            sa.Column("state", sa.String(12), nullable=False),
            sa.Column("opened_by", sa.String(320), nullable=False),
            sa.Column("owner", sa.String(320), nullable=False),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("opened_at", sa.DateTime(), nullable=False),
            sa.Column("acknowledged_at", sa.DateTime()),
            sa.Column("resolved_at", sa.DateTime()),
            sa.Column("confirmed_at", sa.DateTime()),
            sa.Column("reopened_at", sa.DateTime()),
            sa.Column("reopen_count", sa.Integer(), nullable=False),
            sa.Column("satisfaction", sa.Integer()),
            sa.Column("note", sa.Text()),
            sa.Column("channel", sa.String(64)),
            sa.Column("thread_ts", sa.String(32)),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
        )
        op.create_index("ix_service_cases_account_id", "service_cases", ["account_id"])
        op.create_index("ix_service_cases_owner", "service_cases", ["owner"])
        op.create_index("ix_service_cases_state", "service_cases", ["state"])
    if "service_case_events" not in tables:
        op.create_table(
            "service_case_events",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("case_id", sa.Integer(), sa.ForeignKey("service_cases.id", ondelete="CASCADE"), nullable=False),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("by", sa.String(320)),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("note", sa.Text()),
        )
        op.create_index("ix_service_case_events_case_id", "service_case_events", ["case_id"])


def downgrade() -> None:
    op.drop_table("service_case_events")
    op.drop_table("service_cases")
