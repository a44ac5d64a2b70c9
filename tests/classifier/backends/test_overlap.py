"""The structured overlap backend and its shipped model."""

from __future__ import annotations

import datetime as dt

from mpi_classifier.backends import Pair
from mpi_classifier.backends.overlap import FEATURES, OverlapClassifier, Rarity, features
from mpi_classifier.history import Event, History


def _height(value: float, year: int) -> Event:
    return Event("observation", "8302-2", "Body Height", dt.date(year, 1, 1), value_number=value)


def _drug(code: str) -> Event:
    return Event("medication", code, f"drug {code}", dt.date(2020, 1, 1))


def test_shipped_model_loads_with_its_fusion_and_card():
    classifier = OverlapClassifier.load()

    assert classifier.model_id.startswith("overlap-")
    assert 0 < classifier.fusion.training_prior < 1
    assert classifier.model.card["dev"]["data"] != "eval"


def test_agreeing_histories_score_higher_than_disagreeing_ones():
    classifier = OverlapClassifier.load()
    mine = History((_height(171.3, 2019), _drug("1"), _drug("2")))
    same = History((_height(171.3, 2023), _drug("2")))
    other = History((_height(158.0, 2023), _drug("3")))

    agree, disagree = classifier.classify([Pair(mine, same), Pair(mine, other)])

    assert agree > disagree


def test_features_are_symmetric_and_complete():
    rarity = Rarity(idf={"|1": 1.0}, unknown=5.0)
    a = History((_height(171.3, 2019), _drug("1"), _drug("2")))
    b = History((_height(170.0, 2023), _drug("2")))

    assert features(a, b, rarity) == features(b, a, rarity)
    assert len(features(a, b, rarity)) == len(FEATURES)


def test_rare_shared_codes_weigh_more_than_common_ones():
    rarity = Rarity.fit(
        [History((_drug("common"),)) for _ in range(50)] + [History((_drug("rare"),))]
    )
    common = features(History((_drug("common"),)), History((_drug("common"),)), rarity)
    rare = features(History((_drug("rare"),)), History((_drug("rare"),)), rarity)

    shared = FEATURES.index("medication_shared")
    assert rare[shared] > common[shared]


def test_empty_histories_are_a_feature_not_an_error():
    classifier = OverlapClassifier.load()

    (probability,) = classifier.classify([Pair(History(()), History(()))])

    assert 0 < probability < 1
