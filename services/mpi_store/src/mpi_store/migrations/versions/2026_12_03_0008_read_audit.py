"""read audit: who read which patients and records; records by identifier

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "read_audit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("mpi_ids", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("record_keys", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_read_audit_api_key_id_api_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_audit")),
    )
    op.create_index("ix_read_audit_created_at", "read_audit", ["created_at"], unique=False)
    op.create_index(
        "ix_read_audit_mpi_ids", "read_audit", ["mpi_ids"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_source_record_identifiers",
        "source_record",
        ["identifiers"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"identifiers": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_source_record_identifiers", table_name="source_record")
    op.drop_index("ix_read_audit_mpi_ids", table_name="read_audit")
    op.drop_index("ix_read_audit_created_at", table_name="read_audit")
    op.drop_table("read_audit")
