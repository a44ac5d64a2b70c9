"""The patients holding a source record with an identifier (`SYSTEM|VALUE`): what
`GET /patients?identifier=` and FHIR `GET /Patient?identifier=` answer.

A facility MRN system (`MPI_API_FHIR_MRN_SYSTEMS`, or `urn:mpi:source:<source>`) names one
record by its key; any other system is looked up in the records' own `identifiers`.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from mpi_api.fhir.patient import source_key
from mpi_api.records.service import get_record
from mpi_store.domain.errors import RecordNotFound
from mpi_store.models import GoldenRecord
from mpi_store.repositories import GoldenRecordRepository, SourceRecordRepository

# What a `SYSTEM|VALUE` parameter must look like: a system without `|`, then a value (each at
# most 150 characters: the bound is in the pattern, where a fuzzer generating to the schema
# keeps it, not in a separate maxLength it would honour alone).
IDENTIFIER_PATTERN = r"^[^|]{1,150}\|.{1,150}$"


def split_identifier(identifier: str) -> tuple[str, str] | None:
    """`(system, value)` of `SYSTEM|VALUE`; None when either part is missing."""
    system, bar, value = identifier.partition("|")
    return (system, value) if bar and system and value else None


def patients_with_identifier(
    session: Session, *, identifier: str, mrn_systems: Mapping[str, str]
) -> list[GoldenRecord]:
    """The active patients (merged ones followed to their survivor) whose records hold the
    identifier `SYSTEM|VALUE`, each once, oldest first; none for an unknown identifier or
    text of another shape."""
    parts = split_identifier(identifier)
    if parts is None:
        return []
    system, value = parts
    key = source_key(system, value, mrn_systems)
    if key is None:
        golden_ids = SourceRecordRepository(session).golden_ids_with_identifier(system, value)
    else:
        try:
            golden_ids = [get_record(session, source=key[0], source_record_id=key[1]).golden.id]
        except RecordNotFound:
            golden_ids = []
    goldens = GoldenRecordRepository(session)
    survivors: dict[int, GoldenRecord] = {}
    for golden in goldens.by_ids(golden_ids):
        survivor = goldens.survivor(golden)
        survivors.setdefault(survivor.id, survivor)
    return [survivors[golden_id] for golden_id in sorted(survivors)]
