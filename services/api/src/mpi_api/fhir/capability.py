"""`GET /fhir/metadata`: the CapabilityStatement of exactly what `/fhir` implements."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from mpi_api.fhir.bundle import CLINICAL_TYPES


def capability_statement(version: str) -> dict[str, Any]:
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-02",
        "kind": "instance",
        "software": {"name": "Master Patient Index", "version": version},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": "transaction"}],
                "resource": [
                    {
                        "type": "Patient",
                        "interaction": [
                            {"code": "read"},
                            {"code": "create"},
                            {"code": "update"},
                            {"code": "search-type"},
                        ],
                        "conditionalCreate": False,
                        "conditionalUpdate": True,
                        "updateCreate": True,
                        "searchParam": [{"name": "identifier", "type": "token"}],
                        "operation": [
                            {
                                "name": "match",
                                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match",
                            },
                            {
                                "name": "ihe-pix",
                                "definition": "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix",
                            },
                        ],
                    },
                    *({"type": kind} for kind in sorted(CLINICAL_TYPES)),
                ],
            }
        ],
    }
    answer: dict[str, Any] = CapabilityStatement.model_validate(statement).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return answer
