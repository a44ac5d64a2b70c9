"""Names alone never outweigh a disagreement: corroboration by a person-level field."""

from __future__ import annotations

import pytest

from mpi_store.domain.evidence import corroborated

NAMES = {
    "given_name": {"level": "Exact", "match_weight": 10.0},
    "family_name": {"level": "Exact", "match_weight": 9.6},
}


@pytest.mark.parametrize("field", ["birth_date", "ssn", "phone", "address"])
def test_a_person_level_field_agreeing_corroborates_the_names(field):
    other = "phone" if field == "address" else "address"  # a move: the address disagrees
    comparisons = {
        **NAMES,
        other: {"level": "Else", "match_weight": -2.0},
        field: {"level": "Exact", "match_weight": 9.0},
    }
    assert corroborated(comparisons)


@pytest.mark.parametrize(
    "others",
    [
        # Neighbours share a postcode and a city; half the population shares a sex.
        {
            "birth_date": {"level": "Else", "match_weight": -3.8},
            "postcode": {"match_weight": 8.0},
            "city": {"match_weight": 6.0},
            "sex": {"match_weight": 1.0},
        },
        # A birth date within a year of the other is weak evidence against an address that
        # disagrees.
        {
            "birth_date": {"level": "Within a year", "match_weight": 1.65},
            "address": {"level": "Else", "match_weight": -2.0},
        },
        {
            "ssn": {"level": "Else", "match_weight": -2.9},
            "phone": {"level": "Null", "match_weight": 0.0},
        },
    ],
)
def test_names_against_a_disagreement_are_not_corroborated(others):
    assert not corroborated({**NAMES, **others})


def test_names_with_nothing_to_contradict_them_are_enough():
    missing = {"level": "Missing on one side", "match_weight": 0.0}
    assert corroborated({**NAMES, "birth_date": missing, "ssn": missing})
    assert corroborated(NAMES)
