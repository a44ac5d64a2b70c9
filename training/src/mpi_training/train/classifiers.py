"""A recipe's classifier: its base model and tokenizer, the summaries it reads, and its inputs.

Encoders read the two summaries as a BERT pair through the local backend's own summarizer;
decoders read the one Strategy D prompt, as the vLLM backend sends it (one BOS token reserved).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from mpi_classifier.backends.local import LABELS, base_model_path, pair_summarizer, token_counter
from mpi_classifier.summaries import PairText, Summarizer
from mpi_training.train.recipes import BASE_PACKAGE, Recipe

# The tokens a Gemma tokenizer adds to one text: <bos>.
DECODER_SPECIAL_TOKENS = 1


def base_folder(base: str) -> Path:
    """The folder of a recipe's base: the packaged MiniLM, or a path."""
    return base_model_path() if base == BASE_PACKAGE else Path(base)


def load_classifier(base: str, *, dtype: torch.dtype, quantization: Any = None) -> tuple[Any, Any]:
    """The base model with a two-class head (a fresh one unless the base has one) and its
    tokenizer."""
    folder = base_folder(base)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        raise ValueError(f"{folder}: the tokenizer has no pad token (see `mpi train prepare-base`)")
    options: dict[str, Any] = {"dtype": dtype}
    if quantization is not None:
        options |= {"quantization_config": quantization, "device_map": {"": 0}}
    model = AutoModelForSequenceClassification.from_pretrained(
        folder,
        num_labels=len(LABELS),
        id2label=LABELS,
        label2id={label: index for index, label in LABELS.items()},
        pad_token_id=tokenizer.pad_token_id,
        **options,
    )
    return model, tokenizer


def summarizer(recipe: Recipe, tokenizer: Any) -> Summarizer:
    if recipe.architecture == "encoder":
        return pair_summarizer(tokenizer, recipe.max_length)
    return Summarizer(
        token_counter(tokenizer),
        max_tokens=recipe.max_length,
        reserved=DECODER_SPECIAL_TOKENS,
        with_prompt=True,
    )


def encode(recipe: Recipe, tokenizer: Any, texts: Sequence[PairText]) -> list[dict[str, Any]]:
    """One dict of token ids per text, unpadded (the collator pads each batch)."""
    if recipe.architecture == "encoder":
        encoded = tokenizer(
            [t.first for t in texts],
            [t.second for t in texts],
            truncation="longest_first",
            max_length=recipe.max_length,
        )
    else:
        encoded = tokenizer(
            [t.prompt for t in texts], truncation=True, max_length=recipe.max_length
        )
    keys = list(encoded.keys())
    return [dict(zip(keys, values, strict=True)) for values in zip(*encoded.values(), strict=True)]


def logits(model: Any, tokenizer: Any, features: Sequence[dict[str, Any]]) -> torch.Tensor:
    """The model's logits for `features` (one padded batch), in float32 on the CPU."""
    batch = tokenizer.pad(list(features), return_tensors="pt")
    device = next(model.parameters()).device
    with torch.inference_mode():
        out: torch.Tensor = model(**{k: v.to(device) for k, v in batch.items()}).logits
    return out.float().cpu()
