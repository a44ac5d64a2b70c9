"""FHIR Patient in and out: a validated Patient as our record contract, a golden record as a
Patient."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from fhir.resources.R4B.patient import Patient
from pydantic import BaseModel, ValidationError

from mpi_api.fhir.outcome import FhirError
from mpi_store.domain.contracts import RecordCreate
from mpi_store.fhir_convert import SSN_SYSTEM, demographics
from mpi_store.models import GoldenRecord, Link, SourceRecord

M = TypeVar("M", bound=BaseModel)
# A source with no configured MRN system is still named by this system in what we answer.
SOURCE_SYSTEM_PREFIX = "urn:mpi:source:"
# fhir.resources types `gender` as a free code; R4 binds it to administrative-gender (required).
GENDERS = frozenset({"male", "female", "other", "unknown"})
# Where each field of our contract comes from in a Patient.
FIELD_PATHS = {
    "source": "Patient.identifier",
    "source_record_id": "Patient.identifier",
    "given_name": "Patient.name.given",
    "middle_name": "Patient.name.given",
    "family_name": "Patient.name.family",
    "birth_date": "Patient.birthDate",
    "sex": "Patient.gender",
    "address_line1": "Patient.address.line",
    "address_line2": "Patient.address.line",
    "city": "Patient.address.city",
    "state": "Patient.address.state",
    "postcode": "Patient.address.postalCode",
    "country": "Patient.address.country",
    "phone": "Patient.telecom",
    "email": "Patient.telecom",
    "ssn": "Patient.identifier",
    "identifiers": "Patient.identifier",
}


def resource_id(mpi_id: str) -> str:
    """A FHIR id may not hold `_` (`[A-Za-z0-9-.]{1,64}`); our `mpi_<hex>` ids read `mpi-<hex>`."""
    return mpi_id.replace("_", "-")


def mpi_id_of(resource_id: str) -> str:
    return resource_id.replace("-", "_")


def fhir_path(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """`('name', 0, 'given', 0)` -> `Patient.name[0].given[0]`."""
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validated(model: type[M], body: dict[str, Any], expression: str) -> M:
    """`body` as the FHIR `model`; a refusal names the element (`Patient.birthDate`)."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise invalid_element(error, expression) from None
    except (KeyError, TypeError):
        # fhir.resources looks a nested resource's model up by its resourceType (`contained`,
        # `Bundle.entry.resource`) and raises these, not a ValidationError, for an unknown
        # type or one that is not a string.
        raise FhirError(
            422, "a nested resource has an unknown resourceType", expression=expression
        ) from None


def invalid_element(error: ValidationError, resource_type: str) -> FhirError:
    """The 422 naming the first element a FHIR model refused (`Patient.birthDate`).

    An unknown element is named by its parent: its key is the sender's text, and a client that
    misplaces a value (`{"Gonzalez": ...}`) would otherwise see it echoed.
    """
    first = error.errors()[0]
    loc = tuple(first["loc"])
    if first["type"] == "extra_forbidden":
        return FhirError(422, "unknown element", expression=fhir_path(resource_type, loc[:-1]))
    return FhirError(
        422, f"invalid element ({first['type']})", expression=fhir_path(resource_type, loc)
    )


