"""Accuracy of the MPI on a generated dataset, through bulk load and through the online path.

For each path: a fresh database, the dataset loaded (bulk: `mpi_api.bulk.bulk_load`; online:
every record POSTed in file order to a real linker + api), then the clusters scored against the
truth over the transitive closure (`mpi_training.evaluate`). Also: the share of candidate pairs
in each tier, and the "gray-zone oracle" — the clusters if every pending adjudication were
answered correctly — which bounds what the clinical-history classifier can add.

Usage: .venv/bin/python benchmarks/accuracy.py --dev DEV --data data/eval [--paths bulk,online]
       .venv/bin/python benchmarks/accuracy.py --matrix [--rows febrl3,febrl4,...]
           [--model-source shipped,self] [--online-sources self] [--cache benchmarks/data]
           [--sim-cache DIR]   (README, Benchmarks: Accuracy)
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from mpi_api.bulk import bulk_load
from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_linker.frames import frame, read_records
from mpi_linker.model.artifact import load
from mpi_linker.model.train import predict_pairs
from mpi_store.datasets import TRUTH_FILE, iter_payloads
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.models import Adjudication, SourceRecord
from mpi_store.repositories import LinkRepository
from mpi_training.evaluate import evaluate, load_truth

sys.path.insert(0, str(Path(__file__).parent))
from accuracy_matrix import ROW_NAMES, ROWS, SOURCES, RowUnavailable, run_row
from linker_scale import KEY, _database, _services
from report import report

METRICS = (
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f1",
    "split_patients",
    "impure_clusters",
    "exact_patient_rate",
    "bcubed_f1",
)


def _clusters_and_oracle(
    url: str, truth: dict[tuple[str, str], str]
) -> tuple[dict, dict, dict, dict]:
    """(record -> mpi_id now, record -> cluster if every adjudication were answered by the
    truth, record -> cluster once a steward has decided the review queue (the pairs a guard
    stopped) correctly, decision counts)."""
    engine = make_engine(url, pool_size=1)
    with make_sessionmaker(engine)() as session:
        rows = LinkRepository(session).clusters()
        keys = {r.id: (r.source, r.source_record_id) for r in session.scalars(select(SourceRecord))}
        gray = [
            (a.record_id, a.candidate_record_id, a.verdict)
            for a in session.scalars(select(Adjudication))
        ]
    engine.dispose()
    pred = {(r["source"], r["source_record_id"]): r["mpi_id"] for r in rows}
    true_pairs = [
        (keys[a], keys[b], verdict) for a, b, verdict in gray if truth[keys[a]] == truth[keys[b]]
    ]
    oracle = _joined(pred, [(a, b) for a, b, _ in true_pairs])
    reviewed = _joined(pred, [(a, b) for a, b, verdict in true_pairs if verdict == "review"])
    decisions = Counter(r["match_result"] for r in rows)
    in_review = sum(verdict == "review" for _, _, verdict in gray)
    true_in_review = sum(verdict == "review" for _, _, verdict in true_pairs)
    return (
        pred,
        oracle,
        reviewed,
        {
            **decisions,
            "adjudications": len(gray),
            "review_pairs": in_review,
            "review_true_pairs": true_in_review,
        },
    )


def _joined(
    pred: dict[tuple[str, str], str], pairs: list[tuple[tuple[str, str], tuple[str, str]]]
) -> dict[tuple[str, str], str]:
    """`pred` with the clusters of each pair joined (transitively)."""
    parent = {mpi_id: mpi_id for mpi_id in pred.values()}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(pred[a])] = find(pred[b])
    return {key: find(mpi_id) for key, mpi_id in pred.items()}


def _bulk(url: str, data: Path) -> float:
    _, payloads = iter_payloads(data)
    engine = make_engine(url, pool_size=1)
    started = time.perf_counter()
    with unit_of_work(make_sessionmaker(engine)) as session:
        bulk_load(session, payloads=payloads, artifact=load())
    engine.dispose()
    return time.perf_counter() - started


def _online(url: str, data: Path) -> float:
    import httpx

    _, payloads = iter_payloads(data)
    started = time.perf_counter()
    with (
        _services(url) as (api, _),
        httpx.Client(
            base_url=api, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        ) as client,
    ):
        for payload in payloads:
            response = client.post("/records", json=payload)
            response.raise_for_status()
    return time.perf_counter() - started


def _threshold_clusters(
    pairs: list[dict[str, Any]], threshold: float, keys: list[str]
) -> dict[tuple[str, str], str]:
    """Splink alone: link every candidate pair at or above `threshold`, take the closure."""
    parent = {k: k for k in keys}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        if pair["match_probability"] >= threshold:
            parent[find(pair["unique_id_l"])] = find(pair["unique_id_r"])
    clusters = {}
    for key in keys:
        source, source_record_id = key.split(RECORD_KEY_SEPARATOR)
        clusters[(source, source_record_id)] = find(key)
    return clusters


def _splink_best_threshold(dev: Path, data: Path) -> dict[str, Any]:
    """ClinFuse's baseline, "Splink at its best threshold", with the threshold swept on the dev
    set (ClinFuse swept it on the test set itself)."""
    artifact = load()
    grid = [i / 100 for i in range(1, 100)]

    def run(folder: Path) -> tuple[list[dict[str, Any]], list[str], dict]:
        table = frame(read_records(folder))
        truth, _ = load_truth(folder / TRUTH_FILE)
        return predict_pairs(table, artifact.splink), table.column("unique_id").to_pylist(), truth

    dev_pairs, dev_keys, dev_truth = run(dev)
    best = max(
        grid,
        key=lambda t: evaluate(dev_truth, _threshold_clusters(dev_pairs, t, dev_keys))[
            "pairwise_f1"
        ],
    )
    pairs, keys, truth = run(data)
    return {"threshold": best, **evaluate(truth, _threshold_clusters(pairs, best, keys))}


def _tier_shares(data: Path) -> dict[str, Any]:
    artifact = load()
    pairs = predict_pairs(frame(read_records(data)), artifact.splink)
    tiers = Counter(artifact.thresholds.tier(p["match_probability"]) for p in pairs)
    total = max(sum(tiers.values()), 1)
    return {
        "candidate_pairs": total,
        **{f"{t}_share": round(tiers[t] / total, 4) for t in ("auto", "gray", "reject")},
    }


def main(
    dev: Annotated[
        Path | None,
        typer.Option(
            help="Dev set for the Splink-alone threshold sweep (never --data), e.g. the linker's"
            " training population (README, Linker); not used by --matrix"
        ),
    ] = None,
    data: Annotated[Path, typer.Option(help="Dataset folder with truth.parquet")] = Path(
        "data/eval"
    ),
    paths: Annotated[str, typer.Option(help="bulk, online or both")] = "bulk,online",
    server_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_SERVER_URL", help="Postgres server (admin URL)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    out: Annotated[Path | None, typer.Option(help="JSON results")] = None,
    matrix: Annotated[
        bool, typer.Option("--matrix", help="The evaluation matrix over many datasets")
    ] = False,
    rows: Annotated[
        str, typer.Option(help=f"--matrix rows, comma separated: {', '.join(ROW_NAMES)}")
    ] = ",".join(ROW_NAMES),
    model_source: Annotated[
        str, typer.Option(help="--matrix models: shipped (packaged), self (EM on the row)")
    ] = "shipped,self",
    online_sources: Annotated[
        str, typer.Option(help="--matrix model sources that also get the online replay")
    ] = "self",
    cache: Annotated[
        Path, typer.Option(help="--matrix dataset folders, built when missing")
    ] = Path("benchmarks/data"),
    sim_cache: Annotated[
        Path | None,
        typer.Option(
            help="--matrix: existing simulations, <population>/parts (read, never written);"
            " default: simulate into CACHE/sims"
        ),
    ] = None,
    redis_url: Annotated[
        str, typer.Option(envvar="MPI_BENCH_REDIS_URL", help="--matrix online: Redis broker")
    ] = "redis://127.0.0.1:6379/0",
) -> None:
    if matrix:
        run_matrix(
            rows=_choose(rows, ROW_NAMES, "--rows"),
            sources=_choose(model_source, SOURCES, "--model-source"),
            online_sources=_choose(online_sources, SOURCES, "--online-sources"),
            cache=cache,
            sim_cache=sim_cache,
            server_url=server_url,
            redis_url=redis_url,
            out=out or Path("benchmarks/results/accuracy_matrix.json"),
        )
        return
    if dev is None:
        raise typer.BadParameter("needed without --matrix", param_hint="--dev")
    out = out or Path("benchmarks/results/accuracy.json")
    truth, _ = load_truth(data / TRUTH_FILE)
    result: dict[str, Any] = {
        "benchmark": "accuracy",
        "data": str(data),
        "model_version": load().version,
        "tiers": _tier_shares(data),
        "splink_best_threshold_from_dev": _splink_best_threshold(dev, data),
        "runs": {},
    }
    for path in paths.split(","):
        url = _database(server_url, f"mpi_bench_accuracy_{path}")
        seconds = (_bulk if path == "bulk" else _online)(url, data)
        pred, oracle, _, decisions = _clusters_and_oracle(url, truth)
        result["runs"][path] = {
            "seconds": round(seconds, 1),
            "records_per_s": round(len(pred) / seconds, 1),
            "decisions": decisions,
            "splink": evaluate(truth, pred),
            "gray_zone_oracle": evaluate(truth, oracle),
        }
    table = Table(title=f"Accuracy on {data} (model {result['model_version']})")
    table.add_column("run")
    for metric in METRICS:
        table.add_column(metric.replace("pairwise_", "pw "))
    for path, run in result["runs"].items():
        for name in ("splink", "gray_zone_oracle"):
            values = run[name]
            table.add_row(
                f"{path}: {name}",
                *(
                    f"{values[m]:.4f}" if isinstance(values[m], float) else str(values[m])
                    for m in METRICS
                ),
            )
    baseline = result["splink_best_threshold_from_dev"]
    table.add_row(
        f"splink alone p>={baseline['threshold']} (dev)",
        *(
            f"{baseline[m]:.4f}" if isinstance(baseline[m], float) else str(baseline[m])
            for m in METRICS
        ),
    )
    console = Console()
    console.print(table)
    console.print(
        {
            "tiers": result["tiers"],
            **{
                p: {k: r[k] for k in ("seconds", "records_per_s", "decisions")}
                for p, r in result["runs"].items()
            },
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")


def _choose(value: str, allowed: tuple[str, ...], option: str) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise typer.BadParameter(
            f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}", param_hint=option
        )
    return chosen


MATRIX_COLUMNS = {
    "row": "row",
    "records": "records",
    "run": "run",
    "P": "precision",
    "R": "recall",
    "F1": "f1",
    "split patients": "split",
    "impure clusters": "impure",
    "review pairs (true)": "review",
    "F1 after review": "f1_reviewed",
    "blocking recall": "blocking_recall",
    "gray share": "gray_share",
    "seconds": "seconds",
    "error": "error",
}


def _save(out: Path, results: list[dict[str, Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": "accuracy_matrix", "results": results}
    out.write_text(json.dumps(document, indent=2) + "\n")


def run_matrix(
    *,
    rows: list[str],
    sources: list[str],
    online_sources: list[str],
    cache: Path,
    sim_cache: Path | None,
    server_url: str,
    redis_url: str,
    out: Path,
) -> None:
    """Every chosen row in turn; a row that fails is reported in the table and the JSON."""
    logging.getLogger("splink").setLevel(logging.WARNING)
    results: list[dict[str, Any]] = []
    for row in (r for r in ROWS if r.name in rows):
        try:
            run_row(
                row,
                results,
                cache=cache,
                sim_cache=sim_cache,
                sources=sources,
                online_sources=online_sources,
                server_url=server_url,
                redis_url=redis_url,
                saved=lambda: _save(out, results),
            )
        except RowUnavailable as error:
            results.append({"row": row.name, "error": str(error)})
        except Exception as error:
            # One row's failure (a crashed training, a service that did not start) must not
            # cost the rows after it.
            results.append({"row": row.name, "error": f"{type(error).__name__}: {error}"})
        Console().print({k: v for k, v in results[-1].items() if k != "metrics"})
    report(
        "accuracy_matrix",
        "Accuracy matrix (pairwise over the closure; blocking recall and gray share of the"
        " MPI model's candidate pairs)",
        MATRIX_COLUMNS,
        results,
        out,
    )


if __name__ == "__main__":
    typer.run(main)
