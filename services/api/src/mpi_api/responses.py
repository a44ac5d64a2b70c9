"""The error body every route answers with, as the OpenAPI document shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path: `birth_date`, `clinical.conditions.0.onset`")
    type: str
    message: str


class ErrorRead(BaseModel):
    """`{"error": ..., "detail": ...}`: the error's class and what went wrong (ids and field
    names only, never a submitted value)."""

    error: str = Field(description="`InvalidRecord`, `InvalidRequest`, `RecordNotFound`, ...")
    detail: str | list[FieldProblem]


class StaleVersionRead(ErrorRead):
    """`409 StaleVersion`: the write named a version that is no longer current."""

    current_version: int


_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}

COMMON = {
    401: "Missing or unknown API key",
    403: "Key lacks the scope (or may not write this source)",
    422: "Invalid input: `InvalidRecord` (body) or `InvalidRequest` (path or query); `detail` "
    "names each field",
    503: "A dependency is unavailable (the database restarting, or a deadlock rolled the "
    "transaction back): nothing was committed; retry after `Retry-After`",
}


def error_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the error body (and a 503 with
    its `Retry-After`)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code, description in {**COMMON, **descriptions}.items():
        responses[code] = {"model": ErrorRead, "description": description}
        if code == 503:
            responses[code]["headers"] = _RETRY_AFTER
    return responses


class MergeConflictRead(ErrorRead):
    """`409 MergeConflict`: the two patients' records disagree (fields and record keys only);
    a `Conflict` (the patient merged while the request waited) has no `conflicts`."""

    conflicts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="`{field, system, records: [{source, source_record_id}, ...]}` each",
    )
