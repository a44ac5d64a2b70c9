"""link disputes: a MANUAL decision automation disagrees with waits for a steward

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "link",
        sa.Column("disputed", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_index(
        "ix_link_disputed",
        "link",
        ["updated_at", "id"],
        unique=False,
        postgresql_where=sa.text("disputed IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_link_disputed", table_name="link")
    op.drop_column("link", "disputed")
