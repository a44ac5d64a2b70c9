"""Golden-record survivorship: per field, the most frequent value among the linked records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from mpi_store.contracts import DEMOGRAPHIC_FIELDS
from mpi_store.models import SourceRecord


def survive(records: Sequence[SourceRecord]) -> dict[str, Any]:
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
