"""Records in: validated, then stored with their events and linker index by COPY, a batch at a
time, keeping only a compact view of each record and its linker features (Arrow) in memory."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpi_api.bulk.progress import Progress, Step
from mpi_api.records import service
from mpi_linker.features import record_features
from mpi_linker.frames import SCHEMA
from mpi_linker.model.definition import BLOCKING_KEYS_COLUMN
from mpi_store.bulk_writes import copy_rows, reserve_ids
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, RecordCreate
from mpi_store.domain.errors import InvalidRecord
from mpi_store.models import BlockingKey, ClinicalEvent, LinkerRecord, SourceRecord

BATCH = 1000
_RECORD_COLUMNS = (
    "source",
    "source_record_id",
    *DEMOGRAPHIC_FIELDS,
    "identifiers",
    "norm_given_name",
    "norm_family_name",
    "norm_ssn",
    "content_hash",
    "version",
)
_EVENT_COLUMNS = (
    "type",
    "code_system",
    "code",
    "display",
    "start_date",
    "end_date",
    "value_number",
    "value_text",
    "unit",
    "category",
)
T = TypeVar("T")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A stored source record as guards, survivorship and link events read it (the names of
    `SourceRecord`), without what none of them reads."""

    id: int
    updated_at: dt.datetime
    source: str
    source_record_id: str
    given_name: str | None
    middle_name: str | None
    family_name: str | None
    birth_date: dt.date | None
    sex: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country: str | None
    phone: str | None
    email: str | None
    ssn: str | None
    identifiers: list[dict[str, Any]]
    norm_given_name: str | None
    norm_family_name: str | None
    norm_ssn: str | None
    version: int


def ingest_records(
    session: Session, payloads: Iterable[Mapping[str, Any]], progress: Progress
) -> tuple[list[StoredRecord], pa.Table]:
    """Validate and store the records, their clinical events and linker index; a record that
    fails validation raises before its batch is written (the caller rolls back the rest).

    Returns the stored records in input order (so in ascending id order) and their linker
    features (`frames.SCHEMA`, one row per record with its id as `unique_id`).
    """
    # The transaction's start: every row it writes has it as created_at and updated_at.
    stored_at: dt.datetime = session.execute(select(func.now())).scalar_one()
    records: list[StoredRecord] = []
    features_by_batch: list[pa.RecordBatch] = []
    positions: dict[tuple[str, str], int] = {}
    for chunk in batches(payloads, BATCH):
        contracts = [
            _validated(len(records) + offset + 1, payload, positions)
            for offset, payload in enumerate(chunk)
        ]
        batch = _Batch()
        for record_id, contract in zip(
            reserve_ids(session, SourceRecord, len(contracts)), contracts, strict=True
        ):
            records.append(batch.add(record_id, contract, stored_at))
        batch.write(session)
        features_by_batch.append(pa.RecordBatch.from_pylist(batch.linker_rows, schema=SCHEMA))
        progress.advance(Step.STORED, len(contracts))
    return records, pa.Table.from_batches(features_by_batch, schema=SCHEMA)


def _validated(
    position: int, payload: Mapping[str, Any], positions: dict[tuple[str, str], int]
) -> RecordCreate:
    """The record's contract; `positions` (each key's position so far) catches a key that
    comes twice, which one load cannot store. `InvalidRecord` names its position (1-based),
    its key and the fields at fault, never their values."""
    try:
        contract = RecordCreate.model_validate(payload)
    except ValidationError as e:
        fields = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'record'}: {error['msg']}"
            for error in e.errors(include_input=False, include_url=False)
        )
        raise InvalidRecord(f"record {position}: {fields}") from None
    key = (contract.source, contract.source_record_id)
    if key in positions:
        raise InvalidRecord(
            f"record {position}: source and source_record_id repeat record {positions[key]}'s"
        )
    positions[key] = position
    return contract


@dataclass
class _Batch:
    """A batch's rows for each table it writes (JSON columns as JSON text), and its records'
    linker features as Splink reads them."""

    records: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    index: list[tuple[int, str]] = field(default_factory=list)
    keys: list[tuple[str, int]] = field(default_factory=list)
    linker_rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record_id: int, contract: RecordCreate, stored_at: dt.datetime) -> StoredRecord:
        clinical_events = service.event_rows(contract)
        made = record_features(
            contract.model_dump(include=set(DEMOGRAPHIC_FIELDS)), clinical_events
        )
        linker_features, keys = made.features, made.blocking_keys
        columns = service.record_columns(contract, linker_features)
        stored = {**columns, "identifiers": json.dumps(columns["identifiers"])}
        self.records.append((record_id, *(stored[name] for name in _RECORD_COLUMNS)))
        self.events.extend(
            (record_id, *(event[name] for name in _EVENT_COLUMNS)) for event in clinical_events
        )
        self.index.append((record_id, json.dumps(linker_features)))
        self.keys.extend((key, record_id) for key in keys)
        self.linker_rows.append(
            {**linker_features, "unique_id": str(record_id), BLOCKING_KEYS_COLUMN: keys}
        )
        # Read by nothing after the insert (and bulk intake is strict: nothing is dropped).
        del columns["content_hash"], columns["dropped_values"]
        return StoredRecord(id=record_id, updated_at=stored_at, **columns)

    def write(self, session: Session) -> None:
        copy_rows(session, SourceRecord, ("id", *_RECORD_COLUMNS), self.records)
        copy_rows(session, ClinicalEvent, ("record_id", *_EVENT_COLUMNS), self.events)
        copy_rows(session, LinkerRecord, ("record_id", "features"), self.index)
        copy_rows(session, BlockingKey, ("key", "record_id"), self.keys)
