"""pending adjudications by age: the relay's sweep for ones a killed worker stranded

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_adjudication_pending_updated_at",
        "adjudication",
        ["updated_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_adjudication_pending_updated_at", table_name="adjudication")
