"""Converts FHIR R4 resources into our demographics and clinical events (Synthea bundles and
the api's FHIR interface share this one mapping)."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
MAX_TEXT = 200
# Coded answers are survey items (social needs, some of which restate the address) except
# smoking status, which summaries show next to the vitals.
CODED_OBSERVATIONS_KEPT = frozenset({"72166-2"})

EVENT_TYPES: tuple[str, ...] = (
    "condition",
    "medication",
    "allergy",
    "observation",
    "procedure",
    "encounter",
    "immunization",
)


class Demographics(TypedDict):
    given_name: str | None
    middle_name: str | None
    family_name: str | None
    maiden_name: str | None
    birth_date: str | None
    sex: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country: str | None
    phone: str | None
    email: str | None
    ssn: str | None


class Event(TypedDict):
    """One clinical event; dates are ISO strings so a patient serialises to JSON as is."""

    type: str
    encounter_id: str | None
    organization: str | None
    code_system: str | None
    code: str | None
    display: str | None
    date: str | None
    start: str | None
    end: str | None
    value: float | str | None
    unit: str | None
    encounter_class: str | None


class PatientHistory(TypedDict):
    patient_id: str
    demographics: Demographics
    events: list[Event]
    organizations: dict[str, str]


def convert_bundle(bundle: dict[str, Any], *, history_start: dt.date) -> PatientHistory:
    """Demographics plus the events a summary would show since `history_start`.

    Point events (encounters, observations, procedures, immunizations) are kept from
    `history_start` on; conditions, medications and allergies are kept if they were still
    active then, because a problem or medication list shows them whenever they began.
    Email is left out on purpose: Synthea derives it from the name, so every facility copy
    would share an exact identifier that real EHR feeds rarely agree on.
    """
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    start_iso = history_start.isoformat()
    events: list[Event] = []
    organizations: dict[str, str] = {}
    for resource in resources:
        kind = resource["resourceType"]
        if kind == "Organization":
            organizations[f"urn:uuid:{resource['id']}"] = _organization_key(resource)
        else:
            events.extend(resource_events(resource))
    kept = _drop_repeated_conditions([e for e in events if _in_window(e, start_iso)], start_iso)
    return {
        "patient_id": patient["id"],
        "demographics": demographics(patient),
        "events": kept,
        "organizations": organizations,
    }


def _organization_key(resource: dict[str, Any]) -> str:
    for identifier in resource.get("identifier", []):
        if identifier.get("value"):
            return str(identifier["value"])[:100]
    return str(resource["id"])


def _in_window(event: Event, start_iso: str) -> bool:
    if event["date"] is not None:
        return event["date"] >= start_iso
    if event["type"] == "encounter":
        return event["start"] is not None and event["start"] >= start_iso
    return event["end"] is None or event["end"] >= start_iso


def _drop_repeated_conditions(events: list[Event], start_iso: str) -> list[Event]:
    # Synthea re-asserts findings such as "Medication review due" at every check-up and never
    # closes them; before the window only the latest open copy says anything.
    latest: dict[str | None, str] = {}
    for event in events:
        if _open_before(event, start_iso):
            latest[event["code"]] = max(latest.get(event["code"], ""), event["start"] or "")
    kept = []
    for event in events:
        if _open_before(event, start_iso):
            if latest.get(event["code"]) != (event["start"] or ""):
                continue
            latest.pop(event["code"])
        kept.append(event)
    return kept


def _open_before(event: Event, start_iso: str) -> bool:
    return (
        event["type"] == "condition" and event["end"] is None and (event["start"] or "") < start_iso
    )


def demographics(patient: dict[str, Any]) -> Demographics:
    official = _name(patient, "official")
    maiden = _name(patient, "maiden")
    address = (patient.get("address") or [{}])[0]
    lines = [line for line in address.get("line", []) if line]
    phone = next(
        (t.get("value") for t in patient.get("telecom", []) if t.get("system") == "phone"), None
    )
    ssn = next(
        (i.get("value") for i in patient.get("identifier", []) if i.get("system") == SSN_SYSTEM),
        None,
    )
    given = official.get("given") or []
    sex = patient.get("gender")
    return {
        "given_name": _clean(given[0] if given else None),
        "middle_name": _clean(" ".join(given[1:]) if len(given) > 1 else None),
        "family_name": _clean(official.get("family")),
        "maiden_name": _clean(maiden.get("family")),
        "birth_date": patient.get("birthDate"),
        "sex": sex if sex in ("female", "male", "other", "unknown") else None,
        "address_line1": _clean(lines[0] if lines else None),
        "address_line2": _clean(lines[1] if len(lines) > 1 else None),
        "city": _clean(address.get("city")),
        "state": _clean(address.get("state")),
        "postcode": _clean(address.get("postalCode")),
        "country": _clean(address.get("country")),
        "phone": _clean(phone),
        "email": None,
        "ssn": _clean(ssn),
    }


def _name(patient: dict[str, Any], use: str) -> dict[str, Any]:
    names = patient.get("name", [])
    found = next((n for n in names if n.get("use") == use), None)
    if found is None and use == "official":
        # Synthea marks its names; other feeds often send one name with no `use`.
        found = next((n for n in names if n.get("use") in (None, "usual")), None)
    return found or {}


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(value: object) -> str | None:
    # FHIR dateTimes carry a time and offset; our contract holds calendar dates only.
    if not isinstance(value, str) or len(value) < 10:
        return None
    return value[:10]


def _coding(concept: dict[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    codings = (concept or {}).get("coding") or []
    if not codings:
        return None, None, _clean((concept or {}).get("text"))
    first = codings[0]
    display = _clean(first.get("display"))
    return _clean(first.get("system")), _clean(first.get("code")), display and display[:500]


def _event(kind: str, concept: dict[str, Any] | None, **fields: Any) -> Event:
    system, code, display = _coding(concept)
    event: Event = {
        "type": kind,
        "encounter_id": None,
        "organization": None,
        "code_system": system,
        "code": code,
        "display": display,
        "date": None,
        "start": None,
        "end": None,
        "value": None,
        "unit": None,
        "encounter_class": None,
    }
    event.update(fields)  # type: ignore[typeddict-item]
    return event


def _reference(resource: dict[str, Any], key: str) -> str | None:
    ref = (resource.get(key) or {}).get("reference")
    return ref.removeprefix("urn:uuid:") if isinstance(ref, str) else None


def resource_events(resource: dict[str, Any]) -> list[Event]:
    """The clinical events of one resource (none for a type we do not read)."""
    kind = resource["resourceType"]
    encounter = _reference(resource, "encounter")
    if kind == "Encounter":
        period = resource.get("period") or {}
        types = resource.get("type") or [{}]
        return [
            _event(
                "encounter",
                types[0],
                encounter_id=resource["id"],
                organization=(resource.get("serviceProvider") or {}).get("reference"),
                start=_date(period.get("start")),
                end=_date(period.get("end")),
                encounter_class=(resource.get("class") or {}).get("code"),
            )
        ]
    if kind == "Condition":
        return [
            _event(
                "condition",
                resource.get("code"),
                encounter_id=encounter,
                start=_date(resource.get("onsetDateTime")),
                end=_date(resource.get("abatementDateTime")),
            )
        ]
    if kind == "MedicationRequest":
        period = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
        return [
            _event(
                "medication",
                resource.get("medicationCodeableConcept"),
                encounter_id=encounter,
                start=_date(resource.get("authoredOn")),
                end=_date(period.get("end")),
            )
        ]
    if kind == "MedicationAdministration":
        when = _date(resource.get("effectiveDateTime"))
        return [
            _event(
                "medication",
                resource.get("medicationCodeableConcept"),
                encounter_id=_reference(resource, "context"),
                start=when,
                end=when,
            )
        ]
    if kind == "AllergyIntolerance":
        return [
            _event(
                "allergy",
                resource.get("code"),
                encounter_id=encounter,
                start=_date(resource.get("onsetDateTime") or resource.get("recordedDate")),
            )
        ]
    if kind == "Procedure":
        return [
            _event(
                "procedure",
                resource.get("code"),
                encounter_id=encounter,
                date=_date(resource.get("performedDateTime"))
                or _date((resource.get("performedPeriod") or {}).get("start")),
            )
        ]
    if kind == "Immunization":
        return [
            _event(
                "immunization",
                resource.get("vaccineCode"),
                encounter_id=encounter,
                date=_date(resource.get("occurrenceDateTime")),
            )
        ]
    if kind == "Observation":
        return _observations(resource, encounter)
    return []


def _observations(resource: dict[str, Any], encounter: str | None) -> list[Event]:
    when = _date(resource.get("effectiveDateTime"))
    parts = [(c.get("code"), c) for c in resource.get("component", [])] or [
        (resource.get("code"), resource)
    ]
    events = []
    for concept, holder in parts:
        value, unit = _value(holder)
        if value is None:
            continue
        if isinstance(value, str) and _coding(concept)[1] not in CODED_OBSERVATIONS_KEPT:
            continue
        events.append(
            _event(
                "observation", concept, encounter_id=encounter, date=when, value=value, unit=unit
            )
        )
    return events


def _value(holder: dict[str, Any]) -> tuple[float | str | None, str | None]:
    if "valueQuantity" in holder:
        quantity = holder["valueQuantity"]
        raw = quantity.get("value")
        if raw is None:
            return None, None
        return float(raw), _clean(quantity.get("unit") or quantity.get("code"))
    if "valueCodeableConcept" in holder:
        _, _, display = _coding(holder["valueCodeableConcept"])
        return (display[:MAX_TEXT] if display else None), None
    if "valueString" in holder:
        text = _clean(holder["valueString"])
        return (text[:MAX_TEXT] if text else None), None
    if "valueBoolean" in holder:
        return ("true" if holder["valueBoolean"] else "false"), None
    return None, None


def event_row(event: Event) -> dict[str, Any]:
    """An event as a row of the events table: a text value goes in `value_text`."""
    value = event["value"]
    return {
        "type": event["type"],
        "code_system": event["code_system"],
        "code": event["code"],
        "display": event["display"],
        "date": event["date"],
        "start": event["start"],
        "end": event["end"],
        "value": value if isinstance(value, float) else None,
        "value_text": value if isinstance(value, str) else None,
        "unit": event["unit"],
        "encounter_class": event["encounter_class"],
    }
