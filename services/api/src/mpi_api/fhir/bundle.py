"""`POST /fhir` transaction Bundles: one Patient and its clinical resources, stored as one record
with its clinical history (the Synthea conversion's mapping), in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.orm import Session

from mpi_api.auth.service import Principal
from mpi_api.fhir.outcome import FhirError
from mpi_api.fhir.patient import parse_patient, to_record, validated
from mpi_api.records.matching import LinkerMatcher
from mpi_api.records.service import IngestResult, ingest_record
from mpi_store.domain.contracts import clinical_payload
from mpi_store.fhir_convert import event_row, resource_events

# The resources `fhir_convert` reads, and the element naming their patient.
CLINICAL_TYPES = {
    "AllergyIntolerance": "patient",
    "Condition": "subject",
    "Encounter": "subject",
    "Immunization": "patient",
    "MedicationAdministration": "subject",
    "MedicationRequest": "subject",
    "Observation": "subject",
    "Procedure": "subject",
}


def ingest_transaction(
    session: Session,
    *,
    body: object,
    matcher: LinkerMatcher,
    principal: Principal,
    mrn_systems: Mapping[str, str],
) -> tuple[IngestResult, list[dict[str, Any]]]:
    """Store the bundle's Patient with its clinical history; refuse the whole bundle (nothing
    written) if any entry is unsupported or invalid. Returns the result and the entries."""
    entries = _validate(body)
    patients = [i for i, e in enumerate(entries) if e["resource"]["resourceType"] == "Patient"]
    if len(patients) != 1:
        raise FhirError(422, "a transaction holds exactly one Patient", expression="Bundle.entry")
    (position,) = patients
    patient_url = entries[position].get("fullUrl")
    events = []
    for index, entry in enumerate(entries):
        resource = entry["resource"]
        kind = resource["resourceType"]
        where = f"Bundle.entry[{index}].resource"
        if kind == "Patient":
            continue
        if kind not in CLINICAL_TYPES:
            raise FhirError(422, "unsupported resource type", expression=where)
        if kind == "Encounter" and "id" not in resource:
            # A transaction's resources need no id: its entries name an Encounter by fullUrl,
            # which `fhir_convert` reads as it reads their references (`urn:uuid:` dropped).
            full_url = entry.get("fullUrl")
            resource = {**resource, "id": full_url.removeprefix("urn:uuid:") if full_url else None}
        element = CLINICAL_TYPES[kind]
        if patient_url is None or (resource.get(element) or {}).get("reference") != patient_url:
            raise FhirError(
                422,
                "must reference the bundle's Patient by its fullUrl",
                expression=f"{where}.{element}",
            )
        events.extend(resource_events(resource))
    where = f"Bundle.entry[{position}].resource"
    record = to_record(
        parse_patient(entries[position]["resource"], expression=where),
        mrn_systems=mrn_systems,
        clinical=clinical_payload([event_row(e) for e in events]),
        expression=where,
    )
    principal.require_source(record.source)
    return ingest_record(session, record=record, matcher=matcher), entries


def _validate(body: object) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise FhirError(400, "expected a Bundle resource", expression="Bundle.resourceType")
    if body.get("type") != "transaction":
        raise FhirError(422, "only transaction Bundles are accepted", expression="Bundle.type")
    listed = body.get("entry")
    # Unsupported types first: the library would otherwise report an element inside one.
    for index, entry in enumerate(listed if isinstance(listed, list) else []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise FhirError(
                422, "every entry needs a resource", expression=f"Bundle.entry[{index}]"
            )
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or kind not in {"Patient", *CLINICAL_TYPES}:
            raise FhirError(
                422, "unsupported resource type", expression=f"Bundle.entry[{index}].resource"
            )
    validated(Bundle, body, "Bundle")
    entries: list[dict[str, Any]] = listed or []
    return entries


def transaction_response(
    result: IngestResult, entries: list[dict[str, Any]], patient_id: str
) -> dict[str, Any]:
    """One response entry per request entry; the Patient's says where its golden record is."""
    status = "201 Created" if result.created else "200 OK"
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {
                "response": (
                    {"status": status, "location": f"Patient/{patient_id}"}
                    if entry["resource"]["resourceType"] == "Patient"
                    else {"status": status}
                )
            }
            for entry in entries
        ],
    }
