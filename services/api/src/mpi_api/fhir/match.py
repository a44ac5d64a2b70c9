"""`Patient/$match` (PDQm ITI-119): the linker's dry run over a query Patient, graded.

Grades (http://hl7.org/fhir/StructureDefinition/match-grade) from our decision tiers:
`certain` is the one patient `POST /records` would auto-link the record to (the only patient in
the auto tier, no guard firing); `probable` is any other patient in the auto tier (several, or
a guard fired); `possible` the gray zone (what adjudication reviews); `certainly-not` below it.
`search.score` is the Splink match probability of the patient's best-scoring record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.parameters import Parameters
from sqlalchemy.orm import Session

from mpi_api.fhir.outcome import FhirError
from mpi_api.fhir.patient import golden_patient, parse_patient, to_record, validated
from mpi_api.records.matching import LinkerMatcher
from mpi_api.records.service import event_rows, record_row
from mpi_linker.features import blocking_keys, features
from mpi_store.contracts import DEMOGRAPHIC_FIELDS
from mpi_store.enums import MatchResult
from mpi_store.repositories import GoldenRecordRepository, LinkRepository

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
# The query is no facility's record: a key no source uses keeps the guards' same-source rule out.
QUERY_KEY = ("$match", "query")
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
    linker_features = features(record.model_dump(include=set(DEMOGRAPHIC_FIELDS)))
    keys = blocking_keys(linker_features, event_rows(record))
    scored, decision = matcher.score(
        session, record=record_row(record), features=linker_features, blocking_keys=keys
    )
    certain = decision.golden_record_id if decision.match_result == MatchResult.MATCH else None
    best: dict[int, dict[str, Any]] = {}
    for candidate in scored["candidates"]:  # best first
        best.setdefault(candidate["golden_record_id"], candidate)
    graded = [
        (grade(candidate, certain), candidate["match_probability"], golden_id)
        for golden_id, candidate in best.items()
    ]
    if only_certain:
        graded = [g for g in graded if g[0] == "certain"][:1]
    graded = graded[:count]
    goldens = GoldenRecordRepository(session)
    links = LinkRepository(session)
    entries = []
    for match_grade, score, golden_id in graded:
        golden = goldens.survivor(goldens.get(golden_id))
        patient = golden_patient(
            golden, links.records_of_golden(golden.id), mrn_systems=mrn_systems
        )
        entries.append(
            {
                "fullUrl": f"Patient/{patient['id']}",
                "resource": patient,
                "search": {
                    "extension": [{"url": MATCH_GRADE, "valueCode": match_grade}],
                    "mode": "match",
                    "score": round(score, 6),
                },
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def grade(candidate: dict[str, Any], certain: int | None) -> str:
    if candidate["golden_record_id"] == certain:
        return "certain"
    return {"auto": "probable", "gray": "possible"}.get(candidate["tier"], "certainly-not")
