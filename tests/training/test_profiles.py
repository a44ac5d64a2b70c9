"""Per-facility collection profiles: which fields each facility leaves out, drawn from the seed."""

from __future__ import annotations

import random
from statistics import mean

from mpi_training.profiles import NOT_COLLECTED_SHARE, apply_profile, draw_profiles

FACILITIES = [f"facility-{i:02d}" for i in range(1, 6)]


def test_each_field_is_left_out_by_its_share_of_facilities():
    shares = {field: [] for field in NOT_COLLECTED_SHARE}
    for seed in range(600):
        profiles = draw_profiles(FACILITIES, random.Random(seed))
        assert set(profiles) == set(FACILITIES)
        for field in shares:
            shares[field].append(sum(field in p for p in profiles.values()) / len(FACILITIES))
    for field, share in NOT_COLLECTED_SHARE.items():
        assert abs(mean(shares[field]) - share) < 0.03, field
    # With five facilities and a third of SSNs: always one or two facilities without SSN.
    assert set(shares["ssn"]) == {0.2, 0.4}


def test_no_street_line_means_no_second_line_either():
    profiles = draw_profiles(FACILITIES, random.Random(1), {"address_line1": 1.0})
    assert all(p == ("address_line1", "address_line2") for p in profiles.values())


def test_profiles_depend_on_the_seed_not_the_order_of_sources():
    first = draw_profiles(FACILITIES, random.Random(3))
    assert draw_profiles(list(reversed(FACILITIES)), random.Random(3)) == first
    assert any(draw_profiles(FACILITIES, random.Random(s)) != first for s in range(4, 10))


def test_a_field_not_collected_is_a_real_null():
    record = {"ssn": "999-12-3456", "phone": "555-111-2222", "given_name": "Ann"}
    apply_profile(record, ("ssn", "phone"))
    assert record == {"ssn": None, "phone": None, "given_name": "Ann"}
