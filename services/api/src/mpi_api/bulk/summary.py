"""The table `mpi bulk-load` ends with: what was loaded or relinked, how fast, at what memory."""

from __future__ import annotations

import resource
from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from mpi_api.bulk import BulkReport
from mpi_api.bulk.relink import RelinkReport


def load_summary(report: BulkReport, seconds: float) -> None:
    _print(
        "Bulk load",
        {
            "records loaded": report.records,
            "patients": report.golden_records,
            "pairs at or above the reject bound": report.candidate_pairs,
            **_decisions(report.match_results),
            "seconds": round(seconds, 1),
            "records/s": round(report.records / max(seconds, 1e-9)),
            "peak memory (MiB)": _peak_mib(),
        },
    )


def relink_summary(report: RelinkReport, seconds: float) -> None:
    _print(
        "Relink",
        {
            "records relinked": report.records,
            "links changed": report.links_changed,
            "patients": report.patients,
            "patients that kept their mpi_id": report.patients_kept,
            "patients new": report.patients_created,
            "patients redirected": report.patients_redirected,
            "gray pairs queued": report.gray_pairs,
            **_decisions(report.match_results),
            "MANUAL links kept": report.manual_links_kept,
            "MANUAL links disputed (GET /links?disputed=true)": report.manual_disagreements,
            "seconds": round(seconds, 1),
            "peak memory (MiB)": _peak_mib(),
        },
    )


def _decisions(match_results: Mapping[str, int]) -> dict[str, int]:
    return {f"decided {result}": count for result, count in sorted(match_results.items())}


def _peak_mib() -> int:
    """This process's peak resident memory (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _print(title: str, rows: Mapping[str, object]) -> None:
    table = Table(title=title)
    table.add_column("")
    table.add_column("", justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    Console().print(table)
