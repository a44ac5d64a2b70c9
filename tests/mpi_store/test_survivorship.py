"""Survivorship rules of the golden record."""

from __future__ import annotations

import datetime as dt

from mpi_store.domain.survivorship import survive
from mpi_store.models import SourceRecord

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _record(record_id: int, minutes: int, **fields) -> SourceRecord:
    return SourceRecord(
        id=record_id, updated_at=T0 + dt.timedelta(minutes=minutes), identifiers=[], **fields
    )


def test_most_frequent_value_wins():
    records = [
        _record(1, 0, city="Boston"),
        _record(2, 1, city="Boston"),
        _record(3, 2, city="Salem"),
    ]

    assert survive(records)["city"] == "Boston"


def test_tie_goes_to_the_most_recently_updated():
    records = [_record(1, 5, city="Boston"), _record(2, 1, city="Salem")]

    assert survive(records)["city"] == "Boston"


def test_missing_values_never_win_and_absent_fields_are_left_out():
    records = [_record(1, 0, email=None), _record(2, 1, email=None), _record(3, 2, email="a@b")]

    golden = survive(records)

    assert golden["email"] == "a@b"
    assert "phone" not in golden


def test_dates_are_iso_strings_and_identifiers_are_a_union():
    records = [
        _record(1, 0, birth_date=dt.date(1984, 3, 12)),
        _record(2, 1, birth_date=dt.date(1984, 3, 12)),
    ]
    records[0].identifiers = [{"system": "a", "value": "1"}]
    records[1].identifiers = [{"system": "a", "value": "1"}, {"system": "b", "value": "2"}]

    golden = survive(records)

    assert golden["birth_date"] == "1984-03-12"
    assert golden["identifiers"] == [{"system": "a", "value": "1"}, {"system": "b", "value": "2"}]
