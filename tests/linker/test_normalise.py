"""Normalisation of names and SSNs."""

from __future__ import annotations

import pytest

from mpi_linker import normalise
from mpi_linker.features import blocking_keys, features


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  María ", "maria"),
        ("O'Brien-Smith", "obrien smith"),
        ("ZOË", "zoe"),
        ("---", None),
        (None, None),
        ("王", "王"),
        ("محمد", "محمد"),
        ("김민준", "김민준"),
        ("Søren", "søren"),
        ("\ufb01nn", "finn"),
    ],
)
def test_name(raw, expected):
    assert normalise.name(raw) == expected


def test_names_without_a_phonetic_code_still_have_blocking_keys():
    row = features({"given_name": "伟", "family_name": "王", "birth_date": "1990-10-10"})

    keys = blocking_keys(row)

    assert row["given_dm"] is None
    assert "dob_fam:1990-10-10|王" in keys
    assert "dob_giv:1990-10-10|伟" in keys
    assert not any(key.endswith("None") for key in keys)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("512-44-9087", "512449087"),
        ("512 44 9087", "512449087"),
        ("999-12-3456", "999123456"),
        ("123-45-6789", None),
        ("000-00-0000", None),
        ("999999999", None),
        ("512-00-9087", None),
        ("51244908", None),
        (None, None),
    ],
)
def test_ssn(raw, expected):
    assert normalise.ssn(raw) == expected
