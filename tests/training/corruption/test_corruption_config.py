"""The named presets: each one's error-count distribution is what its name and docs say."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter
from statistics import mean

import pytest

from mpi_training.corruption.config import (
    INFERENCE_WEIGHTS,
    PRESETS,
    TRAINING_WEIGHTS,
    CorruptionConfig,
)
from mpi_training.corruption.errors import Context
from mpi_training.corruption.injector import corrupt_record

RECORD = {
    "given_name": "Margaret",
    "middle_name": None,
    "family_name": "Okafor",
    "birth_date": "1971-11-05",
    "sex": "female",
    "address_line1": "77 Maple Avenue Unit 9",
    "address_line2": None,
    "city": "Worcester",
    "state": "Massachusetts",
    "postcode": "01602",
    "country": "US",
    "phone": "555-222-3333",
    "email": None,
    "ssn": "999-45-6789",
}
CONTEXT = Context(maiden_name="Brennan", reference_date=dt.date(2025, 1, 1))
SEEDS = range(1000)


def _runs(preset, record=RECORD):
    return [corrupt_record(record, CONTEXT, PRESETS[preset], random.Random(seed)) for seed in SEEDS]


def _effective(result):
    return max((a.seq for a in result.applied), default=0)


def test_clinfuse_effective_counts_attempts_and_keeps_no_ops():
    runs = _runs("clinfuse-effective")
    attempts = Counter(r.attempts for r in runs)
    assert set(attempts) <= {1, *range(8, 13)}
    assert 0.26 < attempts[1] / len(runs) < 0.34  # 30% one attempt
    assert all(_effective(r) <= r.attempts for r in runs)
    lost = sum(r.attempts - _effective(r) for r in runs)
    # ClinFuse's no-ops are lost attempts: on this full record about a fifth of them.
    assert lost > 0.15 * sum(r.attempts for r in runs)
    assert any(_effective(r) == 0 for r in runs if r.attempts == 1)


def test_clinfuse_effective_on_a_blank_record_attempts_but_changes_nothing():
    blank = dict.fromkeys(RECORD)
    runs = _runs("clinfuse-effective", blank)
    assert all(r.applied == [] for r in runs)
    assert {r.attempts for r in runs} <= {1, *range(8, 13)}
    assert max(r.attempts for r in runs) == 12


def test_adversarial_gets_its_counts_as_effective_errors():
    runs = _runs("adversarial")
    effective = Counter(_effective(r) for r in runs)
    assert set(effective) <= {1, *range(8, 13)}
    assert 0.26 < effective[1] / len(runs) < 0.34
    assert all(_effective(r) == r.attempts for r in runs)


def test_standard_averages_one_and_a_half_errors():
    effective = [_effective(r) for r in _runs("standard")]
    assert 1.4 < mean(effective) < 1.6
    counts = Counter(effective)
    assert set(counts) <= {1, 2, 3, 4}
    assert 0.70 < counts[1] / len(effective) < 0.80


def test_old_names_keep_their_settings():
    assert PRESETS["clinfuse-inference"] == PRESETS["adversarial"]
    assert PRESETS["clinfuse-inference"] == CorruptionConfig(8, 12, 0.7, dict(INFERENCE_WEIGHTS))
    assert PRESETS["clinfuse-training"] == CorruptionConfig(3, 5, 0.7, dict(TRAINING_WEIGHTS))
    assert PRESETS["clinfuse-effective"] == dataclasses.replace(
        PRESETS["adversarial"], redraw_no_ops=False
    )


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_is_recorded_with_its_redraw_rule(preset):
    assert PRESETS[preset].as_json()["redraw_no_ops"] is (preset != "clinfuse-effective")
