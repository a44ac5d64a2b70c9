"""PIXm `$ihe-pix` (ITI-83): every facility identifier of the patient a source identifier names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from mpi_api.fhir.patient import resource_id, source_system
from mpi_api.records import service
from mpi_store.domain.errors import RecordNotFound
from mpi_store.repositories import GoldenRecordRepository, LinkRepository


def cross_references(
    session: Session,
    *,
    key: tuple[str, str],
    target_systems: list[str],
    mrn_systems: Mapping[str, str],
) -> tuple[dict[str, Any], str | None]:
    """A Parameters resource: `targetIdentifier` per linked record, and `targetId` the golden
    Patient (an unknown source identifier gives no parameters); and that patient's mpi_id."""
    try:
        found = service.get_record(session, source=key[0], source_record_id=key[1])
    except RecordNotFound:
        return {"resourceType": "Parameters"}, None
    goldens = GoldenRecordRepository(session)
    survivor = goldens.survivor(found.golden)
    identifiers = [
        {"system": source_system(record.source, mrn_systems), "value": record.source_record_id}
        for record, _ in LinkRepository(session).records_of_golden(survivor.id)
    ]
    parameters: list[dict[str, Any]] = [
        {"name": "targetIdentifier", "valueIdentifier": identifier}
        for identifier in identifiers
        if not target_systems or identifier["system"] in target_systems
    ]
    parameters.append(
        {
            "name": "targetId",
            "valueReference": {"reference": f"Patient/{resource_id(survivor.mpi_id)}"},
        }
    )
    return {"resourceType": "Parameters", "parameter": parameters}, survivor.mpi_id
