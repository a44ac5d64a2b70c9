"""Refusals under `/fhir` as OperationOutcome resources: the FHIR path of the bad element, never
its value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from mpi_store.domain.errors import DependencyUnavailable, MPIError

PREFIX = "/fhir"
MEDIA_TYPE = "application/fhir+json"

# FHIR issue-type codes (http://hl7.org/fhir/issue-type) for our statuses.
_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "multiple-matches",
    413: "too-costly",
    422: "processing",
    503: "transient",
}


def is_fhir_path(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


class IssueRead(BaseModel):
    severity: str
    code: str = Field(description="http://hl7.org/fhir/issue-type")
    diagnostics: str
    expression: list[str] | None = Field(
        default=None, description="FHIR path of the bad element: `Patient.birthDate`"
    )


class OperationOutcomeRead(BaseModel):
    """Every refusal under `/fhir` (element paths only, never a submitted value)."""

    resourceType: str = "OperationOutcome"
    issue: list[IssueRead]


def outcome_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a `/fhir` route: these statuses, each an OperationOutcome."""
    common = {
        400: "Body is not JSON, or a search parameter is missing or malformed",
        401: "Missing or unknown API key",
        403: "Key lacks the scope (or may not write this source)",
        422: "The resource is invalid; `expression` names the element",
    }
    return {
        code: {"model": OperationOutcomeRead, "description": description}
        for code, description in {**common, **descriptions}.items()
    }


class FhirError(MPIError):
    """A refusal naming the FHIR path (`Patient.birthDate`) of what is wrong."""

    def __init__(self, status_code: int, detail: str, *, expression: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.expression = expression


def issue(status_code: int, diagnostics: str, expression: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "severity": "error",
        "code": _CODES.get(status_code, "exception"),
        "diagnostics": diagnostics,
    }
    if expression is not None:
        found["expression"] = [expression]
    return found


def outcome_response(
    status_code: int, issues: list[dict[str, Any]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"resourceType": "OperationOutcome", "issue": issues},
        status_code=status_code,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def error_outcome(error: Exception) -> JSONResponse:
    """The OperationOutcome of any error the app's handlers see on a `/fhir` route."""
    if isinstance(error, FhirError):
        return outcome_response(
            error.status_code, [issue(error.status_code, error.detail, error.expression)]
        )
    if isinstance(error, MPIError):
        headers = {"Retry-After": "5"} if isinstance(error, DependencyUnavailable) else None
        return outcome_response(
            error.status_code, [issue(error.status_code, error.detail)], headers
        )
    if isinstance(error, RequestValidationError):
        # Routes take the body as any JSON, so only an unparsable body or a bad query
        # parameter gets here: name it, never what was sent.
        issues = [
            issue(400, "body is not JSON")
            if item["loc"][:1] == ("body",)
            else issue(400, f"invalid parameter ({item['type']})", str(item["loc"][-1]))
            for item in error.errors()
        ]
        return outcome_response(400, issues)
    assert isinstance(error, HTTPException)
    return outcome_response(
        error.status_code, [issue(error.status_code, str(error.detail))], error.headers
    )
