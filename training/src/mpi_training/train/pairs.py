"""Labelled record pairs of a training population: true pairs and mostly hard negatives.

Positives are every true cross-facility pair. Negatives are mostly the linker's hard cases
(DESIGN §6): different-patient pairs that blocking compares and the shipped Splink model scores
into the gray zone or just below its reject bound. Confusable relatives (twins, siblings, parent
and child) and random pairs fill the rest, half each; when a split holds fewer hard pairs than
its share asks, relatives and random pairs make up the difference (the card says how many).
Every pair gets its Splink probability and tier when blocking compares it, positives included.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_linker.frames import frame, read_events, read_records, record_key
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.model.train import predict_pairs
from mpi_store.datasets import EVENTS_FILE, RECORDS_FILE, TRUTH_FILE
from mpi_training.adjudication.pairs import histories
from mpi_training.tables import MANIFEST_FILE
from mpi_training.train.card import counts, now, summarizer_for, token_lengths, write_card
from mpi_training.train.dataset import (
    SPLITS,
    DatasetPair,
    PairDataset,
    file_sha256,
    write_pairs,
)
from mpi_training.train.splits import assign_splits, check_fractions

# `mpi data generate --seed 67890` is the evaluation population (data/eval): never train on it.
EVALUATION_SEED = 67890
# Hard negatives reach down to this factor of the reject bound (two orders of magnitude in
# odds): pairs the linker only just rejects read like gray ones, and gray negatives alone are
# too few to fill the ratio.
HARD_FLOOR_FACTOR = 0.01
# Tries per wanted random pair before a split gives up (tiny splits have few distinct pairs).
RANDOM_ATTEMPTS = 20

Key = tuple[str, str]


class PopulationRefused(ValueError):
    """The folder is not a population we may train on."""


@dataclass(frozen=True)
class PairOptions:
    # Blocking compares few different-patient pairs: at one negative per positive the hard ones
    # are about 80% of a 1,200-patient population's training negatives; at three, about 30%.
    negative_ratio: float = 1.0
    hard_share: float = 0.8
    seed: int = 7
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)

    def __post_init__(self) -> None:
        check_fractions(self.fractions)
        if self.negative_ratio < 0:
            raise ValueError("the negative ratio cannot be negative")
        if not 0 <= self.hard_share <= 1:
            raise ValueError("the hard-negative share must lie in [0, 1]")


@dataclass(frozen=True)
class Population:
    path: Path
    seed: int
    patient_of: dict[str, str]  # record key -> patient
    family_of: dict[str, str]  # patient -> confusable group (the patient itself when none)
    scores: dict[Key, float]  # every pair blocking compares -> Splink probability


@dataclass(frozen=True)
class BuiltPairs:
    pairs: list[DatasetPair]
    patients: dict[str, int]  # per split
    hard_wanted: dict[str, int]
    hard_available: dict[str, int]
    hard_floor: float


def manifest_seed(path: Path) -> int:
    """The population's seed; refuses the evaluation population and folders without one."""
    manifest = path / MANIFEST_FILE
    if not manifest.is_file():
        raise PopulationRefused(f"{path} has no {MANIFEST_FILE}: not a generated population")
    seed = int(json.loads(manifest.read_text())["seed"])
    if seed == EVALUATION_SEED:
        raise PopulationRefused(
            f"{path} is the evaluation population (seed {EVALUATION_SEED}): never train on it"
        )
    return seed


def load_population(path: Path, artifact: ModelArtifact) -> Population:
    seed = manifest_seed(path)
    truth = pq.read_table(
        path / TRUTH_FILE, columns=["source", "source_record_id", "patient_id", "confusable_group"]
    ).to_pylist()
    patient_of = {record_key(r["source"], r["source_record_id"]): r["patient_id"] for r in truth}
    family_of = {r["patient_id"]: r["confusable_group"] or r["patient_id"] for r in truth}
    scores = {
        _key(p["unique_id_l"], p["unique_id_r"]): float(p["match_probability"])
        for p in predict_pairs(frame(read_records(path), read_events(path)), artifact.splink)
    }
    return Population(path, seed, patient_of, family_of, scores)


def _key(a: str, b: str) -> Key:
    return (a, b) if a < b else (b, a)


def _source(key: str) -> str:
    return key.split(RECORD_KEY_SEPARATOR)[0]


def build_pairs(
    population: Population, artifact: ModelArtifact, options: PairOptions
) -> BuiltPairs:
    split_of = assign_splits(population.family_of, options.fractions, options.seed)
    records: dict[str, list[str]] = defaultdict(list)
    for key, patient in sorted(population.patient_of.items()):
        records[split_of[patient]].append(key)
    floor = artifact.thresholds.reject * HARD_FLOOR_FACTOR
    rows: list[DatasetPair] = []
    hard_wanted: dict[str, int] = {}
    hard_available: dict[str, int] = {}
    for split in SPLITS:
        chosen, hard_wanted[split], hard_available[split] = _split_pairs(
            population, options, split, records[split], floor
        )
        rows += [
            _row(pair, kind, split, population, artifact)
            for kind, pairs in chosen.items()
            for pair in sorted(pairs)
        ]
    patients = {split: sum(1 for s in split_of.values() if s == split) for split in SPLITS}
    return BuiltPairs(rows, patients, hard_wanted, hard_available, floor)


