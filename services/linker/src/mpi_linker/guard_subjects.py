"""The guard subject of a record (`mpi_store.domain.guards.GuardSubject`), built once per
record in the linker's normalised forms: from a stored record for the decision and for the
classifier's checks before a merge, from a feature row for training. One normalisation, so a
household that the decision guards is guarded before a merge too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from mpi_linker import normalise
from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_store.domain.guards import GuardSubject


class Guarded(Protocol):
    """What the guards read of a record (a `SourceRecord` or the bulk load's view of one)."""

    @property
    def source(self) -> str: ...

    @property
    def norm_ssn(self) -> str | None: ...

    @property
    def birth_date(self) -> dt.date | None: ...

    @property
    def norm_family_name(self) -> str | None: ...

    @property
    def norm_given_name(self) -> str | None: ...

    @property
    def phone(self) -> str | None: ...

    @property
    def address_line1(self) -> str | None: ...

    @property
    def identifiers(self) -> list[dict[str, Any]]: ...


def guard_subject(record: Guarded) -> GuardSubject:
    return GuardSubject(
        source=record.source,
        ssn=record.norm_ssn,
        birth_date=record.birth_date,
        family_name=record.norm_family_name,
        given_name=record.norm_given_name,
        phone=normalise.phone(record.phone),
        address=normalise.street(record.address_line1),
        identifiers=record.identifiers,
    )


def guard_subject_of_row(row: Mapping[str, Any]) -> GuardSubject:
    """A feature row's (`mpi_linker.features`, its `unique_id` a record key): already
    normalised; it carries no identifiers."""
    return GuardSubject(
        source=str(row["unique_id"]).split(RECORD_KEY_SEPARATOR)[0],
        ssn=row.get("ssn"),
        birth_date=row.get("birth_date"),
        family_name=row.get("family_name"),
        given_name=row.get("given_name"),
        phone=row.get("phone"),
        address=row.get("address"),
    )
