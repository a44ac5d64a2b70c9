"""Writes of many rows in the session's transaction: ids reserved ahead, rows streamed by COPY.

COPY skips what makes an ORM or `executemany` insert slow at scale (a Python object or a bound
statement per row); a rollback still removes everything, as the transaction is the session's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import psycopg
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mpi_store.models import Base


def reserve_ids(session: Session, model: type[Base], count: int) -> list[int]:
    """`count` new ids from the id sequence of `model`'s table, in ascending order."""
    if count == 0:
        return []
    sequence = func.pg_get_serial_sequence(model.__tablename__, "id")
    ids = session.scalars(
        select(func.nextval(sequence)).select_from(func.generate_series(1, count))
    )
    return sorted(ids)


def copy_rows(
    session: Session, model: type[Base], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY `rows` (values in the order of `columns`; JSON columns as JSON text) into the table
    of `model`; the columns left out take their defaults."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model.__tablename__),
        sql.SQL(", ").join(sql.Identifier(column) for column in columns),
    )
    driver = cast(psycopg.Connection[Any], session.connection().connection.driver_connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:
        # As SQLAlchemy raises a driver's error on its own statements: a transient failure
        # (a lock timeout, a restart) is then told apart as on any other write.
        raise DBAPIError.instance(
            statement.as_string(driver), None, error, psycopg.Error
        ) from error
