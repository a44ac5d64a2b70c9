"""Pairs distinct patients into families (twins, parent and child, siblings) as hard negatives."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Sequence

from mpi_store.fhir_convert import Demographics

# ClinFuse confusable_groups.py: relation weights.
RELATION_WEIGHTS: dict[str, float] = {"twin": 0.40, "parent_child": 0.30, "sibling": 0.30}
HOUSEHOLD_FIELDS: tuple[str, ...] = (
    "family_name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postcode",
    "phone",
)
# Age gaps (days) a real family allows. Only twins get a birth date copied; the others keep
# their own, so no clinical event ends up dated before its patient's birth.
TWIN_MAX_GAP = 2 * 365
SIBLING_GAP = (365, 10 * 365)
PARENT_GAP = (18 * 365, 45 * 365)


@dataclasses.dataclass(frozen=True)
class Candidate:
    birth_date: dt.date
    sex: str | None
    facilities: frozenset[str]
    first_event: dt.date | None


@dataclasses.dataclass(frozen=True)
class ConfusableGroup:
    group_id: str
    relation: str
    source: int
    target: int


def _fits(relation: str, source: Candidate, target: Candidate) -> bool:
    gap = abs((source.birth_date - target.birth_date).days)
    if relation == "twin":
        return gap <= TWIN_MAX_GAP and (
            target.first_event is None or source.birth_date <= target.first_event
        )
    low, high = SIBLING_GAP if relation == "sibling" else PARENT_GAP
    return low <= gap <= high


def pick_groups(
    candidates: Sequence[Candidate], share: float, rng: random.Random
) -> list[ConfusableGroup]:
    """About `share` x patients pairs, each patient in at most one, sharing a facility.

    Like ClinFuse, pairs are drawn greedily and `share` counts pairs per patient (5% of 2,922
    patients gave ~146 pairs). A source with no fitting partner is skipped.
    """
    wanted = round(share * len(candidates))
    order = list(range(len(candidates)))
    rng.shuffle(order)
    used: set[int] = set()
    groups: list[ConfusableGroup] = []
    relations, weights = list(RELATION_WEIGHTS), list(RELATION_WEIGHTS.values())
    for source in order:
        if len(groups) >= wanted:
            break
        if source in used:
            continue
        relation = rng.choices(relations, weights)[0]
        src = candidates[source]
        fitting = [
            t
            for t in order
            if t != source
            and t not in used
            and src.facilities & candidates[t].facilities
            and _fits(relation, src, candidates[t])
        ]
        if not fitting:
            continue
        target = rng.choice(fitting)
        used.update((source, target))
        groups.append(ConfusableGroup(f"cg-{len(groups) + 1:05d}", relation, source, target))
    return groups


def apply_relation(source: Demographics, target: Demographics, relation: str) -> Demographics:
    """The target's demographics after taking on the source's household (and more for twins)."""
    out = dict(target)
    for field in HOUSEHOLD_FIELDS:
        out[field] = source[field]  # type: ignore[literal-required]
    if relation == "twin":
        out["birth_date"] = source["birth_date"]
    # A father and son (or mother and daughter) often share a given name too ("Jr.").
    if relation == "parent_child" and source["sex"] == target["sex"]:
        out["given_name"] = source["given_name"]
    result: Demographics = out  # type: ignore[assignment]
    return result
