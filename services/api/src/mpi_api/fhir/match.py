"""`Patient/$match` (PDQm ITI-119): the linker's dry run over a query Patient, graded
(`mpi_api.patients.ranking`). `search.score` is the Splink match probability of the patient's
best-scoring record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.parameters import Parameters
from sqlalchemy.orm import Session

from mpi_api.fhir.outcome import FhirError
from mpi_api.fhir.patient import golden_patient, parse_patient, to_record, validated
from mpi_api.patients.ranking import QUERY_KEY, rank_patients
from mpi_api.records.matching import LinkerMatcher

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
DEFAULT_COUNT = 10
MAX_COUNT = 100


def parse_query(body: object) -> tuple[dict[str, Any], bool, int]:
    """(the query Patient as raw JSON, onlyCertainMatches, count) of a `Parameters` body."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError(400, "expected a Parameters resource", expression="Parameters.resourceType")
    listed = body.get("parameter")
    for position, parameter in enumerate(listed if isinstance(listed, list) else []):
        # Only a Patient is a query: say so before the model looks another type up.
        if not isinstance(parameter, dict) or "resource" not in parameter:
            continue
        given = parameter["resource"]
        if not isinstance(given, dict) or given.get("resourceType") != "Patient":
            raise FhirError(
                400,
                "expected a Patient resource",
                expression=f"Parameters.parameter[{position}].resource.resourceType",
            )
    validated(Parameters, {**body, "parameter": listed or None}, "Parameters")
    resource: tuple[int, dict[str, Any]] | None = None
    only_certain, count = False, DEFAULT_COUNT
    for position, parameter in enumerate(body.get("parameter") or []):
        name = parameter.get("name")
        where = f"Parameters.parameter[{position}]"
        if name == "resource" and resource is None:
            resource = (position, parameter.get("resource"))
        elif name == "onlyCertainMatches" and isinstance(parameter.get("valueBoolean"), bool):
            only_certain = parameter["valueBoolean"]
        elif name == "count" and isinstance(parameter.get("valueInteger"), int):
            count = parameter["valueInteger"]
            if not 1 <= count <= MAX_COUNT:
                raise FhirError(422, f"count must be 1 to {MAX_COUNT}", expression=where)
        else:
            raise FhirError(422, "unsupported or repeated parameter", expression=where)
    if resource is None:
        raise FhirError(422, "a resource parameter is required", expression="Parameters.parameter")
    return {"position": resource[0], "patient": resource[1]}, only_certain, count


def match_patient(
    session: Session,
    *,
    body: object,
    matcher: LinkerMatcher,
    mrn_systems: Mapping[str, str],
) -> dict[str, Any]:
    """A searchset Bundle of golden Patients graded against the query; nothing is written."""
    query, only_certain, count = parse_query(body)
    where = f"Parameters.parameter[{query['position']}].resource"
    record = to_record(
        parse_patient(query["patient"], expression=where),
        mrn_systems=mrn_systems,
        expression=where,
        key=QUERY_KEY,
    )
    ranked = rank_patients(
        session, record=record, matcher=matcher, count=count, only_certain=only_certain
    )
    entries = []
    for found in ranked:
        patient = golden_patient(found.golden, found.members, mrn_systems=mrn_systems)
        entries.append(
            {
                "fullUrl": f"Patient/{patient['id']}",
                "resource": patient,
                "search": {
                    "extension": [{"url": MATCH_GRADE, "valueCode": found.grade}],
                    "mode": "match",
                    "score": round(found.probability, 6),
                },
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
