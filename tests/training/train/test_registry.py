"""The promotion gate: a model becomes champion only with a better gray-pair F1 and no worse
calibration, on the same pairs; everything else is recorded as a challenger with its reason."""

from __future__ import annotations

import dataclasses

import pytest

from mpi_training.train.registry import (
    ECE_TOLERANCE,
    ChampionUnavailable,
    Entry,
    Registry,
    decide,
    promote,
)


def entry(model_id, f1, ece, *, sha="a" * 64, limit=None):
    return Entry(
        model_id=model_id,
        path=f"models/{model_id}",
        dataset="ds",
        dataset_sha256=sha,
        limit=limit,
        date="2026-11-24T00:00:00+00:00",
        gray={"f1": f1, "ece": ece, "precision": f1, "recall": f1, "roc_auc": None},
        test={"f1": f1, "ece": ece},
    )


def never(champion):
    raise AssertionError("the champion needs no re-evaluation on the same pairs")


def test_the_first_model_becomes_champion(tmp_path):
    registry = Registry.load(tmp_path / "registry.json")

    decision = promote(registry, entry("m1", 0.7, 0.05), never)

    assert decision.promoted
    assert registry.champion.model_id == "m1"
    registry.save(tmp_path / "registry.json")
    assert Registry.load(tmp_path / "registry.json") == registry


def test_a_better_f1_promotes_and_keeps_the_old_champion_as_challenger():
    registry = Registry(champion=entry("m1", 0.7, 0.05))

    decision = promote(registry, entry("m2", 0.75, 0.05 + ECE_TOLERANCE / 2), never)

    assert decision.promoted
    assert registry.champion.model_id == "m2"
    assert [c.model_id for c in registry.challengers] == ["m1"]
    assert "m2" in registry.challengers[0].reason


@pytest.mark.parametrize("f1", [0.7, 0.65])
def test_an_f1_that_is_not_better_is_refused(f1):
    registry = Registry(champion=entry("m1", 0.7, 0.05))

    decision = promote(registry, entry("m2", f1, 0.01), never)

    assert not decision.promoted
    assert registry.champion.model_id == "m1"
    assert registry.challengers[0].model_id == "m2"
    assert "F1" in registry.challengers[0].reason


def test_a_better_f1_with_worse_calibration_is_refused():
    champion = entry("m1", 0.7, 0.05)

    decision = decide(entry("m2", 0.9, 0.05 + 2 * ECE_TOLERANCE), champion)

    assert not decision.promoted
    assert "ECE" in decision.reason


def test_a_champion_from_other_pairs_is_re_evaluated_on_these():
    registry = Registry(champion=entry("m1", 0.9, 0.05, sha="b" * 64))
    candidate = entry("m2", 0.8, 0.05)

    def rescore(champion):
        # On these pairs the champion does worse than on its own.
        gray = {**champion.gray, "f1": 0.6}
        return dataclasses.replace(champion, dataset_sha256=candidate.dataset_sha256, gray=gray)

    decision = promote(registry, candidate, rescore)

    assert decision.promoted
    assert registry.champion.model_id == "m2"
    assert registry.challengers[0].dataset_sha256 == candidate.dataset_sha256


def test_a_champion_that_cannot_be_re_evaluated_blocks_promotion():
    registry = Registry(champion=entry("m1", 0.5, 0.05, sha="b" * 64))

    def rescore(champion):
        raise ChampionUnavailable("no model card at models/m1")

    decision = promote(registry, entry("m2", 0.9, 0.01), rescore)

    assert not decision.promoted
    assert "cannot be re-evaluated" in decision.reason
    assert registry.champion.model_id == "m1"
    assert registry.challengers[0].reason == decision.reason


def test_a_different_limit_is_a_different_evaluation():
    assert not entry("m1", 0.5, 0.1, limit=50).same_evaluation(entry("m2", 0.5, 0.1))
