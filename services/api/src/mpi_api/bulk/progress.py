"""What a bulk load or relink reports while it runs: records stored, pairs scored, records
decided, links written. The `mpi bulk-load` command draws these as progress bars."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol


class Step(StrEnum):
    STORED = "records stored"
    SCORED = "blocked pairs scored"
    DECIDED = "records decided"
    WRITTEN = "links written"


class Progress(Protocol):
    def begin(self, step: Step, total: int) -> None:
        """`step` starts, with `total` units to do."""

    def advance(self, step: Step, amount: int) -> None:
        """`amount` more units of `step` are done."""


class Silent:
    """No report (the default, and what tests and the benchmarks use)."""

    def begin(self, step: Step, total: int) -> None:
        pass

    def advance(self, step: Step, amount: int) -> None:
        pass


class Bars:
    """Each step as a progress bar on the console (stderr), from its start to its total."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress as RichProgress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bars = RichProgress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._tasks: dict[Step, Any] = {}

    def __enter__(self) -> Bars:
        self._bars.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._bars.stop()

    def begin(self, step: Step, total: int) -> None:
        self._tasks[step] = self._bars.add_task(str(step), total=total or None)

    def advance(self, step: Step, amount: int) -> None:
        self._bars.advance(self._tasks[step], amount)
