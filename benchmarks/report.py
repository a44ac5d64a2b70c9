"""What every benchmark ends with: a table on the console and the results as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def report(
    benchmark: str,
    title: str,
    columns: Mapping[str, str],
    results: Sequence[Mapping[str, Any]],
    out: Path,
) -> None:
    """`columns` maps each column heading to the result key it shows."""
    table = Table(title=title)
    for name in columns:
        table.add_column(name)
    for row in results:
        table.add_row(*(str(row.get(key, "")) for key in columns.values()))
    Console().print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": benchmark, "results": results}, indent=2) + "\n")
