"""The evaluation matrix behind `accuracy.py --matrix`: datasets x (stock Splink, MPI bulk, MPI
online with the worker), each prepared into a cache folder when missing.

Rows (datasets) are data: `ROWS` names how each is made, so a new preset or population is one
line. A generated row simulates its population once into `<sim cache>/<population>/parts`
(shared by every preset of that population; an existing cache is symlinked, never written);
the `-nohistory` twin is the same records with the clinical events dropped.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_linker.frames import frame, read_events, read_records
from mpi_linker.model.artifact import ModelArtifact, load
from mpi_linker.model.train import predict_pairs
from mpi_store.datasets import EVENTS_FILE, RECORDS_FILE, TRUTH_FILE, iter_payloads
from mpi_training.evaluate import RecordKey, evaluate, load_truth

sys.path.insert(0, str(Path(__file__).parent))
import stock_splink
from linker_scale import KEY, _database, _services

ERROR_LOG_FILE = "error_log.jsonl"
# The relay logs every batch it relays: kept out of the table, in a file beside the results.
SERVICES_LOG = Path("benchmarks/results/accuracy_matrix_services.log")


@dataclass(frozen=True)
class Population:
    """A Synthea population the generator rows corrupt (simulated once, reused by presets)."""

    seed: int
    patients: int
    state: str = "Massachusetts"


# The evaluation population (the committed data/eval's seed and size) and one unlike the
# training population (another state). Never the linker's training seeds.
POPULATIONS = {
    "eval": Population(seed=67890, patients=400),
    "texas": Population(seed=31337, patients=300, state="Texas"),
}


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # "febrl", "generate" or "folder"
    options: Mapping[str, Any] = field(default_factory=dict)
    history: bool = True


def _generated(population: str, preset: str, prefix: str = "") -> list[Row]:
    options = {"population": population, "preset": preset}
    return [
        Row(f"{prefix}{preset}-history", "generate", options),
        Row(f"{prefix}{preset}-nohistory", "generate", options, history=False),
    ]


ROWS: tuple[Row, ...] = (
    Row("febrl3", "febrl", {"dataset": "febrl3"}),
    Row("febrl4", "febrl", {"dataset": "febrl4"}),
    *_generated("eval", "clinfuse-effective"),
    *_generated("eval", "standard"),
    *_generated("eval", "adversarial"),
    *_generated("texas", "standard", prefix="texas-"),
    Row("eval-committed", "folder", {"path": "data/eval"}),
)
ROW_NAMES = tuple(row.name for row in ROWS)
SOURCES = ("shipped", "self")


class RowUnavailable(Exception):
    """A row that cannot be prepared here (a preset this generator lacks, an unfinished
    simulation cache); the matrix reports it and goes on."""


# --- datasets ------------------------------------------------------------------------------


def prepare(row: Row, cache: Path, sim_cache: Path | None) -> Path:
    """The row's dataset folder, built under `cache` if it is not there yet."""
    if row.kind == "folder":
        return Path(row.options["path"])
    folder = cache / row.name
    if (folder / TRUTH_FILE).exists():
        return folder
    if row.kind == "febrl":
        _febrl_without_ssn(row.options["dataset"], folder)
    elif row.history:
        _generate(row, folder, sim_cache, cache)
    else:
        source = cache / (row.name.removesuffix("-nohistory") + "-history")
        if not (source / TRUTH_FILE).exists():
            _generate(dataclasses.replace(row, history=True), source, sim_cache, cache)
        drop_history(source, folder)
    return folder


def _febrl_without_ssn(dataset: str, folder: Path) -> None:
    from mpi_training.febrl import write_febrl
    from mpi_training.tables import RECORD_SCHEMA, write_table

    write_febrl(dataset, folder)
    records = [{**r, "ssn": None} for r in pq.read_table(folder / RECORDS_FILE).to_pylist()]
    write_table(records, RECORD_SCHEMA, folder / RECORDS_FILE)


def drop_history(source: Path, folder: Path) -> None:
    """The same records and truth with no clinical event (a registration-only feed)."""
    from mpi_training.tables import EVENT_SCHEMA, write_table

    folder.mkdir(parents=True, exist_ok=True)
    for name in (RECORDS_FILE, TRUTH_FILE, ERROR_LOG_FILE):
        if (source / name).exists():
            shutil.copyfile(source / name, folder / name)
    write_table([], EVENT_SCHEMA, folder / EVENTS_FILE)


