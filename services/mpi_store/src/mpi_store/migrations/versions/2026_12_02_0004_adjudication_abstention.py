"""adjudication abstention: the Splink-alone bound and why the classifier abstained

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("adjudication", sa.Column("accept_alone_threshold", sa.Double(), nullable=True))
    op.add_column("adjudication", sa.Column("abstain_reason", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("adjudication", "abstain_reason")
    op.drop_column("adjudication", "accept_alone_threshold")
