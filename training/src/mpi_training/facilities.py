"""Spreads one patient's history over facilities, the way ClinFuse segments Synthea output."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from mpi_store.fhir_convert import Event, PatientHistory

# ClinFuse default_config.yaml: how many facilities a patient visits (1..5).
FACILITY_COUNT_WEIGHTS: tuple[float, ...] = (0.40, 0.30, 0.15, 0.10, 0.05)
PRIMARY_SHARE = 0.60
UNASSIGNED_ORGANISATION = "synthea-unassigned"


def facility_names(count: int) -> list[str]:
    return [f"facility-{i:02d}" for i in range(1, count + 1)]


def draw_facilities(
    rng: random.Random,
    facilities: Sequence[str],
    weights: Sequence[float] = FACILITY_COUNT_WEIGHTS,
) -> list[str]:
    """The facilities one patient visits, primary first, drawn without replacement."""
    counts = list(range(1, min(len(weights), len(facilities)) + 1))
    how_many = rng.choices(counts, weights[: len(counts)])[0]
    return rng.sample(list(facilities), how_many)


def split_chronologically(
    history: PatientHistory, assigned: Sequence[str]
) -> dict[str, list[Event]]:
    """ClinFuse's `chronological_switching`: events per facility, every facility present.

    Encounters sorted by start date: the first int(60%) go to the primary facility, the rest are
    dealt round-robin over the others. Events follow their encounter; events without one (or
    whose encounter predates the history window) stay at the primary facility.
    """
    events = history["events"]
    encounters = sorted(
        (e for e in events if e["type"] == "encounter"),
        key=lambda e: (e["start"] or "", e["encounter_id"] or ""),
    )
    where: dict[str | None, str] = {}
    primary, others = assigned[0], list(assigned[1:])
    n_primary = len(encounters) if not others else int(PRIMARY_SHARE * len(encounters))
    for i, encounter in enumerate(encounters):
        where[encounter["encounter_id"]] = (
            primary if i < n_primary else others[(i - n_primary) % len(others)]
        )
    return _group(events, where, assigned)


def split_by_organisation(history: PatientHistory) -> dict[str, list[Event]]:
    """One record per Synthea organisation the patient was seen at; the busiest is primary."""
    organisations = history["organizations"]
    where: dict[str | None, str] = {}
    for event in history["events"]:
        if event["type"] == "encounter":
            where[event["encounter_id"]] = organisations.get(
                event["organization"] or "", UNASSIGNED_ORGANISATION
            )
    visits = Counter(where.values())
    ranked = sorted(visits, key=lambda org: (-visits[org], org)) or [UNASSIGNED_ORGANISATION]
    return _group(history["events"], where, ranked)


def _group(
    events: Sequence[Event], where: dict[str | None, str], assigned: Sequence[str]
) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {facility: [] for facility in assigned}
    for event in events:
        out[where.get(event["encounter_id"], assigned[0])].append(event)
    return out
