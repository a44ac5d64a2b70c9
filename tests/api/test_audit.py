"""The audit of reads: every read of a patient or record writes a row (ids only), and
`GET /audit` serves them to admins, newest first, filtered and paged."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from mpi_store.domain.enums import Scope
from mpi_store.models import ReadAudit
from mpi_store.repositories import GoldenRecordRepository, ReadAuditRepository

FAC1 = "urn:oid:2.16.840.1.113883.19.1"
# Every value `make_record` stores that is no id: none may reach an audit row.
DEMOGRAPHIC_VALUES = (
    "Maria",
    "Luisa",
    "Gonzalez",
    "1984-03-12",
    "female",
    "Elm",
    "Springfield",
    "01103",
    "413-555-0123",
    "maria@example.org",
    "512-44-9087",
)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_mrn_systems": {FAC1: "FAC1"}})


@pytest.fixture
def stored(client, make_record):
    answer = client.post("/records", json=make_record(source_record_id="MRN-7")).json()
    return answer["mpi_id"]


def _match_body():
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Gonzalez", "given": ["Maria"]}],
        "birthDate": "1984-03-12",
    }
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": patient}]}


READS = {
    "read_patient": lambda c, mpi_id: c.get(f"/patients/{mpi_id}"),
    "read_record": lambda c, _: c.get("/records/FAC1/MRN-7"),
    "search_patients": lambda c, _: c.post(
        "/patients/search", json={"family_name": "Gonzalez", "birth_date": "1984-03-12"}
    ),
    "find_patients": lambda c, _: c.get("/patients", params={"identifier": f"{FAC1}|MRN-7"}),
    "fhir_read_patient": lambda c, mpi_id: c.get(f"/fhir/Patient/{mpi_id.replace('_', '-')}"),
    "fhir_search_patient": lambda c, _: c.get(
        "/fhir/Patient", params={"identifier": f"{FAC1}|MRN-7"}
    ),
    "fhir_match_patient": lambda c, _: c.post("/fhir/Patient/$match", json=_match_body()),
    "fhir_pix_query": lambda c, _: c.get(
        "/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{FAC1}|MRN-7"}
    ),
}


def _rows(session):
    return list(session.scalars(select(ReadAudit).order_by(ReadAudit.id)))


@pytest.mark.parametrize("action", READS.keys())
def test_each_read_writes_one_audit_row_with_ids_only(client, session, stored, action):
    before = len(_rows(session))

    response = READS[action](client, stored)

    assert response.status_code == 200, response.text
    rows = _rows(session)[before:]
    assert len(rows) == 1
    row = rows[0]
    assert (row.action, row.actor, row.api_key_id) == (action, "dev", None)
    assert row.mpi_ids == [stored]
    assert row.result_count == 1
    assert row.record_keys == ([["FAC1", "MRN-7"]] if action == "read_record" else [])
    assert row.created_at <= dt.datetime.now(dt.UTC)
    written = json.dumps([row.actor, row.action, row.mpi_ids, row.record_keys])
    for value in DEMOGRAPHIC_VALUES:
        assert value not in written


def test_a_read_with_a_named_key_records_its_name_and_id(client, session, stored, make_key):
    reader = make_key([Scope.PATIENTS_READ])

    client.get(f"/patients/{stored}", headers={"Authorization": f"Bearer {reader}"})

    row = _rows(session)[-1]
    assert row.actor == "test"
    assert row.api_key_id is not None


def test_a_read_that_finds_nothing_records_zero_results(client, session, stored):
    client.post("/patients/search", json={"given_name": "Zebulon", "birth_date": "1920-01-01"})
    client.get("/patients", params={"identifier": f"{FAC1}|NOBODY"})

    rows = _rows(session)[-2:]
    assert [(r.action, r.mpi_ids, r.result_count) for r in rows] == [
        ("search_patients", [], 0),
        ("find_patients", [], 0),
    ]


def test_a_refused_read_writes_no_row(client, session, stored):
    before = len(_rows(session))

    assert client.get("/patients/mpi_nobody").status_code == 404
    assert client.get("/records/FAC1/NOBODY").status_code == 404
    assert client.post("/patients/search", json={}).status_code == 422

    assert len(_rows(session)) == before


def test_writes_and_the_audit_listing_are_not_audited(client, session, stored):
    before = len(_rows(session))

    client.get("/audit")
    client.get("/events")

    assert len(_rows(session)) == before


def test_the_audit_needs_the_admin_scope(client, make_key):
    reader = make_key([Scope.PATIENTS_READ, Scope.LINKS_WRITE, Scope.RECORDS_WRITE])
    admin = make_key([Scope.ADMIN])

    refused = client.get("/audit", headers={"Authorization": f"Bearer {reader}"})
    allowed = client.get("/audit", headers={"Authorization": f"Bearer {admin}"})

    assert refused.status_code == 403
    assert allowed.status_code == 200


def test_the_audit_lists_reads_newest_first_in_pages(client, stored):
    for _ in range(3):
        client.get(f"/patients/{stored}")
    newest = client.get("/audit", params={"limit": 100}).json()["items"]

    first = client.get("/audit", params={"limit": 2}).json()
    second = client.get("/audit", params={"limit": 2, "before": first["next_before"]}).json()

    ids = [item["id"] for item in newest]
    assert ids == sorted(ids, reverse=True)
    assert [item["id"] for item in first["items"] + second["items"]] == ids[:4]
    assert first["next_before"] == first["items"][-1]["id"]
    assert newest[0] == {
        "id": ids[0],
        "actor": "dev",
        "api_key_id": None,
        "action": "read_patient",
        "mpi_ids": [stored],
        "records": [],
        "result_count": 1,
        "created_at": newest[0]["created_at"],
    }


def test_the_last_page_has_no_next(client, stored):
    client.get(f"/patients/{stored}")
    total = len(client.get("/audit", params={"limit": 500}).json()["items"])

    page = client.get("/audit", params={"limit": total + 1}).json()

    assert len(page["items"]) == total
    assert page["next_before"] is None


def test_the_audit_filters_by_actor_action_patient_and_time(
    client, stored, make_record, other_person, make_key
):
    other = client.post("/records", json=make_record(source="FAC2", **other_person)).json()
    reader = make_key([Scope.PATIENTS_READ])
    client.get(f"/patients/{stored}")
    client.get(f"/patients/{other['mpi_id']}", headers={"Authorization": f"Bearer {reader}"})
    client.get("/records/FAC1/MRN-7")

    def listed(**params):
        items = client.get("/audit", params=params).json()["items"]
        return [(item["actor"], item["action"], item["mpi_ids"]) for item in items]

    assert listed(actor="test") == [("test", "read_patient", [other["mpi_id"]])]
    assert listed(action="read_record") == [("dev", "read_record", [stored])]
    assert listed(mpi_id=stored) == [
        ("dev", "read_record", [stored]),
        ("dev", "read_patient", [stored]),
    ]
    assert listed(mpi_id="mpi_nobody") == []
    # One transaction's rows share its time (`now()`): the range is over when they were read.
    read_at = client.get("/audit", params={"limit": 1}).json()["items"][0]["created_at"]
    assert len(listed(created_after=read_at)) == 3
    assert listed(created_before=read_at) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "delete_patient"}, "query.action"),
        ({"before": 0}, "query.before"),
        ({"limit": 501}, "query.limit"),
        ({"created_after": "yesterday"}, "query.created_after"),
    ],
)
def test_a_bad_audit_query_is_422_naming_it(client, params, field):
    response = client.get("/audit", params=params)

    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == [field]


def test_a_redirected_patient_read_names_the_id_asked_for(client, session, stored):
    goldens = GoldenRecordRepository(session)
    absorbed = goldens.create()
    goldens.redirect(absorbed, survivor=goldens.get_by_mpi_id(stored), link_ids=[])
    session.flush()

    response = client.get(f"/patients/{absorbed.mpi_id}", follow_redirects=False)

    assert response.status_code == 308
    row = _rows(session)[-1]
    assert (row.action, row.mpi_ids, row.result_count) == ("read_patient", [absorbed.mpi_id], 0)


@pytest.fixture
def audit_table_locked(engine, monkeypatch):
    """Another transaction holds the audit table: the read's audit INSERT (at its commit)
    gives up after 100 ms with lock_not_available (55P03), a transient failure."""
    original = ReadAuditRepository.add

    def add(self, **row):
        self.session.execute(text("SET LOCAL lock_timeout = '100ms'"))
        original(self, **row)

    monkeypatch.setattr(ReadAuditRepository, "add", add)
    with engine.connect() as holder:
        holder.execute(text("LOCK TABLE read_audit IN EXCLUSIVE MODE"))
        yield
        holder.rollback()


def test_an_audit_write_that_fails_transiently_is_a_503_not_a_500(
    client, stored, audit_table_locked
):
    answer = client.get(f"/patients/{stored}")
    outcome = client.get(f"/fhir/Patient/{stored.replace('_', '-')}")

    assert answer.status_code == 503
    assert answer.json()["error"] == "DatabaseUnavailable"
    assert "Retry-After" in answer.headers
    assert "Gonzalez" not in answer.text
    assert outcome.status_code == 503
    assert outcome.json()["resourceType"] == "OperationOutcome"
