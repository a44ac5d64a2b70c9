"""Candidate keys from a record's clinical history: MinHash with LSH banding over its rare codes.

Two records of one patient at two facilities hold different encounters, but chronic conditions,
renewed medications, allergies, procedures and immunizations carry across; a shared *rare*
concept is evidence that demographics (often corrupted) cannot give. Encounters, observations
(vitals, labs) and concepts most of the population has are left out: they would put everyone in
one block.

Rarity is a table fitted on a training population (`mpi linker fit-history`) and shipped with
the package, so the online index and batch prediction see the same keys. Hashing is keyed
BLAKE2b and a fixed universal hash family: the same record gives the same keys in every
process (never Python's salted `hash()`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

PREFIX = "hist"
# What carries across facilities; encounters and observations (routine vitals and labs, shared
# by most people) are left out.
HISTORY_TYPES: frozenset[str] = frozenset(
    {"condition", "medication", "procedure", "allergy", "immunization"}
)
RARITY_RESOURCE = "model/history_rarity.json"
_MERSENNE = (1 << 61) - 1
_PAIR_SEPARATOR = "\t"


@dataclass(frozen=True)
class HistoryParameters:
    """How history keys are drawn (`scheme`):

    - `pairs`: one key per pair of the record's concepts that are each held by at most
      `max_share` of the training records and whose shares multiply to at most
      `max_pair_share` (the pair's expected share if the two were independent, which bounds
      how large its block grows with the population); the `max_keys` rarest pairs.
    - `minhash`: concepts held by at most `max_share` of the records; `bands` keys, each the
      hash of `rows` MinHash values (two records share a band with probability J^rows, J the
      Jaccard similarity of their rare-concept sets).

    A record needs at least `min_concepts` rare concepts to get any key.
    """

    # Chosen on a training population (benchmarks/blocking_recall.py --sweep: fitted on half
    # of its patients, measured on the other half); see the README's Linker section.
    scheme: str = "pairs"
    max_share: float = 0.3
    max_pair_share: float = 0.03
    max_keys: int = 50
    bands: int = 20
    rows: int = 2
    min_concepts: int = 2


@dataclass(frozen=True)
class Rarity:
    """Document frequency of each concept over the training records, and the pairs of rare
    concepts that go together more often than `max_pair_share` (given together, or a condition
    and its usual medication: their product of shares understates them), by key digest."""

    records: int
    document_frequency: Mapping[str, int]
    parameters: HistoryParameters
    fitted_on: Mapping[str, Any]
    common_pairs: frozenset[str] = frozenset()

    def share(self, concept: str) -> float:
        """The share of training records holding the concept, smoothed (+1) so that a concept
        the training population never had counts as held by one record more."""
        return (self.document_frequency.get(concept, 0) + 1) / (self.records + 1)

    def is_rare(self, concept: str) -> bool:
        return self.share(concept) <= self.parameters.max_share

    def to_json(self) -> str:
        return json.dumps(
            {
                "records": self.records,
                "parameters": self.parameters.__dict__,
                "fitted_on": dict(self.fitted_on),
                "common_pairs": sorted(self.common_pairs),
                "document_frequency": dict(sorted(self.document_frequency.items())),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Rarity:
        data = json.loads(text)
        return cls(
            records=int(data["records"]),
            document_frequency={str(k): int(v) for k, v in data["document_frequency"].items()},
            parameters=HistoryParameters(**data["parameters"]),
            fitted_on=data.get("fitted_on", {}),
            common_pairs=frozenset(data.get("common_pairs", [])),
        )

    @classmethod
    def fit(
        cls,
        histories: Iterable[Iterable[Mapping[str, Any]]],
        *,
        parameters: HistoryParameters | None = None,
        fitted_on: Mapping[str, Any] | None = None,
        min_count: int = 2,
    ) -> Rarity:
        """Count, per concept, the records holding it, then the rare pairs held by more than
        `max_pair_share` of them. Concepts held by fewer than `min_count` records are left out
        of the table (they are rare either way), which keeps it small."""
        params = parameters or HistoryParameters()
        held = [concepts(events) for events in histories]
        counts: dict[str, int] = {}
        for found in held:
            for key in found:
                counts[key] = counts.get(key, 0) + 1
        table = cls(
            records=len(held),
            document_frequency={k: c for k, c in counts.items() if c >= min_count},
            parameters=params,
            fitted_on=fitted_on or {},
        )
        together: dict[str, int] = {}
        for found in held:
            rare = sorted(c for c in found if table.is_rare(c))
            for a, b in itertools.combinations(rare, 2):
                digest = _pair_digest(a, b)
                together[digest] = together.get(digest, 0) + 1
        common = {
            d for d, c in together.items() if c >= 2 and c > params.max_pair_share * len(held)
        }
        return dataclasses.replace(table, common_pairs=frozenset(common))


@cache
def shipped_rarity() -> Rarity:
    """The rarity table shipped with the package (fitted by `mpi linker fit-history`)."""
    text = resources.files("mpi_linker").joinpath(RARITY_RESOURCE).read_text()
    return Rarity.from_json(text)


def concepts(events: Iterable[Mapping[str, Any]]) -> set[str]:
    """The record's coded concepts (`code_system|code`) of the types that carry across."""
    return {
        f"{event.get('code_system') or ''}|{event['code']}"
        for event in events
        if event.get("type") in HISTORY_TYPES and event.get("code")
    }


