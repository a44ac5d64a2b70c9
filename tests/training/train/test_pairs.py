"""Pair selection from a population: patient-disjoint splits, positives from the truth, hard
negatives from the linker's gray zone, the class ratio, and refusing the evaluation set."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pytest

from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_linker.frames import read_truth
from mpi_linker.model.artifact import load
from mpi_training.train.dataset import SPLITS
from mpi_training.train.pairs import (
    HARD_FLOOR_FACTOR,
    PairOptions,
    PopulationRefused,
    build_pairs,
    load_population,
    manifest_seed,
)
from mpi_training.train.splits import assign_splits

DATA = Path(__file__).resolve().parents[3] / "data"
FIXTURE = DATA / "fixture"


@pytest.fixture(scope="module")
def artifact():
    return load()


@pytest.fixture(scope="module")
def population(artifact):
    return load_population(FIXTURE, artifact)


def negatives(pairs, split):
    return [p for p in pairs if p.split == split and not p.label]


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_no_patient_is_in_two_splits(population, artifact, seed):
    built = build_pairs(population, artifact, PairOptions(seed=seed))

    splits_of = defaultdict(set)
    for p in built.pairs:
        splits_of[p.first_patient].add(p.split)
        splits_of[p.second_patient].add(p.split)
        assert population.patient_of[p.first] == p.first_patient
        assert population.patient_of[p.second] == p.second_patient
    assert all(len(splits) == 1 for splits in splits_of.values())
    assert {s for splits in splits_of.values() for s in splits} == set(SPLITS)
    assert sum(built.patients.values()) == 200
    assert built.patients["train"] == pytest.approx(160, abs=3)


def test_splits_depend_on_the_seed_and_keep_families_together():
    families = {f"p{i}": f"p{i}" for i in range(100)} | {"t1": "twins", "t2": "twins"}

    first = assign_splits(families, (0.8, 0.1, 0.1), seed=1)

    assert first == assign_splits(families, (0.8, 0.1, 0.1), seed=1)
    assert first != assign_splits(families, (0.8, 0.1, 0.1), seed=2)
    assert first["t1"] == first["t2"]
    assert sorted(first.values()).count("val") == pytest.approx(10, abs=2)


def test_positives_are_every_true_cross_facility_pair(population, artifact):
    built = build_pairs(population, artifact, PairOptions())
    records = defaultdict(list)
    for key, patient in read_truth(FIXTURE).items():
        records[patient].append(key)
    expected = {
        tuple(sorted((a, b)))
        for keys in records.values()
        for a, b in combinations(keys, 2)
        if a.split(RECORD_KEY_SEPARATOR)[0] != b.split(RECORD_KEY_SEPARATOR)[0]
    }

    positives = [p for p in built.pairs if p.kind == "positive"]

    assert {(p.first, p.second) for p in positives} == expected
    assert all(p.label == 1 and p.first_patient == p.second_patient for p in positives)
    compared = [p for p in positives if (p.first, p.second) in population.scores]
    assert compared
    assert all(p.splink_probability is not None and p.tier != "unblocked" for p in compared)
    unscored = [p for p in positives if (p.first, p.second) not in population.scores]
    assert all(p.tier == "unblocked" and p.splink_probability is None for p in unscored)


def test_hard_negatives_are_scored_different_patients_and_dominate(population, artifact):
    options = PairOptions(negative_ratio=0.15, hard_share=0.8)
    built = build_pairs(population, artifact, options)
    floor = artifact.thresholds.reject * HARD_FLOOR_FACTOR

    hard = [p for p in built.pairs if p.kind == "hard"]

    assert hard
    for p in hard:
        assert p.label == 0
        assert p.first_patient != p.second_patient
        assert p.splink_probability is not None
        assert p.splink_probability >= floor
        assert p.tier == artifact.thresholds.tier(p.splink_probability)
    assert any(p.tier == "gray" for p in hard)
    train = negatives(built.pairs, "train")
    # The fixture has enough hard pairs for the training split's share at this ratio.
    assert built.hard_available["train"] >= built.hard_wanted["train"]
    assert sum(p.kind == "hard" for p in train) / len(train) == pytest.approx(0.8, abs=0.05)
    for split in SPLITS:
        taken = sum(p.kind == "hard" for p in negatives(built.pairs, split))
        assert taken == min(built.hard_wanted[split], built.hard_available[split])


@pytest.mark.parametrize("ratio", [1.0, 3.0])
def test_the_class_ratio_is_honoured(population, artifact, ratio):
    built = build_pairs(population, artifact, PairOptions(negative_ratio=ratio))

    for split in SPLITS:
        positives = sum(p.label for p in built.pairs if p.split == split)
        assert len(negatives(built.pairs, split)) == pytest.approx(ratio * positives, abs=1)
    keys = [(p.first, p.second) for p in built.pairs]
    assert len(keys) == len(set(keys))


def test_relatives_and_random_pairs_fill_what_hard_pairs_cannot(population, artifact):
    built = build_pairs(population, artifact, PairOptions(negative_ratio=3.0, hard_share=0.8))

    kinds = {p.kind for p in built.pairs}
    relatives = [p for p in built.pairs if p.kind == "confusable"]

    assert kinds == {"positive", "hard", "confusable", "random"}
    assert all(
        population.family_of[p.first_patient] == population.family_of[p.second_patient]
        and p.first_patient != p.second_patient
        for p in relatives
    )
    assert built.hard_available["train"] < built.hard_wanted["train"]


def test_the_evaluation_population_is_refused():
    with pytest.raises(PopulationRefused, match="evaluation population"):
        manifest_seed(DATA / "eval")
    assert manifest_seed(FIXTURE) == 42


def test_a_folder_without_a_manifest_is_refused(tmp_path):
    with pytest.raises(PopulationRefused, match=r"manifest\.json"):
        manifest_seed(tmp_path)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="add up to 1"):
        PairOptions(fractions=(0.8, 0.1, 0.2))
    with pytest.raises(ValueError, match="share"):
        PairOptions(hard_share=1.5)
