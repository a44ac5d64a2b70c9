"""`mpi train finetune`: LoRA fine-tuning of a recipe's classifier on a pair dataset, with
transformers' Trainer and peft (task SEQ_CLS; the head trained whole through modules_to_save).

    RUN/
      adapter/        the LoRA adapter and head (peft's save_pretrained)
      recipe.toml     the recipe, byte for byte
      run.json        the run card: base, data and its hash, counts, validation metrics, checks
      metrics.jsonl   every logged step: training loss, learning rate, validation metrics
      curves.png      loss and validation F1 by step

Training pairs are balanced by repeating the minority class (a model that answers one class is
a strong local minimum on small runs), encoders see every pair in both orders, batches are
grouped by length, and the best checkpoint by validation F1 is kept (early stopping).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import peft
import torch
import transformers
from rich.progress import track
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    set_seed,
)

from mpi_classifier.backends.local import peft_quirks
from mpi_training.train.classifiers import encode, load_classifier, summarizer
from mpi_training.train.curves import CURVES_FILE, plot_curves
from mpi_training.train.dataset import DatasetPair, PairDataset
from mpi_training.train.metrics import (
    METRICS_FILE,
    MetricsLog,
    checks,
    compute_metrics,
    read_metrics,
    training_losses,
)
from mpi_training.train.recipes import Recipe, load_recipe, recipe_path

ADAPTER_DIR = "adapter"
RECIPE_FILE = "recipe.toml"
RUN_CARD = "run.json"
CHECKPOINTS_DIR = "checkpoints"
VALIDATION_METRICS = ("loss", "f1", "precision", "recall", "ece", "predicted_match_share")


class RunRefused(ValueError):
    """The run cannot start: no base, no validation pairs, one class, a used run folder."""


def finetune(
    recipe_name: str | Path, data: Path, out: Path, *, base: str | None = None
) -> dict[str, Any]:
    """Train, keep the best adapter by validation F1, and write the run folder. The card's
    `ok` is false when the loss did not fall or the model answers one class (a failure unless
    the recipe does not enforce its checks)."""
    if out.exists() and any(out.iterdir()):
        raise RunRefused(f"{out} is not empty: choose a new run folder")
    source = recipe_path(recipe_name)
    recipe = load_recipe(source)
    base = base or recipe.base
    if base is None:
        raise RunRefused(f"recipe {recipe.name} names no base model: pass one")
    settings = recipe.training
    started = time.monotonic()
    set_seed(settings.seed)
    dataset = PairDataset.load(data)
    if not dataset.split("val"):
        raise RunRefused(f"{data} has no validation pairs: early stopping needs them")
    model, tokenizer = peft_classifier(recipe, base)
    train, val = examples(recipe, dataset, tokenizer)

    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / RECIPE_FILE)
    metrics_log = MetricsLog(out / METRICS_FILE)
    trainer = Trainer(
        model=model,
        args=training_arguments(recipe, out / CHECKPOINTS_DIR),
        train_dataset=train,
        eval_dataset=val,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=[
            EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience),
            metrics_log,
        ],
    )
    with peft_quirks():
        trainer.train()
    # The best checkpoint is loaded by now: its validation metrics go on the card, not in the
    # log (where they would read as the last step's).
    trainer.remove_callback(metrics_log)
    final = trainer.evaluate()
    model.save_pretrained(out / ADAPTER_DIR)
    shutil.rmtree(out / CHECKPOINTS_DIR, ignore_errors=True)

    rows = read_metrics(out / METRICS_FILE)
    plot_curves(rows, out / CURVES_FILE, title=f"{recipe.name} on {data.name}")
    verdict = checks(training_losses(rows), final)
    card = {
        "recipe": recipe.name,
        "architecture": recipe.architecture,
        "base": base,
        "max_length": recipe.max_length,
        "data": {
            "path": str(data.resolve()),
            "sha256": dataset.sha256(),
            "train_pairs": len(dataset.split("train")),
            "val_pairs": len(val),
        },
        "train_examples": len(train),
        # The class mix the model learnt under; the fusion removes it (mpi_classifier.fusion).
        "training_prior": round(sum(e["labels"] for e in train) / len(train), 4),
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0.0, 3),
        "best_step": _step(trainer.state.best_model_checkpoint),
        "validation": {
            key: final[f"eval_{key}"] for key in VALIDATION_METRICS if f"eval_{key}" in final
        },
        "checks": verdict,
        "ok": verdict["loss_fell"] and verdict["predicts_both_classes"],
        "checks_enforced": recipe.enforce_checks,
        "minutes": round((time.monotonic() - started) / 60, 2),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        },
    }
    (out / RUN_CARD).write_text(json.dumps(card, indent=1) + "\n")
    return card


def peft_classifier(recipe: Recipe, base: str) -> tuple[Any, Any]:
    """The base classifier (4-bit for QLoRA) wrapped with the recipe's LoRA, and its
    tokenizer."""
    settings = recipe.training
    quantization = qlora_config() if settings.qlora else None
    model, tokenizer = load_classifier(
        base,
        dtype=torch.bfloat16 if settings.bf16 else torch.float32,
        quantization=quantization,
    )
    if quantization is not None:
        model = peft.prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model,
            use_gradient_checkpointing=settings.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    with peft_quirks():
        return peft.get_peft_model(model, lora_config(recipe)), tokenizer


def examples(
    recipe: Recipe, dataset: PairDataset, tokenizer: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tokenized, labelled training examples (both orders if the recipe says so, classes
    balanced) and validation examples (as they come)."""
    text = summarizer(recipe, tokenizer)
    train_pairs = dataset.split("train")
    if recipe.both_orders:
        train_pairs += [swapped(p) for p in train_pairs]
    val_pairs = dataset.split("val")
    texts = [
        dataset.texts([pair], text)[0]
        for pair in track(train_pairs + val_pairs, description="Summarizing pairs")
    ]
    features = encode(recipe, tokenizer, texts)
    train = labelled(features[: len(train_pairs)], train_pairs)
    val = labelled(features[len(train_pairs) :], val_pairs)
    return balanced(train, seed=recipe.training.seed), val


