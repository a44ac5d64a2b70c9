"""Engines, sessions and the unit of work used at every edge (request, task, command)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Use psycopg 3 for bare `postgresql://` URLs (as psql, Helm values and pgserver write)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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


def advisory_lock_keys(session: Session, keys: list[str]) -> None:
    """Serialise transactions touching the same keys until this transaction ends.

    Keys are taken in sorted order so two transactions that share several keys cannot deadlock.
    """
    for key in sorted(set(keys)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )
