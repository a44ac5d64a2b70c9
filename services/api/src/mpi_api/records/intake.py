"""Reading a posted record: strict, or lenient for the keys and sources configured so.

Strict (the default): any invalid field refuses the record whole (422 naming each field).
Lenient (`mpi keys create --lenient`, or a source in `MPI_API_LENIENT_SOURCES`): when every
invalid field is an optional demographic one (a birth date `1942-06-58`, a malformed SSN), the
record is stored with those fields null, their values kept as received on the record (never
logged), linked on the rest, and the answer lists each dropped field in `warnings`. An invalid
key, identifier or clinical item still refuses the record: dropping it would change what the
record is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from mpi_api.auth.service import Principal
from mpi_api.responses import FieldProblem
from mpi_api.settings import Settings
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, RecordCreate

DROPPABLE = frozenset(DEMOGRAPHIC_FIELDS)


@dataclass(frozen=True)
class Intake:
    record: RecordCreate
    # Each dropped field's value as received (made storable), and why it was dropped.
    dropped: dict[str, Any] = field(default_factory=dict)
    warnings: list[FieldProblem] = field(default_factory=list)


def is_lenient(principal: Principal, settings: Settings, body: dict[str, Any]) -> bool:
    return principal.lenient or body.get("source") in settings.lenient_sources


def read_record(body: dict[str, Any], *, lenient: bool) -> Intake:
    """The record in `body`, or `RequestValidationError` naming each invalid field."""
    try:
        return Intake(RecordCreate.model_validate(body))
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False, include_context=False)
    fields = {_top_field(problem) for problem in problems}
    if not lenient or not fields <= DROPPABLE:
        raise RequestValidationError([{**p, "loc": ("body", *p["loc"])} for p in problems])
    record = RecordCreate.model_validate({k: v for k, v in body.items() if k not in fields})
    return Intake(
        record,
        dropped={name: storable(body[name]) for name in sorted(fields)},
        warnings=[
            FieldProblem(field=_top_field(p), type=p["type"], message=p["msg"]) for p in problems
        ],
    )


def _top_field(problem: Any) -> str:
    location = problem["loc"]
    return str(location[0]) if location else ""


def storable(value: Any) -> Any:
    """`value` as JSONB can hold it: NUL bytes and lone surrogates escaped, NaN and infinities
    as text."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(str(key)): storable(item) for key, item in value.items()}
    return value