def rare_concepts(events: Iterable[Mapping[str, Any]], rarity: Rarity) -> set[str]:
    return {c for c in concepts(events) if rarity.is_rare(c)}


def history_keys(
    events: Iterable[Mapping[str, Any]] | None, rarity: Rarity | None = None
) -> list[str]:
    """The record's history keys (`hist:...`), sorted; none without enough rare concepts.

    `events` are clinical events with `type`, `code_system` and `code` (the api's
    `clinical_event` rows or a dataset's events.parquet rows).
    """
    if not events:
        return []
    table = rarity or shipped_rarity()
    params = table.parameters
    rare = rare_concepts(events, table)
    if len(rare) < max(params.min_concepts, 1):
        return []
    if params.scheme == "minhash":
        return _minhash_keys(rare, params)
    return _pair_keys(rare, table)


def _pair_keys(rare: set[str], table: Rarity) -> list[str]:
    params = table.parameters
    shares = sorted((table.share(c), c) for c in rare)
    pairs = sorted(
        (p * q, digest)
        for (p, a), (q, b) in itertools.combinations(shares, 2)
        if p * q <= params.max_pair_share
        and (digest := _pair_digest(a, b)) not in table.common_pairs
    )[: params.max_keys]
    return sorted(f"{PREFIX}:p:{digest}" for _, digest in pairs)


def _pair_digest(a: str, b: str) -> str:
    first, second = sorted((a, b))
    return _digest(_PAIR_SEPARATOR.join((first, second)), b"mpi-hist-pair")


def _minhash_keys(rare: set[str], params: HistoryParameters) -> list[str]:
    hashes = [_concept_hash(c) for c in rare]
    family = _hash_family(params.bands * params.rows)
    minima = [min((a * x + b) % _MERSENNE for x in hashes) for a, b in family]
    keys = []
    for band in range(params.bands):
        row = minima[band * params.rows : (band + 1) * params.rows]
        keys.append(f"{PREFIX}:{band}:{_digest(','.join(map(str, row)), b'mpi-hist-band')}")
    return sorted(keys)


def _digest(text: str, person: bytes) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8, person=person).hexdigest()


def is_history_key(key: str) -> bool:
    return key.startswith(f"{PREFIX}:")


def _concept_hash(concept: str) -> int:
    digest = hashlib.blake2b(concept.encode(), digest_size=8, person=b"mpi-hist-code").digest()
    return int.from_bytes(digest, "big") % _MERSENNE


@cache
def _hash_family(size: int) -> tuple[tuple[int, int], ...]:
    """`size` fixed hash functions x -> (a x + b) mod 2^61 - 1 (a universal family)."""
    family = []
    for i in range(size):
        digest = hashlib.blake2b(f"{i}".encode(), digest_size=16, person=b"mpi-hist-perm").digest()
        a = int.from_bytes(digest[:8], "big") % (_MERSENNE - 1) + 1
        b = int.from_bytes(digest[8:], "big") % _MERSENNE
        family.append((a, b))
    return tuple(family)
