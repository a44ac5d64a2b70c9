"""`mpi train prepare-base`: a multimodal Gemma3 (MedGemma's shape) becomes a text-only Gemma3
sequence classifier that vLLM serves, its language weights unchanged."""

from __future__ import annotations

import json

import torch
from safetensors import safe_open
from transformers import (
    AutoModelForImageTextToText,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)
from typer.testing import CliRunner

from mpi_training.train.cli import app


def test_the_vision_tower_goes_and_the_language_model_stays(tiny_medgemma, tmp_path):
    out = tmp_path / "base"

    result = CliRunner().invoke(
        app, ["prepare-base", "--from", str(tiny_medgemma), "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["Gemma3ForSequenceClassification"]
    assert config["model_type"] == "gemma3_text"
    assert config["id2label"] == {"0": "no_match", "1": "match"}
    with safe_open(out / "model.safetensors", "pt") as weights:
        saved = set(weights.keys())
    assert not [k for k in saved if "vision" in k or "projector" in k or "lm_head" in k]
    language = AutoModelForImageTextToText.from_pretrained(tiny_medgemma).model.language_model
    classifier = AutoModelForSequenceClassification.from_pretrained(out)
    state = classifier.state_dict()
    assert set(state) == {f"model.{k}" for k in language.state_dict()} | {"score.weight"}
    assert all(torch.equal(state[f"model.{k}"], v) for k, v in language.state_dict().items())
    assert state["score.weight"].shape == (2, config["hidden_size"])


def test_the_tokenizer_is_copied_with_a_pad_token(tiny_medgemma, gemma3_base):
    tokenizer = AutoTokenizer.from_pretrained(gemma3_base)
    original = AutoTokenizer.from_pretrained(tiny_medgemma)
    config = json.loads((gemma3_base / "config.json").read_text())

    assert original.pad_token is None
    assert tokenizer.pad_token == "<pad>"
    assert config["pad_token_id"] == tokenizer.pad_token_id
    assert tokenizer("CONDITIONS: 2019")["input_ids"] == original("CONDITIONS: 2019")["input_ids"]
