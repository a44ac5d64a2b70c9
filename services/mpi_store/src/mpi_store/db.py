"""Engines, sessions and the unit of work used at every edge (request, task, command)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Use psycopg 3 for bare `postgresql://` URLs (as psql, Helm values and pgserver write)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# SQLSTATEs after which the same transaction, run again, can succeed: serialization failure,
# deadlock, lock timeout, and the server shutting down or not yet accepting connections.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})


def is_transient(error: BaseException) -> bool:
    """A database error that a retry of the whole transaction can get past."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is None:
        # No server answer at all: the connection could not be made or was lost.
        return isinstance(error, OperationalError)
    return sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith("08")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    # hide_parameters: a failed statement's message would otherwise carry its bound values
    # (names, SSNs, birth dates) into every log and traceback that prints it.
    return create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit when the block succeeds, roll back when it raises."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# Every change that moves links between patients (an adjudication's merge, a steward's
# decision) takes this lock first, then the patients' rows lowest id first: such changes are
# rare and take milliseconds, and serialising them rules out lost updates and deadlocks.
LINK_CHANGE_LOCK = "mpi:adjudication.apply"


# The keys' locks in the order of the array (a sorted subquery feeds the aggregate, which
# takes each lock as its row arrives): one statement, however many keys.
_LOCK_ALL = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(key, 0))) FROM "
    "(SELECT key FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS k(key, n) ORDER BY n) AS s"
)


def advisory_lock_keys(session: Session, keys: list[str]) -> None:
    """Serialise transactions touching the same keys until this transaction ends.

    Keys are taken in sorted order so two transactions that share several keys cannot deadlock.
    """
    session.execute(_LOCK_ALL, {"keys": sorted(set(keys))})
