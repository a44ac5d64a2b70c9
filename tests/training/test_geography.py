"""Synthea's own ZIP table: real city/ZIP pairs per state, ZIP3 areas, unknown states refused."""

from __future__ import annotations

import pytest

from mpi_training.geography import Place, UnknownStateError, states, zip_table


def test_massachusetts_has_its_real_zips_zero_padded():
    table = zip_table("Massachusetts")
    assert Place("02108", "Boston") in table.places
    assert all(len(p.postcode) == 5 and p.postcode.isdigit() for p in table.places)
    # Massachusetts ZIPs run 010-027 (the census puts a corner of Attleboro in 028).
    assert {p.area for p in table.places} <= {f"{n:03d}" for n in range(10, 29)}
    assert list(table.places) == sorted(table.places)


def test_areas_split_the_state():
    table = zip_table("Texas")
    inside, outside = table.in_area("787"), table.outside_area("787")
    assert inside
    assert outside
    assert {p.area for p in inside} == {"787"}
    assert len(inside) + len(outside) == len(table.places)
    assert not {p.postcode for p in inside} & {p.postcode for p in zip_table("Ohio").places}


def test_states_are_full_names_and_unknown_ones_are_refused():
    assert {"Massachusetts", "Texas", "California"} <= set(states())
    with pytest.raises(UnknownStateError):
        zip_table("MA")
