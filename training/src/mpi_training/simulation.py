"""Runs Synthea patient by patient into per-patient checkpoint files, so a run can resume."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from mpi_store.fhir_convert import PatientHistory, convert_bundle
from mpi_training.synthea_source import DEFAULT_STATE, SyntheaSource


class SimulationMismatchError(RuntimeError):
    """The checkpoint folder was written with other simulation parameters."""


@dataclasses.dataclass(frozen=True)
class SimulationParams:
    seed: int
    reference_date: dt.date = dt.date(2025, 1, 1)
    history_years: int = 10
    state: str = DEFAULT_STATE

    @property
    def history_start(self) -> dt.date:
        ref = self.reference_date
        return ref.replace(year=ref.year - self.history_years, day=min(ref.day, 28))

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "reference_date": self.reference_date.isoformat(),
            "history_years": self.history_years,
            "state": self.state,
        }


def part_path(parts_dir: Path, index: int) -> Path:
    return parts_dir / f"{index:07d}.json"


def simulate_one(source: SyntheaSource, params: SimulationParams, index: int) -> dict[str, Any]:
    """One checkpoint: the converted patient, or a skip when nobody saw them in the window.

    People with no encounter since the history start (mostly long dead) would reach every
    facility with an empty chart; an MPI fed from recent activity never sees them.
    """
    bundle = source.bundle(index)
    history = None if bundle is None else convert_bundle(bundle, history_start=params.history_start)
    kept = history is not None and any(e["type"] == "encounter" for e in history["events"])
    return {"index": index, "kept": kept, "history": history if kept else None}


def write_part(parts_dir: Path, part: dict[str, Any]) -> None:
    target = part_path(parts_dir, part["index"])
    scratch = target.with_suffix(".tmp")
    scratch.write_text(json.dumps(part, separators=(",", ":")), encoding="utf-8")
    # Rename is atomic, so a killed run never leaves a half-written checkpoint behind.
    scratch.replace(target)


_WORKER: tuple[SyntheaSource, SimulationParams] | None = None


def _init_worker(params: SimulationParams) -> None:
    global _WORKER
    _WORKER = (
        SyntheaSource(seed=params.seed, reference_date=params.reference_date, state=params.state),
        params,
    )


def _work(index: int, parts_dir: str) -> bool:
    if _WORKER is None:
        raise RuntimeError("worker not initialised")
    part = simulate_one(_WORKER[0], _WORKER[1], index)
    write_part(Path(parts_dir), part)
    return bool(part["kept"])


def stamp_params(parts_dir: Path, params: SimulationParams) -> None:
    stamp = parts_dir / "params.json"
    wanted = params.as_json()
    if stamp.exists():
        found = json.loads(stamp.read_text(encoding="utf-8"))
        if found != wanted:
            raise SimulationMismatchError(
                f"{parts_dir} holds patients simulated with {found}, not {wanted}; "
                "use another output folder or delete it"
            )
    else:
        parts_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(wanted, sort_keys=True), encoding="utf-8")


def _kept_prefix(parts_dir: Path, wanted: int) -> tuple[list[int], int]:
    """Kept indices among the contiguous finished prefix, and where that prefix ends."""
    kept: list[int] = []
    index = 0
    while len(kept) < wanted:
        path = part_path(parts_dir, index)
        if not path.exists():
            break
        if json.loads(path.read_text(encoding="utf-8"))["kept"]:
            kept.append(index)
        index += 1
    return kept, index


def simulate(
    parts_dir: Path,
    params: SimulationParams,
    n_patients: int,
    *,
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Simulate until `n_patients` kept patients exist; return their indices in order.

    Checkpoints already on disk are reused, so a re-run after an interruption only simulates
    what is missing. `on_progress` gets the running count of kept patients.
    """
    stamp_params(parts_dir, params)
    kept, frontier = _kept_prefix(parts_dir, n_patients)
    report = on_progress or (lambda _count: None)
    report(len(kept))
    if len(kept) >= n_patients:
        return kept
    if workers <= 1:
        source = SyntheaSource(
            seed=params.seed, reference_date=params.reference_date, state=params.state
        )
        try:
            for index in itertools.count(frontier):
                path = part_path(parts_dir, index)
                if path.exists():
                    part = json.loads(path.read_text(encoding="utf-8"))
                else:
                    part = simulate_one(source, params, index)
                    write_part(parts_dir, part)
                if part["kept"]:
                    kept.append(index)
                    report(len(kept))
                if len(kept) >= n_patients:
                    return kept
        finally:
            source.close()
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(params,)) as pool:
        _run_pool(pool, parts_dir, frontier, n_patients - len(kept), workers, report, len(kept))
    kept, _ = _kept_prefix(parts_dir, n_patients)
    return kept


def _run_pool(
    pool: ProcessPoolExecutor,
    parts_dir: Path,
    frontier: int,
    missing: int,
    workers: int,
    report: Callable[[int], None],
    done: int,
) -> None:
    # Indices go out in order and the pool is kept a few tasks deep, so once enough patients
    # are kept only the few in flight are wasted.
    pending: dict[Future[bool], int] = {}
    indices = itertools.count(frontier)
    kept_new = 0
    while kept_new < missing or pending:
        while kept_new < missing and len(pending) < workers * 2:
            index = next(indices)
            if part_path(parts_dir, index).exists():
                part = json.loads(part_path(parts_dir, index).read_text(encoding="utf-8"))
                kept_new += int(part["kept"])
                continue
            pending[pool.submit(_work, index, str(parts_dir))] = index
        if not pending:
            break
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            pending.pop(future)
            if future.result():
                kept_new += 1
                report(done + kept_new)


def load_part(parts_dir: Path, index: int) -> PatientHistory:
    part = json.loads(part_path(parts_dir, index).read_text(encoding="utf-8"))
    history: PatientHistory = part["history"]
    return history


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
