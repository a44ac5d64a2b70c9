"""The injector's error counts, its log, and its determinism."""

from __future__ import annotations

import datetime as dt
import random

from mpi_training.corruption.config import PRESETS, CorruptionConfig
from mpi_training.corruption.errors import Context
from mpi_training.corruption.injector import corrupt

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


def _replay(record, applied):
    out = dict(record)
    for change in applied:
        assert out[change.field] == change.before, "the log chains exactly"
        out[change.field] = change.after
    return out


def test_log_replays_to_the_corrupted_record():
    for seed in range(200):
        out, applied = corrupt(RECORD, CONTEXT, PRESETS["clinfuse-inference"], random.Random(seed))
        assert _replay(RECORD, applied) == out


def test_error_counts_follow_the_two_branches():
    config = PRESETS["clinfuse-training"]
    counts = []
    for seed in range(500):
        _, applied = corrupt(RECORD, CONTEXT, config, random.Random(seed))
        counts.append(max((a.seq for a in applied), default=0))
    assert set(counts) <= {1, 3, 4, 5}
    single = counts.count(1) / len(counts)
    assert 0.22 < single < 0.38  # 1 - multi_error_probability = 0.3


def test_inference_preset_reaches_its_counts():
    counts = [
        max(
            a.seq
            for a in corrupt(RECORD, CONTEXT, PRESETS["clinfuse-inference"], random.Random(s))[1]
        )
        for s in range(300)
    ]
    multi = [c for c in counts if c > 1]
    assert min(multi) >= 8
    assert max(multi) <= 12


def test_same_seed_same_errors():
    config = PRESETS["clinfuse-inference"]
    first = corrupt(RECORD, CONTEXT, config, random.Random(42))
    again = corrupt(RECORD, CONTEXT, config, random.Random(42))
    assert first == again


def test_zero_weight_categories_are_never_drawn():
    config = CorruptionConfig(5, 5, 1.0, {"missing": 1.0, "name": 0.0})
    for seed in range(50):
        _, applied = corrupt(RECORD, CONTEXT, config, random.Random(seed))
        assert {a.error_type for a in applied} == {"missing_field_value"}
