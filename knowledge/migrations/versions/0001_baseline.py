"""Baseline: the schema as `create_all` made it before migrations existed (nothing to do).

Revision ID: 0001
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
