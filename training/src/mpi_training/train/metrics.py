"""What a fine-tuning run measures: validation quality, a JSONL log of every logged step, and
the checks that catch a run that learnt nothing."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import fmean
from typing import Any

import numpy as np
import torch
from transformers import EvalPrediction, TrainerCallback, TrainerControl, TrainerState
from transformers.training_args import TrainingArguments

from mpi_classifier.backends.local import MATCH_INDEX
from mpi_training.adjudication.metrics import quality

METRICS_FILE = "metrics.jsonl"
# The training loss must end this much below where it began: a run stuck near ln 2 = 0.69
# (one class for everything) moves by less.
LOSS_DROP = 0.05


def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
    """Precision, recall, F1 and ECE at 0.5 on the validation pairs, and how many it calls
    matches (0 or 1 means it answers one class)."""
    logits = torch.from_numpy(np.asarray(prediction.predictions, dtype=np.float32))
    probabilities = torch.softmax(logits, dim=-1)[:, MATCH_INDEX].tolist()
    labels = [bool(y) for y in np.asarray(prediction.label_ids).tolist()]
    scores = quality(probabilities, labels).as_dict()
    return {
        "f1": scores["f1"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "ece": scores["ece"],
        "predicted_match_share": round(sum(p >= 0.5 for p in probabilities) / len(labels), 4),
    }


class MetricsLog(TrainerCallback):
    """Appends each of the Trainer's logs (training loss, learning rate, evaluations) to a
    JSONL file, with its step and epoch."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if logs is None or not state.is_world_process_zero:
            return
        with self.path.open("a") as out:
            out.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def training_losses(rows: list[dict[str, Any]]) -> list[float]:
    return [float(row["loss"]) for row in rows if "loss" in row]


def checks(losses: list[float], final: dict[str, float]) -> dict[str, Any]:
    """Did the loss fall (the last quarter of logged losses against the first), and does the
    final model answer both classes on the validation pairs?"""
    quarter = max(len(losses) // 4, 1)
    first = fmean(losses[:quarter]) if losses else float("nan")
    last = fmean(losses[-quarter:]) if losses else float("nan")
    share = final.get("eval_predicted_match_share", 0.0)
    return {
        "first_loss": round(first, 4),
        "last_loss": round(last, 4),
        "loss_fell": len(losses) >= 2 and last < first * (1 - LOSS_DROP),
        "predicts_both_classes": 0.0 < share < 1.0,
    }


def failures(verdict: dict[str, Any]) -> list[str]:
    """What the checks found wrong, in words."""
    return [
        problem
        for passed, problem in (
            (
                verdict["loss_fell"],
                f"the training loss did not fall below {1 - LOSS_DROP:g} of its start",
            ),
            (verdict["predicts_both_classes"], "the model answers one class only"),
        )
        if not passed
    ]