def parse_patient(body: object, expression: str = "Patient") -> Patient:
    """The body as a validated R4 Patient; refusals name the element (`Patient.birthDate`)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Patient":
        raise FhirError(400, "expected a Patient resource", expression=f"{expression}.resourceType")
    patient = validated(Patient, body, expression)
    if patient.gender is not None and patient.gender not in GENDERS:
        raise FhirError(
            422, "gender must be male, female, other or unknown", expression=f"{expression}.gender"
        )
    return patient


def source_key(system: str, value: str, mrn_systems: Mapping[str, str]) -> tuple[str, str] | None:
    """`(source, source_record_id)` of a facility MRN identifier, or None for another system."""
    if system in mrn_systems:
        return mrn_systems[system], value
    if system.startswith(SOURCE_SYSTEM_PREFIX) and len(system) > len(SOURCE_SYSTEM_PREFIX):
        return system.removeprefix(SOURCE_SYSTEM_PREFIX), value
    return None


def source_system(source: str, mrn_systems: Mapping[str, str]) -> str:
    return next(
        (system for system, named in mrn_systems.items() if named == source),
        f"{SOURCE_SYSTEM_PREFIX}{source}",
    )


def to_record(
    patient: Patient,
    *,
    mrn_systems: Mapping[str, str],
    clinical: dict[str, Any] | None = None,
    expression: str = "Patient",
    key: tuple[str, str] | None = None,
) -> RecordCreate:
    """Our record contract from a Patient: its MRN identifier names the record (unless `key`
    does: a `$match` query is no facility's record)."""
    raw = patient.model_dump(mode="json", by_alias=True, exclude_none=True)
    identifiers = [
        (i["system"], i["value"])
        for i in raw.get("identifier", [])
        if "system" in i and "value" in i
    ]
    keys = {key} if key else {k for s, v in identifiers if (k := source_key(s, v, mrn_systems))}
    if len(keys) != 1:
        raise FhirError(
            422,
            "exactly one identifier must use a facility MRN system"
            + (" (none does)" if not keys else f" ({len(keys)} do)"),
            expression=f"{expression}.identifier",
        )
    ((source, source_record_id),) = keys
    found = demographics(raw)
    fields = {k: v for k, v in found.items() if k != "maiden_name"}
    try:
        return RecordCreate.model_validate(
            {
                "source": source,
                "source_record_id": source_record_id,
                **fields,
                "identifiers": [
                    {"system": s, "value": v} for s, v in identifiers if s != SSN_SYSTEM
                ],
                "clinical": clinical,
            }
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0])
        raise FhirError(
            422,
            f"invalid element ({first['type']})",
            expression=FIELD_PATHS.get(field, expression).replace("Patient", expression, 1),
        ) from None


def golden_patient(
    golden: GoldenRecord,
    members: list[tuple[SourceRecord, Link]],
    *,
    mrn_systems: Mapping[str, str],
) -> dict[str, Any]:
    """An active golden record as a Patient, `seealso` linking each of its source records."""
    values = {**golden.attributes, **(golden.override or {})}
    given = [v for v in (values.get("given_name"), values.get("middle_name")) if v]
    name = {k: v for k, v in (("family", values.get("family_name")), ("given", given)) if v}
    lines = [v for v in (values.get("address_line1"), values.get("address_line2")) if v]
    address = {
        key: values[field]
        for key, field in (
            ("city", "city"),
            ("state", "state"),
            ("postalCode", "postcode"),
            ("country", "country"),
        )
        if values.get(field)
    }
    if lines:
        address["line"] = lines
    telecom = [
        {"system": system, "value": values[field]}
        for system, field in (("phone", "phone"), ("email", "email"))
        if values.get(field)
    ]
    identifiers = [{"system": "urn:mpi:mpi-id", "value": golden.mpi_id}]
    identifiers += [dict(i) for i in values.get("identifiers", [])]
    if values.get("ssn"):
        identifiers.append({"system": SSN_SYSTEM, "value": values["ssn"]})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": resource_id(golden.mpi_id),
        "meta": {"versionId": str(golden.version), "lastUpdated": golden.updated_at.isoformat()},
        "active": True,
        "identifier": identifiers,
        "name": [name] if name else None,
        "telecom": telecom or None,
        "gender": values.get("sex"),
        "birthDate": values.get("birth_date"),
        "address": [address] if address else None,
        "link": [
            {
                "type": "seealso",
                "other": {
                    "type": "Patient",
                    "identifier": {
                        "system": source_system(record.source, mrn_systems),
                        "value": record.source_record_id,
                    },
                },
            }
            for record, _ in members
        ]
        or None,
    }
    return _valid({k: v for k, v in resource.items() if v is not None})


def replaced_patient(golden: GoldenRecord, survivor: GoldenRecord) -> dict[str, Any]:
    """A merged golden record: inactive, `replaced-by` its survivor."""
    return _valid(
        {
            "resourceType": "Patient",
            "id": resource_id(golden.mpi_id),
            "active": False,
            "link": [
                {
                    "type": "replaced-by",
                    "other": {"reference": f"Patient/{resource_id(survivor.mpi_id)}"},
                }
            ],
        }
    )


def _valid(resource: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = Patient.model_validate(resource).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return answer
