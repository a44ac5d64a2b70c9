"""Shared fixtures for the data-generation tests: hand-built patient histories and checkpoints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mpi_store.fhir_convert import Event, PatientHistory
from mpi_training.simulation import SimulationParams, stamp_params, write_part

FIRST_NAMES = ("William", "Margaret", "Jose", "Ann", "Robert", "Elizabeth", "Mei", "Omar")


def event(kind: str, encounter: str | None, **fields: object) -> Event:
    base: Event = {
        "type": kind,
        "encounter_id": encounter,
        "organization": None,
        "code_system": "http://snomed.info/sct",
        "code": f"{kind}-code",
        "display": f"{kind} display",
        "date": None,
        "start": None,
        "end": None,
        "value": None,
        "unit": None,
        "encounter_class": None,
    }
    base.update(fields)  # type: ignore[typeddict-item]
    return base


def history(
    index: int, encounters: int = 5, spacing_days: int = 30, first: dt.date = dt.date(2020, 1, 15)
) -> PatientHistory:
    """A plausible patient: encounters `spacing_days` apart, each with an observation."""
    events: list[Event] = []
    for n in range(encounters):
        day = first + dt.timedelta(days=spacing_days * n)
        enc = f"enc-{index}-{n}"
        events.append(
            event(
                "encounter",
                enc,
                start=day.isoformat(),
                end=day.isoformat(),
                encounter_class="AMB",
                organization=f"urn:uuid:org-{n % 2}",
            )
        )
        events.append(event("observation", enc, date=day.isoformat(), value=70.0 + n, unit="kg"))
    events.append(event("condition", None, start="2019-05-01"))
    return {
        "patient_id": f"patient-{index:04d}",
        "demographics": {
            "given_name": FIRST_NAMES[index % len(FIRST_NAMES)],
            "middle_name": None,
            "family_name": f"Family{index}",
            "maiden_name": "Maidenly" if index % 3 == 0 else None,
            "birth_date": (dt.date(1950, 3, 7) + dt.timedelta(days=173 * index)).isoformat(),
            "sex": "female" if index % 2 else "male",
            "address_line1": f"{100 + index} Chestnut Street Apt {index + 1}",
            "address_line2": None,
            "city": "Boston",
            "state": "Massachusetts",
            "postcode": "02118",
            "country": "US",
            "phone": f"555-{100 + index:03d}-{1000 + index:04d}",
            "email": None,
            "ssn": f"999-{10 + index % 90:02d}-{1000 + index:04d}",
        },
        "events": events,
        "organizations": {"urn:uuid:org-0": "org-zero", "urn:uuid:org-1": "org-one"},
    }


def write_parts(out_dir: Path, params: SimulationParams, patients: int, **shape: object) -> None:
    """Checkpoints as if Synthea had run, so assembly tests need no simulation."""
    parts = out_dir / "parts"
    stamp_params(parts, params)
    for index in range(patients):
        write_part(parts, {"index": index, "kept": True, "history": history(index, **shape)})


@pytest.fixture
def make_history():
    return history


@pytest.fixture
def fake_parts():
    return write_parts
