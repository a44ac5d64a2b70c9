"""Mapping between the contract's `clinical` object and `clinical_event` rows."""

from __future__ import annotations

from typing import Any

from mpi_store.domain.contracts import Clinical
from mpi_store.models import ClinicalEvent

# contract list -> (event type, contract field for start_date, contract field for end_date)
_LISTS: dict[str, tuple[str, str | None, str | None]] = {
    "conditions": ("condition", "onset", "abatement"),
    "medications": ("medication", "start", "stop"),
    "allergies": ("allergy", "onset", None),
    "observations": ("observation", "date", None),
    "procedures": ("procedure", "date", None),
    "encounters": ("encounter", "start", "end"),
    "immunizations": ("immunization", "date", None),
}


def to_rows(clinical: Clinical | None) -> list[dict[str, Any]]:
    if clinical is None:
        return []
    rows: list[dict[str, Any]] = []
    for list_name, (event_type, start_field, end_field) in _LISTS.items():
        for item in getattr(clinical, list_name):
            value = getattr(item, "value", None)
            rows.append(
                {
                    "type": event_type,
                    "code_system": item.code_system,
                    "code": item.code,
                    "display": item.display,
                    "start_date": getattr(item, start_field) if start_field else None,
                    "end_date": getattr(item, end_field) if end_field else None,
                    "value_number": value if isinstance(value, float) else None,
                    "value_text": value if isinstance(value, str) else None,
                    "unit": getattr(item, "unit", None),
                    "category": getattr(item, "type", None),
                }
            )
    return rows


def to_clinical(events: list[ClinicalEvent]) -> Clinical:
    lists: dict[str, list[dict[str, Any]]] = {name: [] for name in _LISTS}
    by_type = {event_type: (name, s, e) for name, (event_type, s, e) in _LISTS.items()}
    for event in events:
        list_name, start_field, end_field = by_type[event.type]
        item: dict[str, Any] = {
            "code_system": event.code_system,
            "code": event.code,
            "display": event.display,
        }
        if start_field:
            item[start_field] = event.start_date
        if end_field:
            item[end_field] = event.end_date
        if event.type == "observation":
            value = event.value_number if event.value_number is not None else event.value_text
            item["value"] = value
            item["unit"] = event.unit
        if event.type == "encounter":
            item["type"] = event.category
        lists[list_name].append(item)
    return Clinical.model_validate(lists)
