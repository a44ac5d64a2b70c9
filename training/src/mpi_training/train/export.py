"""`mpi train export`: a run's adapter → the model a backend serves, checked against the
unmerged adapter before anything is written.

- base shipped by a package (the local backend's MiniLM): MODEL holds the adapter, its base
  named by package rather than by a path on this machine, card.json (version, max_tokens,
  fusion) and a model card; `LocalClassifier.load(MODEL)` merges it over the package's base.
- any other base: MODEL holds the merged weights in the recipe's export dtype, config.json with
  id2label, the tokenizer, card.json and the model card. A decoder's config.json names
  `Gemma3ForSequenceClassification`, so vLLM serves it as a classifier (`mpi_training.train.base`);
  an encoder's loads with `LocalClassifier.load(MODEL)`.

The exported model, loaded as its backend loads it, must give the unmerged adapter's logits on
validation pairs within 1e-4 (in float32; a bf16 export must give after reloading what it gave
before saving), or the export fails and MODEL is left as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from mpi_classifier.backends.local import CARD_FILE, LocalClassifier, peft_quirks
from mpi_classifier.fusion import Fusion
from mpi_training.train.base import serve_as_gemma3_classifier
from mpi_training.train.classifiers import encode, load_classifier, logits, summarizer
from mpi_training.train.dataset import CARD_FILE as DATASET_CARD, PairDataset
from mpi_training.train.finetune import ADAPTER_DIR, RECIPE_FILE, RUN_CARD
from mpi_training.train.modelcard import README_FILE, model_card
from mpi_training.train.recipes import BASE_PACKAGE, Recipe, parse_recipe

PARITY_TOLERANCE = 1e-4
PARITY_PAIRS = 16
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
# What the model card repeats from the run card.
RUN_FACTS = ("train_examples", "steps", "minutes", "device", "validation", "checks")


class ExportMismatch(Exception):
    """The exported model's logits differ from the unmerged adapter's."""


def export(run: Path, out: Path, *, data: Path | None = None) -> dict[str, Any]:
    """Write MODEL from RUN and return its card (with the parity check's result)."""
    run_card = json.loads((run / RUN_CARD).read_text())
    recipe = parse_recipe((run / RECIPE_FILE).read_text())
    dataset = PairDataset.load(data or Path(run_card["data"]["path"]))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tokenizer = load_classifier(run_card["base"], dtype=torch.float32)
    with peft_quirks():
        unmerged = PeftModel.from_pretrained(model, str(run / ADAPTER_DIR)).to(device).eval()
    pairs = (dataset.split("val") or dataset.split("test"))[:PARITY_PAIRS]
    features = encode(recipe, tokenizer, dataset.texts(pairs, summarizer(recipe, tokenizer)))
    expected = logits(unmerged, tokenizer, features)
    adapter_sha256 = hashlib.sha256(
        (run / ADAPTER_DIR / "adapter_model.safetensors").read_bytes()
    ).hexdigest()
    card = {
        "version": f"{recipe.version_prefix}-{dt.datetime.now(dt.UTC):%Y-%m-%d}-"
        f"{adapter_sha256[:8]}",
        "max_tokens": recipe.max_length,
        # Provisional until `mpi train evaluate` fits it: the training prior removed, one vote.
        "fusion": Fusion(1.0, 0.5, run_card["training_prior"]).to_dict(),
        "base": _base_name(run_card["base"]),
        "recipe": recipe.name,
        "adapter_sha256": adapter_sha256,
        "format": "adapter" if run_card["base"] == BASE_PACKAGE else "merged",
        "dtype": recipe.export_dtype,
        "run": {
            "data": Path(run_card["data"]["path"]).name,
            "data_sha256": run_card["data"]["sha256"],
            "train_pairs": run_card["data"]["train_pairs"],
            **_origin(dataset),
            **{key: run_card[key] for key in RUN_FACTS},
        },
    }
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        deltas: dict[str, float] = {}
        if run_card["base"] == BASE_PACKAGE:
            _write_adapter(run, staging)
            reference = expected
        else:
            merged = unmerged.merge_and_unload()
            deltas["merged"] = _delta(logits(merged, tokenizer, features), expected)
            merged = merged.to(getattr(torch, recipe.export_dtype))
            reference = logits(merged, tokenizer, features)
            merged.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            if recipe.architecture == "decoder":
                serve_as_gemma3_classifier(staging)
        _write_card(staging, card)
        deltas["served"] = _delta(_served_logits(recipe, staging, features), reference)
        worst = max(deltas.values())
        if worst > PARITY_TOLERANCE:
            raise ExportMismatch(
                f"exported logits differ from the unmerged adapter's by {worst:.2e} "
                f"(> {PARITY_TOLERANCE:g}): {deltas}"
            )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    card["parity"] = {"pairs": len(features), "max_abs_logit_delta": float(f"{worst:.3g}")}
    card["exported_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _write_card(staging, card)
    (staging / README_FILE).write_text(model_card(recipe, card))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return card


def _origin(dataset: PairDataset) -> dict[str, Any]:
    """The population the pairs came from and the pairs' seed, from the dataset's card."""
    card_path = dataset.path / DATASET_CARD
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    if "population" not in card:
        return {}
    return {"population": card["population"], "pairs_seed": card["parameters"]["seed"]}


def _write_adapter(run: Path, staging: Path) -> None:
    for name in ADAPTER_FILES:
        shutil.copyfile(run / ADAPTER_DIR / name, staging / name)
    # peft records the base's path on this machine; name the package that ships it.
    config_path = staging / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = BASE_PACKAGE
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _served_logits(recipe: Recipe, folder: Path, features: list[dict[str, Any]]) -> torch.Tensor:
    """Logits of the exported model loaded as its backend loads it (vLLM: as transformers
    does, which stack.md §2.2 found equal to the last digit)."""
    if recipe.architecture == "encoder":
        served = LocalClassifier.load(folder)
        return logits(served.model, served.tokenizer, features)
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, dtype=getattr(torch, recipe.export_dtype)
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return logits(model.to(device).eval(), AutoTokenizer.from_pretrained(folder), features)


def _delta(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).abs().max())


def _base_name(base: str) -> str:
    if base == BASE_PACKAGE:
        return f"{BASE_PACKAGE}=={version(BASE_PACKAGE)}"
    return Path(base).name


def _write_card(folder: Path, card: dict[str, Any]) -> None:
    (folder / CARD_FILE).write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
