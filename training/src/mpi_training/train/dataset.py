"""A pair dataset on disk: labelled record pairs split by patient, with the records' events.

    DATASET/
      pairs.parquet   first, second (record keys), first_patient, second_patient,
                      label (1 = same patient), kind (positive | hard | confusable | random),
                      splink_probability (null where blocking never compared the pair),
                      tier (auto | gray | reject | unblocked), split (train | val | test)
      events.parquet  the clinical events of every record in a pair (the population's columns)
      card.json       counts, class ratio, seeds, token-length percentiles (README.md: the same)

Texts are not stored: every model builds them from the histories with its own tokenizer through
the worker's `Summarizer`, so training and serving read the same summaries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mpi_classifier.history import History
from mpi_classifier.summaries import PairText, Summarizer
from mpi_store.datasets import EVENTS_FILE
from mpi_training.adjudication.pairs import histories

PAIRS_FILE = "pairs.parquet"
CARD_FILE = "card.json"
SPLITS = ("train", "val", "test")
KINDS = ("positive", "hard", "confusable", "random")
TIERS = ("auto", "gray", "reject", "unblocked")

PAIR_SCHEMA = pa.schema(
    [
        ("first", pa.string()),
        ("second", pa.string()),
        ("first_patient", pa.string()),
        ("second_patient", pa.string()),
        ("label", pa.int8()),
        ("kind", pa.string()),
        ("splink_probability", pa.float64()),
        ("tier", pa.string()),
        ("split", pa.string()),
    ]
)


@dataclass(frozen=True)
class DatasetPair:
    first: str
    second: str
    first_patient: str
    second_patient: str
    label: int
    kind: str
    splink_probability: float | None
    tier: str
    split: str


@dataclass(frozen=True)
class PairDataset:
    path: Path
    pairs: list[DatasetPair]
    histories: dict[str, History]
    card: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> PairDataset:
        rows = pq.read_table(path / PAIRS_FILE).to_pylist()
        return cls(
            path=path,
            pairs=[DatasetPair(**row) for row in rows],
            histories=histories(path),
            card=json.loads((path / CARD_FILE).read_text()),
        )

    def sha256(self) -> str:
        """The pairs' identity: evaluations compare models on the same hash only."""
        return file_sha256(self.path / PAIRS_FILE)

    def split(self, name: str) -> list[DatasetPair]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {name!r}")
        return [p for p in self.pairs if p.split == name]

    def history(self, key: str) -> History:
        return self.histories.get(key, History(()))

    def texts(self, pairs: Sequence[DatasetPair], summarizer: Summarizer) -> list[PairText]:
        return [summarizer.pair(self.history(p.first), self.history(p.second)) for p in pairs]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_pairs(path: Path, pairs: Sequence[DatasetPair], events: pa.Table) -> None:
    """`pairs.parquet` and `events.parquet` (the card is written by whoever knows its facts)."""
    path.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([asdict(p) for p in pairs], schema=PAIR_SCHEMA)
    pq.write_table(table, path / PAIRS_FILE)
    pq.write_table(events, path / EVENTS_FILE)
