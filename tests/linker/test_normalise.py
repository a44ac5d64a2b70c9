"""Normalisation of names and SSNs."""

from __future__ import annotations

import pytest

from mpi_linker import normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  María ", "maria"),
        ("O'Brien-Smith", "obrien smith"),
        ("ZOË", "zoe"),
        ("---", None),
        (None, None),
    ],
)
def test_name(raw, expected):
    assert normalise.name(raw) == expected


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
