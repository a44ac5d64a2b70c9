"""`mpi train prepare-base`: a multimodal Gemma3 checkpoint (MedGemma 4B) → a text-only Gemma3
sequence classifier that vLLM serves (stack.md §2.2, clinfuse.md §4.1).

The language model's weights are carried over unchanged; the SigLIP vision tower, the projector
and the LM head are dropped; a fresh two-class `score` head reads the last non-pad token.
transformers saves the result as `Gemma3TextForSequenceClassification`, which vLLM resolves to
a model it cannot load, so config.json names `Gemma3ForSequenceClassification` instead: vLLM
maps that onto `Gemma3ForCausalLM` plus a classification head, and transformers still loads the
folder by its `model_type` (gemma3_text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForImageTextToText,
    AutoTokenizer,
    Gemma3TextConfig,
    Gemma3TextForSequenceClassification,
)

from mpi_classifier.backends.local import LABELS

SERVED_ARCHITECTURE = "Gemma3ForSequenceClassification"
PAD_TOKEN = "<pad>"


def prepare_base(source: Path, out: Path) -> dict[str, Any]:
    """Write the text-only classifier and the tokenizer (with a pad token) to `out`."""
    multimodal = AutoModelForImageTextToText.from_pretrained(source, dtype="auto")
    if multimodal.config.model_type != "gemma3":
        raise ValueError(f"{source} is a {multimodal.config.model_type} model, not gemma3")
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = (
            PAD_TOKEN if PAD_TOKEN in tokenizer.get_vocab() else tokenizer.eos_token
        )
    config = Gemma3TextConfig.from_dict(
        multimodal.config.text_config.to_dict(),
        num_labels=len(LABELS),
        id2label=LABELS,
        label2id={label: index for index, label in LABELS.items()},
        # The classifier reads the last token that is not this one.
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.device("meta"):
        classifier = Gemma3TextForSequenceClassification(config)  # type: ignore[no-untyped-call]
    # The language model itself (weights and rotary buffers), not a copy: 4B parameters are
    # held once, and nothing about them can change on the way.
    classifier.model = multimodal.model.language_model
    classifier.score = torch.nn.Linear(
        config.hidden_size, len(LABELS), bias=False, dtype=multimodal.dtype
    )
    torch.nn.init.normal_(classifier.score.weight, std=config.initializer_range)
    classifier.save_pretrained(out)
    tokenizer.save_pretrained(out)
    serve_as_gemma3_classifier(out)
    kept = sum(p.numel() for p in classifier.model.parameters())
    return {
        "source": str(source),
        "out": str(out),
        "dtype": str(multimodal.dtype).removeprefix("torch."),
        "parameters_before": sum(p.numel() for p in multimodal.parameters()),
        "parameters_after": kept + classifier.score.weight.numel(),
        "layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "pad_token": tokenizer.pad_token,
    }


def serve_as_gemma3_classifier(folder: Path) -> None:
    """Name the architecture vLLM serves as a classifier in `folder/config.json`."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config["architectures"] = [SERVED_ARCHITECTURE]
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