def _generate(row: Row, folder: Path, sim_cache: Path | None, cache: Path) -> None:
    from mpi_training.corruption.config import PRESETS
    from mpi_training.generate import PARTS_DIR, generate
    from mpi_training.simulation import _kept_prefix

    preset = row.options["preset"]
    if preset not in PRESETS:
        raise RowUnavailable(f"preset {preset!r} is not in this generator ({', '.join(PRESETS)})")
    name = row.options["population"]
    population = POPULATIONS[name]
    params = _params(preset, population)
    folder.mkdir(parents=True, exist_ok=True)
    parts = folder / PARTS_DIR
    if sim_cache is not None:
        shared = sim_cache.resolve() / name / PARTS_DIR
        kept, _ = _kept_prefix(shared, population.patients) if shared.is_dir() else ([], 0)
        if len(kept) < population.patients:
            # Someone else's cache: finishing its simulation here would write into it.
            raise RowUnavailable(
                f"{shared} holds {len(kept)} of {population.patients} simulated patients;"
                " finish that simulation, or leave out --sim-cache to simulate into the cache"
            )
    else:
        shared = (cache / "sims" / name / PARTS_DIR).resolve()
        shared.mkdir(parents=True, exist_ok=True)
    if not parts.exists():
        parts.symlink_to(shared, target_is_directory=True)
    # keep_parts: the parts are shared with the other presets (and may not be ours to delete).
    generate(folder, params, keep_parts=True, workers=os.cpu_count() or 1)


def _params(preset: str, population: Population) -> Any:
    from mpi_training.generate import GenerateParams
    from mpi_training.simulation import SimulationParams

    params = GenerateParams.from_preset(preset, patients=population.patients, seed=population.seed)
    if "state" in {f.name for f in dataclasses.fields(GenerateParams)}:
        return dataclasses.replace(params, state=population.state)  # type: ignore[call-arg]
    if population.state == params.simulation.state:
        return params

    @dataclasses.dataclass(frozen=True)
    class _InState(type(params)):  # type: ignore[misc]
        """GenerateParams before it had a state: the simulation runs in `state`."""

        state: str = population.state

        @property
        def simulation(self) -> SimulationParams:
            return dataclasses.replace(super().simulation, state=self.state)

    return _InState(**{f.name: getattr(params, f.name) for f in dataclasses.fields(params)})


# --- models and candidate pairs ------------------------------------------------------------


def artifact_for(source: str, records: list[dict[str, Any]]) -> ModelArtifact:
    if source == "shipped":
        return load()
    try:
        from mpi_linker.model.train import self_train
    except ImportError as error:
        raise RowUnavailable("mpi_linker.model.train.self_train is not on this branch") from error
    artifact: ModelArtifact = self_train(frame(records))
    return artifact


