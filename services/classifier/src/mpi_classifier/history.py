"""A record's clinical history as the classifier reads it, from the store or a dataset folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mpi_store.models import ClinicalEvent

EVENT_TYPES: tuple[str, ...] = (
    "condition",
    "medication",
    "allergy",
    "observation",
    "procedure",
    "encounter",
    "immunization",
)


@dataclass(frozen=True)
class Event:
    type: str
    code: str | None
    display: str | None
    start: dt.date | None
    end: dt.date | None = None
    value_number: float | None = None
    value_text: str | None = None
    unit: str | None = None
    code_system: str | None = None

    @property
    def key(self) -> str:
        """What identifies the concept across facilities: its code, else its display text."""
        return f"{self.code_system or ''}|{self.code}" if self.code else f"text|{self.display}"


@dataclass(frozen=True)
class History:
    events: tuple[Event, ...]

    def of(self, event_type: str) -> list[Event]:
        return [e for e in self.events if e.type == event_type]

    @property
    def empty(self) -> bool:
        return not self.events


def from_rows(rows: Iterable[ClinicalEvent]) -> History:
    """From stored `clinical_event` rows."""
    return History(
        tuple(
            Event(
                type=row.type,
                code=row.code,
                display=row.display,
                start=row.start_date,
                end=row.end_date,
                value_number=row.value_number,
                value_text=row.value_text,
                unit=row.unit,
                code_system=row.code_system,
            )
            for row in rows
        )
    )


def from_dataset(rows: Iterable[Mapping[str, Any]]) -> History:
    """From `events.parquet` rows of a generated dataset (`date` or `start`/`end` columns)."""
    return History(
        tuple(
            Event(
                type=row["type"],
                code=row["code"],
                display=row["display"],
                start=row.get("start") or row.get("date"),
                end=row.get("end"),
                value_number=row.get("value"),
                value_text=row.get("value_text"),
                unit=row.get("unit"),
                code_system=row.get("code_system"),
            )
            for row in rows
        )
    )
