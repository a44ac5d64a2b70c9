"""Read a golden record, following merges to their survivor."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mpi_api.patients.schemas import LinkedRecordRead, PatientRead
from mpi_store.domain.enums import GoldenStatus
from mpi_store.domain.errors import PatientNotFound
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
    return golden, survivor, members(session, survivor)


def members(session: Session, golden: GoldenRecord) -> list[tuple[SourceRecord, Link]]:
    """The records linked to a golden record, with their links."""
    return LinkRepository(session).records_of_golden(golden.id)


def patient_read(golden: GoldenRecord, members: list[tuple[SourceRecord, Link]]) -> PatientRead:
    """An active golden record as `GET /patients/{mpi_id}` answers it."""
    return PatientRead(
        mpi_id=golden.mpi_id,
        status=GoldenStatus(golden.status),
        version=golden.version,
        golden={**golden.attributes, **(golden.override or {})},
        records=[
            LinkedRecordRead(
                link_id=link.id,
                link_version=link.version,
                source=record.source,
                source_record_id=record.source_record_id,
                link_state=link.link_state,
                match_result=link.match_result,
                link_source=link.link_source,
                probability=link.probability,
                links={
                    "history": f"/links/{link.id}/history",
                    "explanation": f"/links/{link.id}/explanation",
                },
            )
            for record, link in members
        ],
        updated_at=golden.updated_at,
    )
