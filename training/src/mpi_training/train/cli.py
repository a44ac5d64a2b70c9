"""`mpi train ...`: build pair datasets, prepare a base model, fine-tune, export, evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mpi_training.train.registry import DEFAULT_REGISTRY

app = typer.Typer(
    help="Train the gray-zone classifier: pairs, base model, fine-tune, export, evaluate",
    no_args_is_help=True,
)
console = Console()


@app.command("pairs")
def pairs_command(
    population: Annotated[Path, typer.Option(help="Training population (never data/eval).")],
    out: Annotated[Path, typer.Option(help="Dataset folder to write.")],
    negative_ratio: Annotated[float, typer.Option(min=0, help="Negatives per positive.")] = 1.0,
    hard_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of negatives from the linker's gray zone.")
    ] = 0.8,
    seed: Annotated[int, typer.Option(help="Seeds the patient split and the sampling.")] = 7,
    fractions: Annotated[
        tuple[float, float, float], typer.Option(help="Train, val and test shares of patients.")
    ] = (0.8, 0.1, 0.1),
    tokenizer: Annotated[
        Path | None,
        typer.Option(help="Tokenizer measuring token lengths (default: local backend's)."),
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=16, help="Token budget of a pair text.")] = 256,
) -> None:
    """Labelled pairs of a population, split by patient: true pairs and hard negatives."""
    from rich.progress import track

    from mpi_linker.model.artifact import load
    from mpi_training.train.card import summary_table, tokens_table
    from mpi_training.train.pairs import (
        PairOptions,
        PopulationRefused,
        load_population,
        write_dataset,
    )

    try:
        options = PairOptions(negative_ratio, hard_share, seed, fractions)
        artifact = load()
        with console.status(f"Scoring the pairs blocking compares in {population.name}"):
            loaded = load_population(population, artifact)
    except (PopulationRefused, ValueError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    card = write_dataset(
        loaded,
        artifact,
        options,
        out,
        tokenizer=tokenizer,
        max_tokens=max_tokens,
        track=lambda pairs: track(pairs, description="Measuring pair texts", console=console),
    )
    console.print(summary_table(card))
    console.print(tokens_table(card))
    short = {s: h for s, h in card["hard_negatives"].items() if h["available"] < h["wanted"]}
    if short:
        console.print(
            "Hard negatives short of the share (filled with relatives and random pairs): "
            + ", ".join(f"{s} {h['available']}/{h['wanted']}" for s, h in short.items())
        )
    console.print(
        f"Wrote {out} ({sum(card['counts']['pairs'].values())} pairs, "
        f"{card['counts']['negative_ratio']['all']} negatives per positive) in {card['seconds']} s"
    )


@app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Argument(help="Model folder LocalClassifier loads (card.json).")],
    data: Annotated[Path, typer.Option(help="Pair dataset (`mpi train pairs`).")],
    registry: Annotated[
        Path, typer.Option(help="Registry JSON with the champion and the challengers.")
    ] = DEFAULT_REGISTRY,
    out: Annotated[
        Path | None, typer.Option(help="Folder for evaluation.json and the plot (default: MODEL).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many pairs per split, gray-tier pairs first."),
    ] = None,
) -> None:
    """Score MODEL on the test split and its gray pairs beside the overlap backend, fit its
    fusion on the validation gray pairs, and gate it into the registry."""
    from mpi_training.train.evaluate import evaluate_and_gate, results_table

    try:
        with console.status(f"Evaluating {model.name} on {data.name}"):
            result = evaluate_and_gate(
                model, data, registry_path=registry, out=out or model, limit=limit
            )
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    console.print(results_table(result))
    fusion = result["backends"]["model"]["fusion"]
    console.print(
        f"Fusion fitted on the validation gray pairs, written to {model}/card.json: "
        f'weight {fusion["weight"]:g}, threshold {fusion["threshold"]:.4g} ("fused" rows)'
    )
    promotion = result["promotion"]
    verdict = "PROMOTED to champion" if promotion["promoted"] else "recorded as challenger"
    console.print(f"{result['model']} {verdict} in {registry}: {promotion['reason']}")


@app.command("prepare-base")
def prepare_base_command(
    source: Annotated[
        Path, typer.Option("--from", help="Multimodal Gemma3 checkpoint (MedGemma 4B) folder.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the text-only classifier.")],
) -> None:
    """Strip the vision tower: a text-only Gemma3 sequence classifier vLLM serves."""
    from mpi_training.train.base import prepare_base

    with console.status(f"Loading {source}"):
        facts = prepare_base(source, out)
    console.print_json(data=facts)
    console.print(f"Wrote {out}")


@app.command("finetune")
def finetune_command(
    recipe: Annotated[str, typer.Option(help="Recipe name (training/recipes/) or TOML path.")],
    data: Annotated[Path, typer.Option(help="Pair dataset (`mpi train pairs`).")],
    out: Annotated[Path, typer.Option(help="Run folder to create.")],
    base: Annotated[
        str | None, typer.Option(help="Base model folder, instead of the recipe's.")
    ] = None,
) -> None:
    """LoRA fine-tuning with early stopping on validation F1; exits 1 if the run learnt nothing."""
    from pydantic import ValidationError

    from mpi_training.train.finetune import RUN_CARD, RunRefused, finetune
    from mpi_training.train.metrics import failures

    try:
        card = finetune(recipe, data, out, base=base)
    except (RunRefused, FileNotFoundError, ValidationError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e
    console.print_json(data={k: card[k] for k in ("validation", "checks", "steps", "minutes")})
    if not card["ok"]:
        console.print(
            f"[bold red]The run failed its checks ({out / RUN_CARD}): "
            f"{'; '.join(failures(card['checks']))}[/bold red]"
        )
        if card["checks_enforced"]:
            raise typer.Exit(1)
    console.print(f"Wrote {out}")


@app.command("export")
def export_command(
    run: Annotated[Path, typer.Argument(help="Run folder (`mpi train finetune`).")],
    out: Annotated[Path, typer.Option(help="Model folder to write.")],
    data: Annotated[
        Path | None, typer.Option(help="Pair dataset for the parity check [the run's].")
    ] = None,
) -> None:
    """Package the adapter (local backend) or merge it (vLLM), checked against the run."""
    from mpi_training.train.export import ExportMismatch, export

    try:
        card = export(run, out, data=data)
    except ExportMismatch as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e
    console.print(
        f"Wrote {out} ({card['version']}; logits within "
        f"{card['parity']['max_abs_logit_delta']:.1e} of the unmerged adapter)"
    )
