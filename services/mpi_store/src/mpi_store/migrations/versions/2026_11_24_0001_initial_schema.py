"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 05:17:28.098215
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=30)), nullable=False),
        sa.Column("allowed_sources", postgresql.ARRAY(sa.String(length=100)), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_table(
        "golden_record",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("mpi_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("redirect_to", sa.BigInteger(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("override", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
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
            ["redirect_to"],
            ["golden_record.id"],
            name=op.f("fk_golden_record_redirect_to_golden_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_golden_record")),
        sa.UniqueConstraint("mpi_id", name=op.f("uq_golden_record_mpi_id")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where="dispatched_at IS NULL",
    )
    op.create_table(
        "source_record",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("source_record_id", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("middle_name", sa.String(length=200), nullable=True),
        sa.Column("family_name", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=10), nullable=True),
        sa.Column("address_line1", sa.String(length=200), nullable=True),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=200), nullable=True),
        sa.Column("postcode", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("ssn", sa.String(length=20), nullable=True),
        sa.Column("identifiers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("norm_given_name", sa.String(length=200), nullable=True),
        sa.Column("norm_family_name", sa.String(length=200), nullable=True),
        sa.Column("norm_ssn", sa.String(length=9), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_record")),
        sa.UniqueConstraint("source", "source_record_id", name=op.f("uq_source_record_source")),
    )
    op.create_index(
        "ix_source_record_name_dob",
        "source_record",
        ["norm_family_name", "norm_given_name", "birth_date"],
        unique=False,
        postgresql_where="birth_date IS NOT NULL",
    )
    op.create_index(
        "ix_source_record_norm_ssn",
        "source_record",
        ["norm_ssn"],
        unique=False,
        postgresql_where="norm_ssn IS NOT NULL",
    )
    op.create_table(
        "clinical_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("code_system", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=100), nullable=True),
        sa.Column("display", sa.Text(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("value_number", sa.Double(), nullable=True),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
            name=op.f("fk_clinical_event_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_event")),
    )
    op.create_index(
        op.f("ix_clinical_event_record_id"), "clinical_event", ["record_id"], unique=False
    )
    op.create_table(
        "link",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("golden_record_id", sa.BigInteger(), nullable=False),
        sa.Column("match_result", sa.String(length=20), nullable=False),
        sa.Column("link_source", sa.String(length=10), nullable=False),
        sa.Column("link_state", sa.String(length=12), nullable=False),
        sa.Column("probability", sa.Double(), nullable=True),
        sa.Column("match_weight", sa.Double(), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
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
            ["golden_record_id"],
            ["golden_record.id"],
            name=op.f("fk_link_golden_record_id_golden_record"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
            name=op.f("fk_link_record_id_source_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link")),
        sa.UniqueConstraint("record_id", name=op.f("uq_link_record_id")),
    )
    op.create_index(op.f("ix_link_golden_record_id"), "link", ["golden_record_id"], unique=False)
    op.create_table(
        "link_history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("golden_record_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_golden_record_id", sa.BigInteger(), nullable=True),
        sa.Column("match_result", sa.String(length=20), nullable=False),
        sa.Column("link_source", sa.String(length=10), nullable=False),
        sa.Column("link_state", sa.String(length=12), nullable=False),
        sa.Column("probability", sa.Double(), nullable=True),
        sa.Column("match_weight", sa.Double(), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("reason", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["golden_record_id"],
            ["golden_record.id"],
            name=op.f("fk_link_history_golden_record_id_golden_record"),
        ),
        sa.ForeignKeyConstraint(
            ["previous_golden_record_id"],
            ["golden_record.id"],
            name=op.f("fk_link_history_previous_golden_record_id_golden_record"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
            name=op.f("fk_link_history_record_id_source_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_history")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_link_history_decision_id")),
    )
    op.create_index(
        op.f("ix_link_history_golden_record_id"), "link_history", ["golden_record_id"], unique=False
    )
    op.create_index(op.f("ix_link_history_record_id"), "link_history", ["record_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_link_history_record_id"), table_name="link_history")
    op.drop_index(op.f("ix_link_history_golden_record_id"), table_name="link_history")
    op.drop_table("link_history")
    op.drop_index(op.f("ix_link_golden_record_id"), table_name="link")
    op.drop_table("link")
    op.drop_index(op.f("ix_clinical_event_record_id"), table_name="clinical_event")
    op.drop_table("clinical_event")
    op.drop_index(
        "ix_source_record_norm_ssn",
        table_name="source_record",
        postgresql_where="norm_ssn IS NOT NULL",
    )
    op.drop_index(
        "ix_source_record_name_dob",
        table_name="source_record",
        postgresql_where="birth_date IS NOT NULL",
    )
    op.drop_table("source_record")
    op.drop_index(
        "ix_outbox_pending", table_name="outbox", postgresql_where="dispatched_at IS NULL"
    )
    op.drop_table("outbox")
    op.drop_table("golden_record")
    op.drop_table("api_key")
