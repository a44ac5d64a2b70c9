"""Each error type changes only the fields it claims, and only when it really changes them."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from mpi_training.corruption.errors import (
    ERROR_TYPES,
    Context,
    address_abbreviation,
    apartment_format_variation,
    day_month_transposition,
    missing_field_value,
    nickname_substitution,
    ssn_format_variation,
)

RECORD = {
    "given_name": "William",
    "middle_name": "Henry",
    "family_name": "Chestnut",
    "birth_date": "1980-03-07",
    "sex": "male",
    "address_line1": "12 Chestnut Street Apt 4",
    "address_line2": "Rear",
    "city": "Boston",
    "state": "Massachusetts",
    "postcode": "02118",
    "country": "US",
    "phone": "555-123-4567",
    "email": None,
    "ssn": "999-12-3456",
}
CONTEXT = Context(maiden_name="Kuhic", reference_date=dt.date(2025, 1, 1))
# Errors that rewrite a second field by design.
ALSO_CHANGES = {
    "given_family_swap": {"given_name", "family_name"},
    "full_address_change": {"address_line1", "address_line2"},
}


@pytest.mark.parametrize("error", ERROR_TYPES, ids=lambda e: e.name)
def test_error_changes_only_its_fields_and_reports_them_exactly(error):
    for seed in range(30):
        for field in error.fields:
            record = dict(RECORD)
            changes = error.apply(record, field, random.Random(seed), CONTEXT)
            assert record == RECORD, "errors propose changes, they do not mutate"
            allowed = ALSO_CHANGES.get(error.name, set()) | {field}
            assert {c.field for c in changes} <= allowed
            for change in changes:
                assert change.before == RECORD[change.field]
                assert change.after != change.before, "no-ops are never reported"
                assert change.after is None or change.after.strip() == change.after
                assert change.after not in ("nan", "None", "NaN", "")
            if error.name != "missing_field_value" and "birth_date" in {c.field for c in changes}:
                new = next(c.after for c in changes if c.field == "birth_date")
                assert dt.date.fromisoformat(new) <= CONTEXT.reference_date


@pytest.mark.parametrize("error", ERROR_TYPES, ids=lambda e: e.name)
def test_error_on_a_null_field_is_a_no_op(error):
    for field in error.fields:
        record = dict(RECORD, **{field: None})
        if error.name == "given_family_swap":
            record["family_name"] = None
        assert error.apply(record, field, random.Random(0), CONTEXT) == []


def test_every_error_type_applies_to_a_realistic_record():
    applied = set()
    for error in ERROR_TYPES:
        for seed in range(20):
            if any(error.apply(RECORD, f, random.Random(seed), CONTEXT) for f in error.fields):
                applied.add(error.name)
    assert applied == {e.name for e in ERROR_TYPES}


def test_abbreviation_replaces_the_street_type_word_only():
    # ClinFuse's substring match would also have rewritten the "St" inside "Chestnut".
    (change,) = address_abbreviation(RECORD, "address_line1", random.Random(1), CONTEXT)
    assert change.after.startswith("12 Chestnut St")
    assert change.after.endswith(" Apt 4")
    assert change.after.split()[2].rstrip(".") in ("St", "Str")
    expanded = address_abbreviation(
        {"address_line1": "9 Oak Ave"}, "address_line1", random.Random(0), CONTEXT
    )
    assert expanded[0].after == "9 Oak Avenue"


def test_abbreviation_without_a_street_type_is_a_no_op():
    record = {"address_line1": "Flat 3 Chestnut"}
    assert address_abbreviation(record, "address_line1", random.Random(0), CONTEXT) == []


def test_apartment_format_keeps_the_number():
    (change,) = apartment_format_variation(RECORD, "address_line1", random.Random(3), CONTEXT)
    assert change.after.startswith("12 Chestnut Street ")
    assert change.after.endswith("4")
    assert change.after != RECORD["address_line1"]


def test_nickname_and_unknown_name():
    (change,) = nickname_substitution(RECORD, "given_name", random.Random(0), CONTEXT)
    assert change.after in ("Bill", "Will", "Billy")
    assert (
        nickname_substitution({"given_name": "Xochitl"}, "given_name", random.Random(0), CONTEXT)
        == []
    )


def test_nickname_expands_back_to_the_formal_name():
    (change,) = nickname_substitution(
        {"given_name": "Bill"}, "given_name", random.Random(0), CONTEXT
    )
    assert change.after == "William"


def test_day_month_transposition_only_when_the_day_could_be_a_month():
    (change,) = day_month_transposition(RECORD, "birth_date", random.Random(0), CONTEXT)
    assert change.after == "1980-07-03"
    late = {"birth_date": "1980-03-25"}
    assert day_month_transposition(late, "birth_date", random.Random(0), CONTEXT) == []


def test_ssn_format_toggles_dashes():
    (change,) = ssn_format_variation(RECORD, "ssn", random.Random(0), CONTEXT)
    assert change.after == "999123456"
    back = ssn_format_variation({"ssn": "999123456"}, "ssn", random.Random(0), CONTEXT)
    assert back[0].after == "999-12-3456"


def test_missing_value_is_a_real_null():
    (change,) = missing_field_value(RECORD, "postcode", random.Random(0), CONTEXT)
    assert change.after is None
