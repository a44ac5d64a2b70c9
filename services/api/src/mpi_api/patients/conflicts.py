"""What two patients' records disagree on, as a steward's merge sees it: field names and record
keys, never the values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpi_store.domain.guards import GuardSubject, pair_guards
from mpi_store.models import SourceRecord


def merge_conflicts(
    first: Sequence[SourceRecord], second: Sequence[SourceRecord]
) -> list[dict[str, Any]]:
    """One entry per field and pair of records (one on each patient) that disagree: two SSNs
    (more than a keying error apart, as the merge guard reads them), two birth dates, two
    values of one identifier system, or two records of one source (one facility's two charts
    for one patient)."""
    found: list[dict[str, Any]] = []
    for a in first:
        for b in second:
            keys = [_key(a), _key(b)]
            if a.source == b.source:
                found.append({"field": "source", "records": keys})
            if a.norm_ssn and b.norm_ssn and "conflicting_ssn" in _ssn_guard(a, b):
                found.append({"field": "ssn", "records": keys})
            if a.birth_date and b.birth_date and a.birth_date != b.birth_date:
                found.append({"field": "birth_date", "records": keys})
            found.extend(
                {"field": "identifiers", "system": system, "records": keys}
                for system in _identifier_systems_in_conflict(a, b)
            )
    return found


def _ssn_guard(a: SourceRecord, b: SourceRecord) -> set[str]:
    return pair_guards(GuardSubject(ssn=a.norm_ssn), GuardSubject(ssn=b.norm_ssn))


def _identifier_systems_in_conflict(a: SourceRecord, b: SourceRecord) -> list[str]:
    """Systems both records carry with no value in common."""
    values_a, values_b = _by_system(a), _by_system(b)
    return sorted(s for s in values_a.keys() & values_b.keys() if not values_a[s] & values_b[s])


def _by_system(record: SourceRecord) -> dict[str, set[str]]:
    values: dict[str, set[str]] = {}
    for identifier in record.identifiers or []:
        system, value = identifier.get("system"), identifier.get("value")
        if system and value:
            values.setdefault(system, set()).add(value)
    return values


def _key(record: SourceRecord) -> dict[str, str]:
    return {"source": record.source, "source_record_id": record.source_record_id}
