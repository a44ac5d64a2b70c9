"""stewardship: a steward's NO_MATCH keeps a record apart, the actor of a decision, why a
pair waits for review

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "link",
        sa.Column(
            "kept_apart_from",
            postgresql.ARRAY(sa.BigInteger()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_link_review_queue", "link", ["match_result", "updated_at", "id"], unique=False
    )
    op.add_column("link_history", sa.Column("actor", sa.String(length=200), nullable=True))
    op.add_column(
        "adjudication",
        sa.Column("review_reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("adjudication", "review_reasons")
    op.drop_column("link_history", "actor")
    op.drop_index("ix_link_review_queue", table_name="link")
    op.drop_column("link", "kept_apart_from")