def candidate_stats(
    records: list[dict[str, Any]],
    truth: Mapping[RecordKey, str],
    artifact: ModelArtifact,
    events: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Blocking recall (true pairs that are candidates of the MPI's blocking keys, history keys
    included when `events` are given, as the MPI indexes them) and the share of candidate
    pairs in each of the model's tiers."""
    pairs = predict_pairs(frame(records, events), artifact.splink)

    def key(unique_id: str) -> RecordKey:
        source, source_record_id = unique_id.split(RECORD_KEY_SEPARATOR)
        return source, source_record_id

    true_candidates = sum(
        truth[key(p["unique_id_l"])] == truth[key(p["unique_id_r"])] for p in pairs
    )
    sizes = Counter(truth.values())
    true_pairs = sum(n * (n - 1) // 2 for n in sizes.values())
    tiers = Counter(artifact.thresholds.tier(p["match_probability"]) for p in pairs)
    total = max(len(pairs), 1)
    return {
        "candidate_pairs": len(pairs),
        "true_pairs": true_pairs,
        "true_pairs_in_candidates": true_candidates,
        "blocking_recall": true_candidates / true_pairs if true_pairs else 1.0,
        **{f"{t}_share": tiers[t] / total for t in ("auto", "gray", "reject")},
    }


# --- MPI runs ------------------------------------------------------------------------------


def bulk(url: str, data: Path, artifact: ModelArtifact) -> float:
    from mpi_api.bulk import bulk_load
    from mpi_store.db import make_engine, make_sessionmaker, unit_of_work

    _, payloads = iter_payloads(data)
    engine = make_engine(url, pool_size=1)
    started = time.perf_counter()
    with unit_of_work(make_sessionmaker(engine)) as session:
        bulk_load(session, payloads=payloads, artifact=artifact)
    engine.dispose()
    return time.perf_counter() - started


@contextmanager
def _adjudication(url: str, redis_url: str) -> Iterator[dict[str, str]]:
    """The relay and one Celery worker (overlap backend) on a queue of this run's own."""
    env = {
        **os.environ,
        "MPI_DATABASE_URL": url,
        "MPI_REDIS_URL": redis_url,
        "MPI_CLASSIFIER_QUEUE": f"matrix-{os.getpid()}-{time.time_ns()}",
        "MPI_CLASSIFIER_BACKEND": "overlap",
    }
    SERVICES_LOG.parent.mkdir(parents=True, exist_ok=True)
    with SERVICES_LOG.open("a") as log:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "mpi_api.cli", *command],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for command in (["relay"], ["worker", "--concurrency=1", "--loglevel=WARNING"])
        ]
        try:
            yield env
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()


def _pending(url: str) -> int:
    from sqlalchemy import func, select

    from mpi_store.db import make_engine, make_sessionmaker
    from mpi_store.domain.enums import AdjudicationState
    from mpi_store.models import Adjudication

    engine = make_engine(url, pool_size=1)
    with make_sessionmaker(engine)() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Adjudication)
            .where(Adjudication.state == AdjudicationState.PENDING)
        )
    engine.dispose()
    return int(count or 0)


def _drain(url: str, stall_seconds: float) -> int:
    """Wait until no adjudication is pending, or none was decided for `stall_seconds`; return
    how many are left."""
    pending, last_change = _pending(url), time.monotonic()
    while pending and time.monotonic() - last_change < stall_seconds:
        time.sleep(1)
        last, pending = pending, _pending(url)
        if pending != last:
            last_change = time.monotonic()
    return pending


def drain(url: str, redis_url: str, *, stall_seconds: float = 300) -> dict[str, Any]:
    """The relay and a worker decide what a bulk load left pending (its outbox rows)."""
    started = time.perf_counter()
    with _adjudication(url, redis_url):
        left = _drain(url, stall_seconds)
    return {"drain_seconds": time.perf_counter() - started, "pending_left": left}


def online(
    url: str, data: Path, artifact: ModelArtifact, redis_url: str, *, stall_seconds: float = 300
) -> dict[str, Any]:
    """POST every record in file order (one at a time, 5xx retried with backoff, as `mpi data
    load --concurrency 1` does) to a real api + linker serving `artifact`, with the relay and a
    worker adjudicating; then wait until no adjudication is pending."""
    import asyncio

    from mpi_training.replay import replay

    with tempfile.TemporaryDirectory() as scratch:
        model_path = Path(scratch) / "model.json"
        model_path.write_text(artifact.to_json())
        started = time.perf_counter()
        with (
            _adjudication(url, redis_url),
            _services(url, {"MPI_LINKER_MODEL_PATH": str(model_path)}) as (api, _),
        ):
            result = asyncio.run(replay(data, url=api, api_key=KEY, concurrency=1))
            posted_at = time.perf_counter()
            left = _drain(url, stall_seconds)
            finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "post_seconds": posted_at - started,
        "drain_seconds": finished - posted_at,
        "posted": result.posted,
        "rejected": len(result.rejected),
        "failed": len(result.failed),
        "pending_left": left,
    }


# --- the matrix ----------------------------------------------------------------------------


def _summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "precision": round(metrics["pairwise_precision"], 4),
        "recall": round(metrics["pairwise_recall"], 4),
        "f1": round(metrics["pairwise_f1"], 4),
        "split": metrics["split_patients"],
        "impure": metrics["impure_clusters"],
    }


