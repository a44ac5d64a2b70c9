"""Alembic migrations: up, down and up again on a real database; readiness check."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from mpi_store.migrate import alembic_config, is_current, upgrade


def test_upgrade_downgrade_upgrade(empty_database_url):
    from alembic import command

    engine = create_engine(empty_database_url, poolclass=NullPool)
    upgrade(empty_database_url)
    assert is_current(engine)
    assert {"source_record", "golden_record", "link", "api_key"} <= set(
        inspect(engine).get_table_names()
    )

    command.downgrade(alembic_config(empty_database_url), "base")
    assert not is_current(engine)
    assert "source_record" not in inspect(engine).get_table_names()

    upgrade(empty_database_url)
    assert is_current(engine)
    command.downgrade(alembic_config(empty_database_url), "base")
    engine.dispose()


def test_one_link_per_record_is_a_database_constraint(engine):
    constraints = inspect(engine).get_unique_constraints("link")

    assert ["record_id"] in [c["column_names"] for c in constraints]


def test_the_migrations_build_exactly_the_models(empty_database_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mpi_store.models import Base

    upgrade(empty_database_url)
    engine = create_engine(empty_database_url, poolclass=NullPool)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    command.downgrade(alembic_config(empty_database_url), "base")
    assert differences == []
