"""Facility segmentation matches ClinFuse's proportions and keeps events with encounters."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from mpi_training.facilities import (
    FACILITY_COUNT_WEIGHTS,
    draw_facilities,
    facility_names,
    split_by_organisation,
    split_chronologically,
)


def test_facilities_per_patient_follow_the_weights():
    rng = random.Random(7)
    names = facility_names(5)
    draws = [draw_facilities(rng, names) for _ in range(20_000)]
    counts = Counter(len(d) for d in draws)
    for k, weight in enumerate(FACILITY_COUNT_WEIGHTS, start=1):
        assert counts[k] / len(draws) == pytest.approx(weight, abs=0.015)
    assert all(len(set(d)) == len(d) for d in draws), "drawn without replacement"
    primaries = Counter(d[0] for d in draws)
    assert all(n / len(draws) == pytest.approx(0.2, abs=0.02) for n in primaries.values())


def test_first_sixty_percent_go_to_the_primary_then_round_robin(make_history):
    history = make_history(0, encounters=10)
    split = split_chronologically(history, ["p", "s1", "s2"])
    assert list(split) == ["p", "s1", "s2"]
    encounters = {
        f: [e["encounter_id"] for e in ev if e["type"] == "encounter"] for f, ev in split.items()
    }
    assert encounters["p"] == [f"enc-0-{n}" for n in range(6)]
    assert encounters["s1"] == ["enc-0-6", "enc-0-8"]
    assert encounters["s2"] == ["enc-0-7", "enc-0-9"]


def test_events_follow_their_encounter_and_orphans_stay_primary(make_history):
    history = make_history(1, encounters=5)
    split = split_chronologically(history, ["p", "s"])
    for _facility, events in split.items():
        mine = {e["encounter_id"] for e in events if e["type"] == "encounter"}
        for e in events:
            if e["type"] == "observation":
                assert e["encounter_id"] in mine
    assert any(e["type"] == "condition" for e in split["p"])
    assert sum(len(v) for v in split.values()) == len(history["events"])


def test_every_assigned_facility_gets_a_record_even_without_encounters(make_history):
    split = split_chronologically(make_history(2, encounters=1), ["p", "s1", "s2", "s3"])
    assert set(split) == {"p", "s1", "s2", "s3"}


def test_organisation_mode_uses_synthea_organisations(make_history):
    split = split_by_organisation(make_history(3, encounters=5))
    # Encounters alternate org-0, org-1: org-zero has three visits and is primary.
    assert list(split) == ["org-zero", "org-one"]
    assert any(e["type"] == "condition" for e in split["org-zero"])
