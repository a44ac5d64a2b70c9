"""A drill check's outcome, and the drill's table and JSON report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Check:
    """One check: `failures` names each broken expectation (empty: passed)."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    scope: str = ""  # which part of the check this profile ran

    @property
    def passed(self) -> bool:
        return not self.failures

    def expect(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)


def print_table(checks: list[Check], console: Console) -> None:
    table = Table(title="mpi drill")
    for column in ("check", "result", "figures", "ran"):
        table.add_column(column, overflow="fold")
    for check in checks:
        figures = ", ".join(f"{k}={v}" for k, v in check.figures.items())
        result = "[green]pass[/]" if check.passed else "[red]FAIL[/]: " + "; ".join(check.failures)
        table.add_row(check.name, result, figures, check.scope)
    console.print(table)


def write_json(checks: list[Check], *, profile: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "profile": profile,
        "passed": all(c.passed for c in checks),
        "checks": [{**asdict(c), "passed": c.passed} for c in checks],
    }
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
