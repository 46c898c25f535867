"""The Slack inbox: acknowledged events journalled until answered (bot/inbox.py), so a crash loses none.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "slack_inbox" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "slack_inbox",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(32)),
        sa.Column("claimed_at", sa.DateTime()),
        sa.Column("lease_until", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("error", sa.String(400)),
    )
    op.create_index("ix_slack_inbox_status", "slack_inbox", ["status"])
    op.create_index("ix_slack_inbox_lease_until", "slack_inbox", ["lease_until"])
