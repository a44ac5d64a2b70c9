"""Unsupervised training: sane weights on people who move, no crash on a missing field."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from mpi_linker.frames import frame, read_records, read_truth, record_key
from mpi_linker.model.check import check, levels
from mpi_linker.model.train import self_train
from tests.conftest import FIXTURE


def _weights(artifact) -> dict[tuple[str, str], float]:
    return {(lv.comparison, lv.label): lv.weight for lv in levels(artifact.splink)}


@pytest.fixture(scope="module")
def moved_records() -> list[dict]:
    """The fixture's records with half of the patients moved across ZIP areas (new street,
    ZIP and phone) before their later facility records."""
    records = read_records(FIXTURE)
    truth = read_truth(FIXTURE)
    by_patient = defaultdict(list)
    for record in records:
        by_patient[truth[record_key(record["source"], record["source_record_id"])]].append(record)
    rng = random.Random(7)
    for group in by_patient.values():
        if len(group) < 2 or rng.random() < 0.5:
            continue
        for record in group[1:]:
            record["postcode"] = f"{rng.randint(100, 999)}{rng.randint(10, 99)}"
            record["address_line1"] = f"{rng.randint(1, 999)} Elm Street"
            record["phone"] = f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
    return records


@pytest.fixture(scope="module")
def moved_model(moved_records):
    return self_train(frame(moved_records))


def test_training_on_people_who_move_gives_sane_weights(moved_model):
    assert check(moved_model.splink) == []
    weights = _weights(moved_model)
    # A move is common: a different ZIP or street is evidence against, never a veto.
    assert -10.5 < weights[("postcode", "All other comparisons")] < 0
    assert -10.5 < weights[("address", "All other comparisons")] < 0
    assert weights[("postcode", "Exact match on postcode")] > weights[("postcode", "Same area")]
    for (comparison, _), weight in weights.items():
        assert -10.5 < weight < 20.5, comparison
    assert moved_model.card["levels"]
    assert moved_model.card["thresholds_from"].startswith("defaults")


def test_training_without_any_ssn_skips_its_session(moved_records):
    records = [{**r, "ssn": None} for r in moved_records]
    artifact = self_train(frame(records))
    assert any(line.startswith("ssn:") for line in artifact.card["em_sessions_skipped"])
    assert check(artifact.splink) == []
    # The SSN levels carry no evidence, as none was ever seen.
    weights = _weights(artifact)
    assert weights[("ssn", "Exact match on ssn")] == pytest.approx(0.0, abs=1e-6)
