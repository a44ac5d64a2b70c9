"""FHIR bundle conversion: demographics, the history window, observation values."""

from __future__ import annotations

import datetime as dt

from mpi_store.fhir_convert import convert_bundle

WINDOW = dt.date(2015, 1, 1)


def _bundle(*resources):
    patient = {
        "resourceType": "Patient",
        "id": "p-1",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-11-2222"}],
        "name": [
            {"use": "official", "family": "Glover", "given": ["Shandra"], "prefix": ["Ms."]},
            {"use": "maiden", "family": "Kuhic", "given": ["Shandra"]},
        ],
        "gender": "female",
        "birthDate": "1960-05-02",
        "address": [
            {
                "line": ["1 Oak Street"],
                "city": "Boston",
                "state": "Massachusetts",
                "postalCode": "02115",
                "country": "US",
            }
        ],
        "telecom": [
            {"system": "phone", "value": "555-111-2222"},
            {"system": "email", "value": "shandra.glover1@example.com"},
        ],
    }
    return {"entry": [{"resource": r} for r in (patient, *resources)]}


def _encounter(id_, start):
    return {
        "resourceType": "Encounter",
        "id": id_,
        "class": {"code": "AMB"},
        "type": [{"coding": [{"system": "s", "code": "c", "display": "Checkup"}]}],
        "period": {"start": f"{start}T08:00:00+00:00", "end": f"{start}T09:00:00+00:00"},
        "serviceProvider": {"reference": "urn:uuid:org-1"},
    }


def test_demographics_keep_strings_and_drop_email():
    out = convert_bundle(_bundle(), history_start=WINDOW)
    demo = out["demographics"]
    assert demo["given_name"] == "Shandra"
    assert demo["maiden_name"] == "Kuhic"
    assert demo["postcode"] == "02115"
    assert demo["ssn"] == "999-11-2222"
    assert demo["email"] is None
    assert demo["address_line2"] is None


def test_window_keeps_recent_events_and_still_active_conditions():
    bundle = _bundle(
        _encounter("old", "2010-01-01"),
        _encounter("new", "2020-01-01"),
        {
            "resourceType": "Condition",
            "id": "c1",
            "code": {"coding": [{"code": "htn"}]},
            "onsetDateTime": "2009-01-01T00:00:00+00:00",
        },
        {
            "resourceType": "Condition",
            "id": "c2",
            "code": {"coding": [{"code": "flu"}]},
            "onsetDateTime": "2009-01-01T00:00:00+00:00",
            "abatementDateTime": "2009-02-01T00:00:00+00:00",
        },
        {
            "resourceType": "Condition",
            "id": "c3",
            "code": {"coding": [{"code": "htn"}]},
            "onsetDateTime": "2011-01-01T00:00:00+00:00",
        },
    )
    events = convert_bundle(bundle, history_start=WINDOW)["events"]
    assert [e["encounter_id"] for e in events if e["type"] == "encounter"] == ["new"]
    conditions = [(e["code"], e["start"]) for e in events if e["type"] == "condition"]
    # The flu ended before the window; the open hypertension is kept once, latest copy.
    assert conditions == [("htn", "2011-01-01")]


def test_observations_split_panels_and_drop_survey_answers():
    bundle = _bundle(
        {
            "resourceType": "Observation",
            "id": "bp",
            "effectiveDateTime": "2020-01-01T00:00:00Z",
            "code": {"coding": [{"code": "85354-9"}]},
            "component": [
                {
                    "code": {"coding": [{"code": "8480-6", "display": "Systolic"}]},
                    "valueQuantity": {"value": 120.5, "unit": "mm[Hg]"},
                },
                {
                    "code": {"coding": [{"code": "8462-4", "display": "Diastolic"}]},
                    "valueQuantity": {"value": 80, "unit": "mm[Hg]"},
                },
            ],
        },
        {
            "resourceType": "Observation",
            "id": "smoke",
            "effectiveDateTime": "2020-01-01T00:00:00Z",
            "code": {"coding": [{"code": "72166-2"}]},
            "valueCodeableConcept": {"coding": [{"display": "Never smoked tobacco"}]},
        },
        {
            "resourceType": "Observation",
            "id": "survey",
            "effectiveDateTime": "2020-01-01T00:00:00Z",
            "code": {"coding": [{"code": "56051-6"}]},
            "valueCodeableConcept": {"coding": [{"display": "No"}]},
        },
    )
    events = convert_bundle(bundle, history_start=WINDOW)["events"]
    assert [(e["code"], e["value"], e["unit"]) for e in events] == [
        ("8480-6", 120.5, "mm[Hg]"),
        ("8462-4", 80.0, "mm[Hg]"),
        ("72166-2", "Never smoked tobacco", None),
    ]
    assert all(e["date"] == "2020-01-01" for e in events)


def test_medication_period_and_encounter_organisation():
    bundle = _bundle(
        _encounter("e1", "2021-03-04"),
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "authoredOn": "2021-03-04T08:00:00Z",
            "medicationCodeableConcept": {"coding": [{"system": "rx", "code": "123"}]},
            "encounter": {"reference": "urn:uuid:e1"},
            "dispenseRequest": {"validityPeriod": {"end": "2021-06-01T00:00:00Z"}},
        },
        {"resourceType": "Organization", "id": "org-1", "identifier": [{"value": "clinic-9"}]},
    )
    out = convert_bundle(bundle, history_start=WINDOW)
    med = next(e for e in out["events"] if e["type"] == "medication")
    assert (med["start"], med["end"], med["encounter_id"]) == ("2021-03-04", "2021-06-01", "e1")
    assert out["organizations"] == {"urn:uuid:org-1": "clinic-9"}