def run_row(
    row: Row,
    results: list[dict[str, Any]],
    *,
    cache: Path,
    sim_cache: Path | None,
    sources: list[str],
    online_sources: list[str],
    server_url: str,
    redis_url: str,
    saved: Callable[[], None] = lambda: None,
) -> None:
    """One dataset: the stock baseline at p >= 0.5 and at its oracle threshold, then MPI bulk
    (and online, for `online_sources`) per model source, appended to `results` as they finish,
    one per line of the table; `saved` is called after each (a long matrix keeps what it has
    measured if it is stopped)."""
    data = prepare(row, cache, sim_cache)
    records = read_records(data)
    truth, _ = load_truth(data / TRUTH_FILE)
    common = {"row": row.name, "records": len(records), "patients": len(set(truth.values()))}

    baseline = stock_splink.fit_and_predict(records)
    at_half = evaluate(truth, baseline.clusters(0.5))
    threshold, at_best = stock_splink.best_threshold(baseline, truth, evaluate)
    for run, metrics, extra in (
        ("stock splink p>=0.5", at_half, {}),
        (f"stock splink p>={threshold} (oracle)", at_best, {"threshold": threshold}),
    ):
        results.append(
            {
                **common,
                "run": run,
                **_summary(metrics),
                "seconds": round(baseline.seconds, 1),
                "metrics": metrics,
                "baseline": {
                    "skipped_em_sessions": baseline.skipped_sessions,
                    "left_out_columns": baseline.left_out_columns,
                    **extra,
                },
            }
        )
    saved()

    for source in sources:
        try:
            started = time.perf_counter()
            artifact = artifact_for(source, records)
            train_seconds = time.perf_counter() - started
        except RowUnavailable as error:
            results.append({**common, "run": f"MPI ({source})", "error": str(error)})
            saved()
            continue
        stats = candidate_stats(records, truth, artifact, read_events(data))
        model = {
            "model": artifact.version,
            "blocking_recall": round(stats["blocking_recall"], 4),
            "gray_share": round(stats["gray_share"], 4),
            "candidates": stats,
            "train_seconds": round(train_seconds, 1),
        }
        paths = ["bulk", *(["online"] if source in online_sources else [])]
        for path in paths:
            # One database per run (left in place to inspect), so two matrices can run at once.
            name = re.sub(r"[^a-z0-9]+", "_", f"mpi_bench_matrix_{row.name}_{source}_{path}")
            url = _database(server_url, name)
            try:
                if path == "bulk":
                    timing: dict[str, Any] = {"seconds": bulk(url, data, artifact)}
                    # As loaded (gray pairs pending), then once the worker has decided them.
                    results.append(_mpi_result(f"MPI bulk ({source})", url, truth, timing))
                    results[-1].update(common, **model)
                    saved()
                    drained = drain(url, redis_url)
                    timing = {
                        **drained,
                        "load_seconds": timing["seconds"],
                        "seconds": timing["seconds"] + drained["drain_seconds"],
                    }
                    run = f"MPI bulk + worker ({source})"
                else:
                    timing = online(url, data, artifact, redis_url)
                    run = f"MPI online + worker ({source})"
            except Exception as error:
                results.append({**common, "run": f"MPI {path} ({source})", "error": repr(error)})
                saved()
                continue
            results.append(_mpi_result(run, url, truth, timing))
            results[-1].update(common, **model)
            saved()


def _mpi_result(
    run: str, url: str, truth: Mapping[RecordKey, str], timing: Mapping[str, Any]
) -> dict[str, Any]:
    from accuracy import _clusters_and_oracle

    pred, oracle, reviewed, decisions = _clusters_and_oracle(url, truth)
    metrics = evaluate(truth, pred)
    after_review = evaluate(truth, reviewed)
    return {
        "run": run,
        **_summary(metrics),
        # The steward's queue: pairs a guard stopped, and how many of them are one patient.
        "review": f"{decisions['review_pairs']} ({decisions['review_true_pairs']})",
        "f1_reviewed": round(after_review["pairwise_f1"], 4),
        "after_review": _summary(after_review),
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in timing.items()},
        "decisions": decisions,
        "metrics": metrics,
        "gray_zone_oracle": evaluate(truth, oracle),
    }
