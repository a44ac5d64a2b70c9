"""Term frequencies from the deployment's own records, kept current as the index grows.

A name or a postcode agreeing is worth what its frequency says in *this* population: a model's
u for an exact match is an average over the population it was trained on (our Synthea
patients have diverse names and share few postcodes; FEBRL's share a few common names, and
its postcodes are six times as many). Splink adjusts an exact match by the value's frequency;
the table holds those frequencies, shrunk towards the model's u while the index is small
(`PSEUDO_RECORDS`), so a young MPI is not sure a name is rare because it has seen it twice.

The linker refreshes the table in the background when the index has grown by `growth` since
the last refresh (the first round refreshes whatever the index holds); a bulk load refreshes
it before it scores. The linker holds the table in memory (`FrequencyTable`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from mpi_linker.features import TF_COLUMNS
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.scoring import exact_u
from mpi_store.db import unit_of_work
from mpi_store.repositories import LinkerIndexRepository

log = logging.getLogger(__name__)

# The weight of the model's prior in records: below about this many, a value's count says
# little about its frequency.
PSEUDO_RECORDS = 1000.0
# One refresh at a time across linker replicas (a try-lock: the others skip that round).
_LOCK = "mpi:term_frequency.refresh"


def refresh(session: Session, artifact: ModelArtifact) -> int:
    """Recompute the table from the index; returns the number of values stored."""
    neutral = exact_u(artifact.splink)
    priors = {column: neutral[column] for column in TF_COLUMNS}
    return LinkerIndexRepository(session).refresh_term_frequencies(priors, PSEUDO_RECORDS)


class FrequencyTable:
    """The whole table in memory, so a lookup costs no query: read at first use and again
    by `sync` whenever it changed (each round of the linker's `Refresher`: after its own
    refresh, or one by another replica, a bulk load or `mpi linker refresh-tf`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, float]] | None = None
        self._fingerprint: tuple[int, int] | None = None

    def values(self, index: LinkerIndexRepository) -> dict[str, dict[str, float]]:
        """Each column's frequency by value (a value missing is not in the table)."""
        values = self._values
        if values is None:
            self.sync(index)
            values = self._values
        assert values is not None
        return values

    def sync(self, index: LinkerIndexRepository) -> bool:
        """Read the table again if it changed since it was read; returns whether it did."""
        # Read before the rows: a refresh committing in between is read again next time.
        fingerprint = index.term_frequency_fingerprint()
        with self._lock:
            if self._values is not None and fingerprint == self._fingerprint:
                return False
        values = index.all_term_frequencies()
        with self._lock:
            self._values, self._fingerprint = values, fingerprint
        return True


class Refresher:
    """A daemon thread that refreshes the table every `interval` seconds when the index has
    grown by at least `growth` (a fraction) since it last did, for the model `artifact()`
    serves then; each round then brings `table` (where given) up to date with the table."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        artifact: Callable[[], ModelArtifact],
        *,
        interval: float,
        growth: float,
        table: FrequencyTable | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._table = table
        self._artifact = artifact
        self._interval = interval
        self._growth = growth
        self._basis = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tf-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def check(self) -> bool:
        """One round: refresh if the index has grown enough (returns whether it did), then
        sync the in-memory table."""
        refreshed = self._refresh_if_grown()
        if self._table is not None:
            with unit_of_work(self._session_factory) as session:
                self._table.sync(LinkerIndexRepository(session))
        return refreshed

    def _refresh_if_grown(self) -> bool:
        with unit_of_work(self._session_factory) as session:
            count = LinkerIndexRepository(session).indexed_count()
            if count == 0 or count < self._basis * (1 + self._growth):
                return False
            locked = session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": _LOCK},
            )
            self._basis = count
            if not locked:
                return False
            values = refresh(session, self._artifact())
        log.info("term frequencies refreshed: %d values from %d records", values, count)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception as error:  # a database outage must not end the thread
                # The type only: a database error's text can quote a row's values.
                log.warning("term frequency refresh failed (%s); retrying", type(error).__name__)
