"""Log-odds fusion of Splink's and the classifier's probabilities, and its fitting."""

from __future__ import annotations

import pytest

from mpi_classifier.fusion import Fusion, logit


def test_an_uninformative_classifier_leaves_splink_alone():
    fusion = Fusion(weight=1.5, threshold=0.5, training_prior=0.25)

    assert fusion.fuse(0.3, 0.25) == pytest.approx(0.3)


def test_classifier_evidence_moves_the_odds_by_its_weight():
    fusion = Fusion(weight=2.0, threshold=0.5, training_prior=0.5)

    fused = fusion.fuse(0.2, 0.9)

    assert logit(fused) == pytest.approx(logit(0.2) + 2 * logit(0.9))


def test_certain_classifiers_are_clamped_not_infinite():
    fusion = Fusion(weight=1.0, threshold=0.5, training_prior=0.5)

    assert 0 < fusion.fuse(0.5, 0.0) < fusion.fuse(0.5, 1.0) < 1


def test_fusion_round_trips_through_json_dicts():
    fusion = Fusion(weight=2.6, threshold=0.0197, training_prior=0.2475)

    assert Fusion.from_dict(fusion.to_dict()) == fusion
