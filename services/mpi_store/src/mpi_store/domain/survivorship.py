"""Golden-record survivorship: per field, the most frequent value among the linked records."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS


class Member(Protocol):
    """What survivorship reads of a linked record (a `SourceRecord` or the bulk load's view of
    one), besides its `DEMOGRAPHIC_FIELDS`."""

    @property
    def id(self) -> int: ...

    @property
    def updated_at(self) -> dt.datetime: ...

    @property
    def identifiers(self) -> list[dict[str, Any]]: ...


def survive(records: Sequence[Member]) -> dict[str, Any]:
    """Most frequent non-empty value per field; ties go to the most recently updated record.

    Identifiers are the union of the records' distinct identifiers.
    """
    newest_first = sorted(records, key=lambda r: (r.updated_at, r.id), reverse=True)
    golden: dict[str, Any] = {}
    for field in DEMOGRAPHIC_FIELDS:
        values = [_jsonable(getattr(r, field)) for r in newest_first]
        present = [v for v in values if v not in (None, "")]
        if not present:
            continue
        counts = Counter(present)
        best = max(counts.values())
        # `present` is newest first, so the first value with the top count wins a tie.
        golden[field] = next(v for v in present if counts[v] == best)
    identifiers: list[dict[str, str]] = []
    for record in newest_first:
        for identifier in record.identifiers or []:
            if identifier not in identifiers:
                identifiers.append(identifier)
    golden["identifiers"] = identifiers
    return golden


def _jsonable(value: object) -> Any:
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else value