def _split_pairs(
    population: Population, options: PairOptions, split: str, keys: list[str], floor: float
) -> tuple[dict[str, list[Key]], int, int]:
    """The split's pairs by kind, the hard negatives it asked for and how many it had."""
    rng = random.Random(f"{options.seed}:{split}")
    patient_of = population.patient_of
    in_split = set(keys)
    by_patient: dict[str, list[str]] = defaultdict(list)
    by_family: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        by_patient[patient_of[key]].append(key)
        by_family[population.family_of[patient_of[key]]].append(key)

    positives = [
        _key(a, b)
        for members in by_patient.values()
        for a, b in combinations(members, 2)
        if _source(a) != _source(b)
    ]
    wanted = round(options.negative_ratio * len(positives))
    hard_pool = sorted(
        pair
        for pair, probability in population.scores.items()
        if probability >= floor
        and pair[0] in in_split
        and pair[1] in in_split
        and patient_of[pair[0]] != patient_of[pair[1]]
    )
    hard_wanted = round(options.hard_share * wanted)
    hard = rng.sample(hard_pool, min(hard_wanted, len(hard_pool)))
    taken = set(hard)
    relatives_pool = sorted(
        pair
        for members in by_family.values()
        for a, b in combinations(members, 2)
        if patient_of[a] != patient_of[b] and (pair := _key(a, b)) not in taken
    )
    relatives = rng.sample(relatives_pool, min((wanted - len(hard)) // 2, len(relatives_pool)))
    taken.update(relatives)
    randoms = _random_pairs(keys, patient_of, wanted - len(taken), taken, rng)
    chosen = {"positive": positives, "hard": hard, "confusable": relatives, "random": randoms}
    return chosen, hard_wanted, len(hard_pool)


def _random_pairs(
    keys: list[str], patient_of: Mapping[str, str], count: int, taken: set[Key], rng: random.Random
) -> list[Key]:
    found: list[Key] = []
    seen = set(taken)
    for _ in range(RANDOM_ATTEMPTS * max(count, 0)):
        if len(found) >= count or len(keys) < 2:
            break
        a, b = rng.sample(keys, 2)
        pair = _key(a, b)
        if patient_of[a] != patient_of[b] and pair not in seen:
            seen.add(pair)
            found.append(pair)
    return found


def _row(
    pair: Key, kind: str, split: str, population: Population, artifact: ModelArtifact
) -> DatasetPair:
    probability = population.scores.get(pair)
    return DatasetPair(
        first=pair[0],
        second=pair[1],
        first_patient=population.patient_of[pair[0]],
        second_patient=population.patient_of[pair[1]],
        label=int(kind == "positive"),
        kind=kind,
        splink_probability=probability,
        tier="unblocked" if probability is None else artifact.thresholds.tier(probability),
        split=split,
    )


def pair_events(path: Path, pairs: Iterable[DatasetPair]) -> pa.Table:
    """The population's events of the records in `pairs`."""
    needed = sorted({key for p in pairs for key in (p.first, p.second)})
    events = pq.read_table(path / EVENTS_FILE)
    keys = pc.binary_join_element_wise(
        events["source"], events["source_record_id"], RECORD_KEY_SEPARATOR
    )
    return events.filter(pc.is_in(keys, value_set=pa.array(needed, pa.string())))


def population_facts(population: Population) -> dict[str, Any]:
    return {
        "name": population.path.name,
        "seed": population.seed,
        "records": len(population.patient_of),
        "patients": len(population.family_of),
        "records_sha256": file_sha256(population.path / RECORDS_FILE),
    }


def write_dataset(
    population: Population,
    artifact: ModelArtifact,
    options: PairOptions,
    out: Path,
    *,
    tokenizer: Path | None,
    max_tokens: int,
    track: Callable[[Sequence[DatasetPair]], Iterable[DatasetPair]] = iter,
) -> dict[str, Any]:
    """Build the pairs, write the dataset folder and its card; returns the card."""
    started = time.monotonic()
    built = build_pairs(population, artifact, options)
    write_pairs(out, built.pairs, pair_events(population.path, built.pairs))
    # The histories as read back from disk: the card measures what a trainer will read.
    dataset = PairDataset(out, built.pairs, histories(out), card={})
    tokenizer_name, summarizer = summarizer_for(tokenizer, max_tokens)
    lengths = token_lengths(dataset, summarizer, track(dataset.pairs))
    train = dataset.split("train")
    card = {
        "name": out.name,
        "command": (
            f"mpi train pairs --population {population.path.name} --out {out.name}"
            f" --negative-ratio {options.negative_ratio:g} --hard-share {options.hard_share:g}"
            f" --seed {options.seed} --fractions {' '.join(f'{f:g}' for f in options.fractions)}"
        ),
        "created_at": now(),
        "population": population_facts(population),
        "splink_model": artifact.version,
        "thresholds": {"auto": artifact.thresholds.auto, "reject": artifact.thresholds.reject},
        "hard_floor": built.hard_floor,
        "hard_negatives": {
            split: {"wanted": built.hard_wanted[split], "available": built.hard_available[split]}
            for split in SPLITS
        },
        "parameters": {
            "negative_ratio": options.negative_ratio,
            "hard_share": options.hard_share,
            "seed": options.seed,
            "fractions": list(options.fractions),
        },
        "patients": built.patients,
        "counts": counts(dataset.pairs),
        "training_prior": round(sum(p.label for p in train) / len(train), 4) if train else None,
        "pairs_sha256": dataset.sha256(),
        "tokens": {"tokenizer": tokenizer_name, "max_tokens": max_tokens, **lengths},
    }
    card["seconds"] = round(time.monotonic() - started, 1)
    write_card(out, card)
    return card