def lora_config(recipe: Recipe) -> Any:
    layers = recipe.lora.layers_to_transform
    return peft.LoraConfig(
        task_type=peft.TaskType.SEQ_CLS,
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=list(recipe.lora.target_modules),
        modules_to_save=list(recipe.lora.modules_to_save),
        layers_to_transform=None if layers is None else list(layers),
        # BERT's and Gemma's blocks: `encoder.layer.N`, `layers.N`.
        layers_pattern=None if layers is None else ["layer", "layers"],
    )


def training_arguments(recipe: Recipe, output_dir: Path) -> TrainingArguments:
    settings = recipe.training
    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.scheduler,
        warmup_steps=settings.warmup,
        weight_decay=settings.weight_decay,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        eval_strategy="steps",
        eval_steps=settings.eval_steps,
        save_strategy="steps",
        save_steps=settings.eval_steps,
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=True,
        metric_for_best_model="f1",
        greater_is_better=True,
        logging_steps=settings.logging_steps,
        logging_first_step=True,
        bf16=settings.bf16,
        activation_checkpointing=settings.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        train_sampling_strategy="group_by_length",
        seed=settings.seed,
        report_to="none",
        disable_tqdm=False,
        # bf16 on a machine without CUDA runs on the CPU (slowly) rather than refusing.
        use_cpu=not torch.cuda.is_available(),
    )


def qlora_config() -> Any:
    """4-bit NF4 base weights with bf16 compute (QLoRA). bitsandbytes is imported by
    transformers when the model loads, only here: it needs CUDA, and is not in our extras
    (`pip install bitsandbytes` on the GPU machine)."""
    if not torch.cuda.is_available():
        raise RuntimeError("QLoRA quantizes with bitsandbytes on CUDA, and there is no GPU here")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(  # type: ignore[no-untyped-call]
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )


def swapped(pair: DatasetPair) -> DatasetPair:
    return dataclasses.replace(
        pair,
        first=pair.second,
        second=pair.first,
        first_patient=pair.second_patient,
        second_patient=pair.first_patient,
    )


def labelled(features: list[dict[str, Any]], pairs: Sequence[DatasetPair]) -> list[dict[str, Any]]:
    return [f | {"labels": int(p.label)} for f, p in zip(features, pairs, strict=True)]


def balanced(examples: list[dict[str, Any]], *, seed: int) -> list[dict[str, Any]]:
    """The minority class repeated, then sampled, up to the size of the majority."""
    classes = [[e for e in examples if e["labels"] == label] for label in (0, 1)]
    minority, majority = sorted(classes, key=len)
    if not minority:
        raise RunRefused("the training split holds one class only")
    whole, part = divmod(len(majority), len(minority))
    return majority + minority * whole + random.Random(seed).sample(minority, part)


def _step(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None
