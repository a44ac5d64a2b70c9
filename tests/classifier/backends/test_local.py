"""The in-process MiniLM cross-encoder with the shipped adapter (offline, CPU)."""

from __future__ import annotations

import datetime as dt

import pytest

from mpi_classifier.backends import Pair
from mpi_classifier.backends.local import LocalClassifier
from mpi_classifier.history import Event, History


@pytest.fixture(scope="module")
def classifier() -> LocalClassifier:
    return LocalClassifier.load(batch_size=2)


def _history(n: int) -> History:
    return History(
        tuple(
            Event("procedure", f"p{i}", f"Procedure {i}", dt.date(2015 + i % 9, 1, 1))
            for i in range(n)
        )
    )


def test_shipped_adapter_loads_with_its_card(classifier):
    assert classifier.model_id.startswith("minilm-lora-")
    assert 0 < classifier.fusion.training_prior < 1
    # The cpu-small recipe's length (training/recipes/cpu-small.toml).
    assert classifier.max_tokens == 192


def test_length_sorted_batches_keep_the_input_order(classifier):
    pairs = [Pair(_history(n), _history(n + 1)) for n in (40, 1, 12, 0, 25)]

    together = classifier.classify(pairs)
    alone = [classifier.classify([pair])[0] for pair in pairs]

    assert together == pytest.approx(alone, abs=1e-5)
    assert all(0 < p < 1 for p in together)


def test_pair_texts_fit_the_model(classifier):
    text = classifier.texts([Pair(_history(500), _history(500))])[0]

    encoded = classifier.tokenizer(text.first, text.second)["input_ids"]

    assert len(encoded) <= classifier.max_tokens
