"""Run the drill's checks in order against its own stack; print the table, write the JSON."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from mpi_devtools.drill.auth import check_auth
from mpi_devtools.drill.fuzz import check_fuzz
from mpi_devtools.drill.hostile import check_hostile
from mpi_devtools.drill.phi import check_phi
from mpi_devtools.drill.population import patients, phi_values
from mpi_devtools.drill.report import Check, print_table, write_json
from mpi_devtools.drill.stack import running_stack
from mpi_devtools.drill.writers import SOURCES, Fault, check_writers

SEED = 2024


@dataclass(frozen=True)
class Profile:
    fuzz_examples: int
    writers: int
    seconds: float
    patients: int
    faults: tuple[Fault, ...]


PROFILES = {
    "short": Profile(
        10,
        8,
        30,
        60,
        (
            Fault("linker", 0.2),
            Fault("classifier", 0.3, seconds=10),
            Fault("postgres", 0.4),
            Fault("worker", 0.6),
            Fault("redis", 0.8),
        ),
    ),
    "full": Profile(
        50,
        32,
        300,
        400,
        (
            Fault("linker", 0.15),
            Fault("postgres", 0.3),
            Fault("classifier", 0.35, seconds=120),
            Fault("relay", 0.45),
            Fault("worker", 0.6),
            Fault("redis", 0.75),
            Fault("worker pool child", 0.9),
        ),
    ),
}


def run_drill(profile_name: str, *, out: Path, console: Console) -> bool:
    profile = PROFILES[profile_name]
    people = patients(profile.patients + 1, seed=SEED)
    probe = {**people.pop(), "source": SOURCES[0], "source_record_id": "auth-probe"}
    checks: list[Check] = []
    with (
        tempfile.TemporaryDirectory(prefix="mpi-drill-") as state,
        running_stack(Path(state)) as stack,
    ):
        checks.append(check_fuzz(stack, examples=profile.fuzz_examples, seed=SEED))
        checks.append(check_auth(stack, record=probe))
        checks.append(check_hostile(stack, record=probe))
        checks.extend(
            check_writers(
                stack,
                people=people,
                writers=profile.writers,
                seconds=profile.seconds,
                faults=profile.faults,
                seed=SEED,
            )
        )
        checks.append(check_phi(stack, values=phi_values([probe, *people])))
    print_table(checks, console)
    write_json(checks, profile=profile_name, path=out)
    console.print(f"results: {out}")
    return all(check.passed for check in checks)
