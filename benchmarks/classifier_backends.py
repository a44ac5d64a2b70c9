"""Gray-zone classifier backends on the same gray pairs: speed, precision/recall, calibration.

The pairs are the shipped linker's gray zone (plus guarded auto pairs) of a generated
population with its truth, by default the evaluation set (the backends were fitted on other
populations). For each backend: pairs/s on this machine (summaries included), the classifier's
precision/recall at 0.5 and its expected calibration error, and the fused decision's
precision/recall/F1 at the backend's operating point (its shipped fusion), beside Splink alone.
With --drain N it also times N adjudications end to end through Postgres, the relay, Redis and
a real Celery worker (MPI_DATABASE_URL and MPI_REDIS_URL must point at scratch servers).

Usage: .venv/bin/python benchmarks/classifier_backends.py [--data data/eval]
           [--backends overlap,local] [--drain 1000] [--out benchmarks/results/...json]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mpi_classifier.backends import Classifier, Pair
from mpi_linker.model.artifact import load
from mpi_store.datasets import TRUTH_FILE
from mpi_training.adjudication.closure import CLUSTER_METRICS, accepted, clusters
from mpi_training.adjudication.metrics import quality
from mpi_training.adjudication.pairs import GrayPairs, gray_pairs
from mpi_training.evaluate import RecordKey, load_truth


def _backend(name: str) -> Classifier:
    if name == "overlap":
        from mpi_classifier.backends.overlap import OverlapClassifier

        return OverlapClassifier.load()
    from mpi_classifier.backends.local import LocalClassifier

    return LocalClassifier.load()


def measure(name: str, pairs: GrayPairs, truth: dict[RecordKey, str]) -> dict[str, Any]:
    classifier = _backend(name)
    inputs = [Pair(pairs.histories[p.first], pairs.histories[p.second]) for p in pairs.pairs]
    labels = [p.is_match for p in pairs.pairs]
    classifier.classify(inputs[:8])  # warm-up (lazy allocations, first batch)
    started = time.perf_counter()
    probabilities = classifier.classify(inputs)
    elapsed = time.perf_counter() - started
    fusion = classifier.fusion
    fused = [
        fusion.fuse(p.splink_probability, c)
        for p, c in zip(pairs.pairs, probabilities, strict=True)
    ]
    return {
        "backend": name,
        "model": classifier.model_id,
        "pairs_per_second": round(len(inputs) / elapsed, 1),
        "seconds": round(elapsed, 2),
        "classifier_at_0.5": quality(probabilities, labels).as_dict(),
        "fusion": fusion.to_dict(),
        "fused_at_operating_point": quality(fused, labels, threshold=fusion.threshold).as_dict(),
        "clusters": clusters(pairs, accepted(pairs, fused, fusion.threshold), truth),
    }


def splink_alone(pairs: GrayPairs) -> dict[str, Any]:
    labels = [p.is_match for p in pairs.pairs]
    splink = [p.splink_probability for p in pairs.pairs]
    return {"backend": "splink alone (p >= 0.5)", **quality(splink, labels).as_dict()}


def drain(pairs: GrayPairs, count: int, concurrency: int) -> dict[str, Any]:
    """Seconds from the first relay pass until `count` adjudications are decided by a real
    worker (overlap backend)."""
    from mpi_classifier.relay import run as relay_run
    from mpi_classifier.settings import Settings
    from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
    from mpi_store.domain.enums import AdjudicationState, OutboxTopic
    from mpi_store.migrate import upgrade
    from mpi_store.repositories import AdjudicationRepository, OutboxRepository

    settings = Settings(queue=f"bench-{os.getpid()}")
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url, pool_size=2)
    factory = make_sessionmaker(engine)
    chosen = [pairs.pairs[i % len(pairs.pairs)] for i in range(count)]
    with unit_of_work(factory) as session:
        ids = _seed(session, pairs, chosen)
        OutboxRepository(session).add(
            OutboxTopic.ADJUDICATION_REQUESTED, {"record_id": 0, "adjudication_ids": ids}
        )
    env = {
        **os.environ,
        "MPI_CLASSIFIER_QUEUE": settings.queue,
        "MPI_CLASSIFIER_BACKEND": "overlap",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mpi_api.cli",
            "worker",
            f"--concurrency={concurrency}",
            "--loglevel=WARNING",
        ],
        env=env,
    )
    stop = threading.Event()
    time.sleep(5)  # the worker's start-up is not part of the drain
    started = time.perf_counter()
    relay = threading.Thread(target=relay_run, args=(settings, factory), kwargs={"stop": stop})
    relay.start()
    while True:
        with factory() as session:
            pending = sum(
                1
                for a in AdjudicationRepository(session).by_state(
                    state=AdjudicationState.PENDING, limit=count + 1
                )
            )
        if not pending:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    relay.join()
    worker.terminate()
    worker.wait(timeout=60)
    engine.dispose()
    return {
        "pairs": count,
        "worker_processes": concurrency,
        "seconds": round(elapsed, 1),
        "pairs_per_second": round(count / elapsed, 1),
    }


def _seed(session: Any, pairs: GrayPairs, chosen: list[Any]) -> list[int]:
    """Each gray pair as the api writes it: two records with their events, a final link for the
    candidate, a provisional one for the new record, and a pending adjudication."""
    from mpi_store.domain.enums import LinkSource, LinkState, MatchResult
    from mpi_store.models import SourceRecord
    from mpi_store.repositories import (
        AdjudicationRepository,
        GoldenRecordRepository,
        LinkRepository,
        SourceRecordRepository,
    )

    records, goldens, links = (
        SourceRecordRepository(session),
        GoldenRecordRepository(session),
        LinkRepository(session),
    )
    run = str(time.time_ns())
    ids = []
    for n, pair in enumerate(chosen):
        stored = []
        for side, key in enumerate((pair.first, pair.second)):
            record = records.add(
                SourceRecord(
                    source=f"BENCH{side}",
                    source_record_id=f"{run}-{n}",
                    content_hash="",
                    identifiers=[],
                    version=1,
                )
            )
            records.replace_events(record.id, [_event_row(e) for e in pairs.histories[key].events])
            links.create(
                record=record,
                golden_record_id=goldens.create().id,
                match_result=MatchResult.MATCH if side == 0 else MatchResult.POSSIBLE_MATCH,
                link_source=LinkSource.AUTO,
                link_state=LinkState.FINAL if side == 0 else LinkState.PROVISIONAL,
                probability=pair.splink_probability,
                match_weight=0.0,
                model_version="bench",
                reason={"rule": "bench"},
            )
            stored.append(record)
        candidate_golden = links.get_for_record(stored[0].id)
        assert candidate_golden is not None
        ids.append(
            AdjudicationRepository(session)
            .add(
                record_id=stored[1].id,
                candidate_record_id=stored[0].id,
                candidate_golden_record_id=candidate_golden.golden_record_id,
                probability=pair.splink_probability,
                match_weight=0.0,
                comparison_weights={},
                model_version="bench",
            )
            .id
        )
    return ids


def _event_row(event: Any) -> dict[str, Any]:
    return {
        "type": event.type,
        "code_system": event.code_system,
        "code": event.code,
        "display": event.display,
        "start_date": event.start,
        "end_date": event.end,
        "value_number": event.value_number,
        "value_text": event.value_text,
        "unit": event.unit,
        "category": None,
    }


def main(
    data: Annotated[Path, typer.Option(help="Population with truth")] = Path("data/eval"),
    backends: Annotated[
        str, typer.Option(help="Comma-separated: overlap, local")
    ] = "overlap,local",
    drain_pairs: Annotated[int, typer.Option("--drain", help="Also time N adjudications")] = 0,
    concurrency: Annotated[int, typer.Option(help="Worker processes for --drain")] = 2,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path(
        "benchmarks/results/classifier_backends.json"
    ),
) -> None:
    console = Console()
    pairs = gray_pairs(data, load())
    positives = sum(p.is_match for p in pairs.pairs)
    console.print(f"{len(pairs.pairs)} gray pairs in {data} ({positives} true matches)")
    truth, _ = load_truth(data / TRUTH_FILE)
    results = [measure(name, pairs, truth) for name in backends.split(",") if name]
    splink_clusters = clusters(pairs, [False] * len(pairs.pairs), truth)
    table = Table(title=f"Gray-zone classifiers on {data.name} ({os.cpu_count()} cores)")
    for column in ("backend", "pairs/s", "P@0.5", "R@0.5", "ECE", "fused P", "fused R", "fused F1"):
        table.add_column(column)
    for r in results:
        c, f = r["classifier_at_0.5"], r["fused_at_operating_point"]
        table.add_row(
            r["backend"],
            str(r["pairs_per_second"]),
            str(c["precision"]),
            str(c["recall"]),
            str(c["ece"]),
            str(f["precision"]),
            str(f["recall"]),
            str(f["f1"]),
        )
    alone = splink_alone(pairs)
    table.add_row(
        alone["backend"],
        "",
        "",
        "",
        str(alone["ece"]),
        str(alone["precision"]),
        str(alone["recall"]),
        str(alone["f1"]),
    )
    console.print(table)
    closure = Table(title="Clusters (transitive closure; auto links + accepted gray pairs)")
    for column in ("linkage", *CLUSTER_METRICS):
        closure.add_column(column)
    closure.add_row("splink only (gray pairs stay apart)", *map(str, splink_clusters.values()))
    for r in results:
        closure.add_row(f"splink + {r['backend']}", *map(str, r["clusters"].values()))
    console.print(closure)
    report: dict[str, Any] = {
        "data": str(data),
        "gray_pairs": len(pairs.pairs),
        "true_matches": positives,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "backends": results,
        "splink_alone": alone,
        "splink_only_clusters": splink_clusters,
    }
    if drain_pairs:
        report["drain"] = drain(pairs, drain_pairs, concurrency)
        console.print(f"drain: {report['drain']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
