"""event stream

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "tx_id",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("mpi_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("source_record_id", sa.String(length=100), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    op.create_index("ix_event_stream", "event", ["tx_id", "id"], unique=False)
    op.create_index(op.f("ix_event_mpi_id"), "event", ["mpi_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_event_mpi_id"), table_name="event")
    op.drop_index("ix_event_stream", table_name="event")
    op.drop_table("event")
