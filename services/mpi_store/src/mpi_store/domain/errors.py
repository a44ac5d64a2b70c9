"""The MPI's one error hierarchy; HTTP errors carry their status code.

MPIError
├── ConfigurationError    (a setting is missing or invalid; names the variable, never its value)
├── InvalidInput (422)    (a command's file or option is unusable; the CLI exits 2 naming it)
│   └── InvalidRecord     (a record's fields: a body `POST /records` refuses, or a bulk load's
│                          record, by position and key; fields named, never their values)
├── NotFound (404)
│   ├── PatientNotFound
│   ├── RecordNotFound
│   ├── AdjudicationNotFound
│   ├── EventNotFound
│   └── LinkNotFound
├── Unauthorized (401)
├── Forbidden (403)
├── Conflict (409)
│   ├── StaleVersion      (a write named a version that is no longer current; carries it)
│   └── MergeConflict     (two patients' records disagree; carries the fields and record keys)
├── PayloadTooLarge (413)
├── InternalError (500)   (anything unexpected; logged by type and request id only)
└── DependencyUnavailable (503)
    ├── ClassifierUnavailable  (the classifier backend failed; adjudication retries)
    ├── LinkerUnavailable      (the linker did not answer in time; nothing was written)
    └── DatabaseUnavailable    (a deadlock, serialization failure or restart; retry the request)

Messages name fields and ids only, never demographic values.
"""

from __future__ import annotations


class MPIError(Exception):
    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, object]:
        """The error body every HTTP answer renders."""
        return {"error": type(self).__name__, "detail": self.detail}


class ConfigurationError(MPIError):
    pass


class InvalidInput(MPIError):
    status_code = 422


class InvalidRecord(InvalidInput):
    pass


class NotFound(MPIError):
    status_code = 404


class PatientNotFound(NotFound):
    pass


class RecordNotFound(NotFound):
    pass


class AdjudicationNotFound(NotFound):
    pass


class EventNotFound(NotFound):
    pass


class LinkNotFound(NotFound):
    pass


class Unauthorized(MPIError):
    status_code = 401


class Forbidden(MPIError):
    status_code = 403


class Conflict(MPIError):
    status_code = 409


class StaleVersion(Conflict):
    def __init__(self, detail: str, *, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version

    def body(self) -> dict[str, object]:
        return {**super().body(), "current_version": self.current_version}


class MergeConflict(Conflict):
    def __init__(self, detail: str, *, conflicts: list[dict[str, object]]) -> None:
        super().__init__(detail)
        self.conflicts = conflicts

    def body(self) -> dict[str, object]:
        return {**super().body(), "conflicts": self.conflicts}


class PayloadTooLarge(MPIError):
    status_code = 413


class InternalError(MPIError):
    status_code = 500


class DependencyUnavailable(MPIError):
    status_code = 503


class ClassifierUnavailable(DependencyUnavailable):
    pass


class LinkerUnavailable(DependencyUnavailable):
    pass


class DatabaseUnavailable(DependencyUnavailable):
    pass
