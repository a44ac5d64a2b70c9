"""linker index and adjudication

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:35:02.789782
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "term_frequency",
        sa.Column("column_name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("frequency", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("column_name", "value", name=op.f("pk_term_frequency")),
    )
    op.create_table(
        "adjudication",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("candidate_record_id", sa.BigInteger(), nullable=False),
        sa.Column("candidate_golden_record_id", sa.BigInteger(), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("match_weight", sa.Double(), nullable=False),
        sa.Column("comparison_weights", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("classifier_probability", sa.Double(), nullable=True),
        sa.Column("fused_probability", sa.Double(), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("classifier_backend", sa.String(length=50), nullable=True),
        sa.Column("classifier_model", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["candidate_golden_record_id"],
            ["golden_record.id"],
            name=op.f("fk_adjudication_candidate_golden_record_id_golden_record"),
        ),
        sa.ForeignKeyConstraint(
            ["candidate_record_id"],
            ["source_record.id"],
            name=op.f("fk_adjudication_candidate_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
            name=op.f("fk_adjudication_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjudication")),
        sa.UniqueConstraint(
            "record_id", "candidate_record_id", name=op.f("uq_adjudication_record_id")
        ),
    )
    op.create_index(
        op.f("ix_adjudication_candidate_record_id"),
        "adjudication",
        ["candidate_record_id"],
        unique=False,
    )
    op.create_table(
        "blocking_key",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
            name=op.f("fk_blocking_key_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "record_id", name=op.f("pk_blocking_key")),
    )
    op.create_index(op.f("ix_blocking_key_record_id"), "blocking_key", ["record_id"], unique=False)
    op.create_table(
        "linker_record",
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
            name=op.f("fk_linker_record_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_linker_record")),
    )


def downgrade() -> None:
    op.drop_table("linker_record")
    op.drop_index(op.f("ix_blocking_key_record_id"), table_name="blocking_key")
    op.drop_table("blocking_key")
    op.drop_index(op.f("ix_adjudication_candidate_record_id"), table_name="adjudication")
    op.drop_table("adjudication")
    op.drop_table("term_frequency")
