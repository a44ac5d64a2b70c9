"""lenient intake: keys that may store a record with its invalid fields dropped, and the
dropped values as received

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_key",
        sa.Column("lenient", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("source_record", sa.Column("dropped_values", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("source_record", "dropped_values")
    op.drop_column("api_key", "lenient")
