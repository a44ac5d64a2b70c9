"""Read a golden record, following merges to their survivor."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mpi_store.errors import PatientNotFound
from mpi_store.models import GoldenRecord, Link, SourceRecord
from mpi_store.repositories import GoldenRecordRepository, LinkRepository


def get_patient(
    session: Session, *, mpi_id: str
) -> tuple[GoldenRecord, GoldenRecord, list[tuple[SourceRecord, Link]]]:
    """Return (asked-for golden record, its survivor, the survivor's linked records)."""
    goldens = GoldenRecordRepository(session)
    golden = goldens.get_by_mpi_id(mpi_id)
    if golden is None:
        raise PatientNotFound("no patient with that mpi_id")
    survivor = goldens.survivor(golden)
    return golden, survivor, LinkRepository(session).records_of_golden(survivor.id)
