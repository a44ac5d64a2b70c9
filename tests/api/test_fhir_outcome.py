"""FHIR refusals and failures: an OperationOutcome, and no submitted demographic value in the
answer or in any log record (every logger at DEBUG, SQLAlchemy's and uvicorn's included)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from mpi_api.app import create_app
from mpi_api.linker_client import LinkerClient
from mpi_api.records.matching import LinkerMatcher
from mpi_devtools.drill.stack import free_port
from mpi_store.domain.enums import Scope
from mpi_store.fhir_convert import SSN_SYSTEM
from mpi_store.repositories import SourceRecordRepository

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.19.1"
GIVEN, FAMILY = "Quillonia", "Marchbanks"
BIRTH, BAD_BIRTH = "1937-07-19", "1937-19-07"
SSN = "417-83-2965"
LINE, CITY, POSTCODE = "4471 Wistful Vista", "Tarrytown", "10591-4417"
PHONE = "(914) 555-0178"
VALUES = (GIVEN, FAMILY, BIRTH, BAD_BIRTH, SSN, "417832965", LINE, CITY, POSTCODE, PHONE)
LOGGERS = (
    "",
    "sqlalchemy",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
    "fastapi",
    "starlette",
    "mpi_api",
    "mpi_linker",
    "mpi_store",
)
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_mrn_systems": {MRN_SYSTEM: "FAC1"}})


@pytest.fixture
def all_logs(caplog):
    """Every logger at DEBUG into caplog. Requested before `client`, so the test connection
    is opened with SQLAlchemy's statement logging on."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def patient(**overrides):
    body = {
        "resourceType": "Patient",
        "identifier": [
            {"system": MRN_SYSTEM, "value": "PHI-1"},
            {"system": SSN_SYSTEM, "value": SSN},
        ],
        "name": [{"use": "official", "family": FAMILY, "given": [GIVEN]}],
        "gender": "female",
        "birthDate": BIRTH,
        "telecom": [{"system": "phone", "value": PHONE}],
        "address": [{"line": [LINE], "city": CITY, "state": "NY", "postalCode": POSTCODE}],
    }
    body.update(overrides)
    return body


def match(resource):
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": resource}]}


def bundle(*resources):
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:entry-{i}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for i, r in enumerate(resources)
        ],
    }


RELATED = {
    "resourceType": "RelatedPerson",
    "patient": {"reference": "urn:uuid:entry-0"},
    "name": [{"family": FAMILY, "given": [GIVEN]}],
    "birthDate": BIRTH,
    "telecom": [{"system": "phone", "value": PHONE}],
    "address": [{"line": [LINE], "city": CITY, "postalCode": POSTCODE}],
}
NOT_JSON = f'{{"resourceType": "Patient", "name": [{{"family": "{FAMILY}", "given": ["{GIVEN}"'
NO_MRN = [{"system": SSN_SYSTEM, "value": SSN}]

REFUSALS = {
    "bad birthDate": ("POST", "/fhir/Patient", patient(birthDate=BAD_BIRTH), 422),
    "gender code F": ("POST", "/fhir/Patient", patient(gender="F"), 422),
    "wrong resourceType": ("POST", "/fhir/Patient", patient(resourceType="Person"), 400),
    "unknown element named by a value": (
        "POST",
        "/fhir/Patient",
        patient(name=[{"family": FAMILY, GIVEN: [BIRTH]}]),
        422,
    ),
    "no MRN": ("POST", "/fhir/Patient", patient(identifier=NO_MRN), 422),
    "Patient not JSON": ("POST", "/fhir/Patient", NOT_JSON, 400),
    "unsupported type in a Bundle": ("POST", "/fhir", bundle(patient(), RELATED), 422),
    "Bundle Patient's bad birthDate": (
        "POST",
        "/fhir",
        bundle(patient(birthDate=BAD_BIRTH)),
        422,
    ),
    "Bundle not JSON": ("POST", "/fhir", NOT_JSON, 400),
    "$match bad gender": (
        "POST",
        "/fhir/Patient/$match",
        match(patient(identifier=NO_MRN, gender="F")),
        422,
    ),
    "$match bad birthDate": (
        "POST",
        "/fhir/Patient/$match",
        match(patient(identifier=NO_MRN, birthDate=BAD_BIRTH)),
        422,
    ),
    "$match wrong resourceType": ("POST", "/fhir/Patient/$match", patient(), 400),
    "$match unknown parameter": (
        "POST",
        "/fhir/Patient/$match",
        {"resourceType": "Parameters", "parameter": [{"name": GIVEN, "valueString": SSN}]},
        422,
    ),
    "$match not JSON": ("POST", "/fhir/Patient/$match", NOT_JSON, 400),
    "conditional update on an SSN": (
        "PUT",
        f"/fhir/Patient?identifier={SSN_SYSTEM}|{SSN}",
        patient(),
        412,
    ),
    "PIXm by SSN": (
        "GET",
        f"/fhir/Patient/$ihe-pix?sourceIdentifier={SSN_SYSTEM}|{SSN}",
        None,
        404,
    ),
}


def _send(client, method, path, body):
    content = body if isinstance(body, str) else None if body is None else json.dumps(body)
    return client.request(method, path, content=content, headers=FHIR_JSON)


def _server_side(records, client_url="http://testserver/"):
    """Every record's message, arguments and traceback, less the test client's own request
    lines (the caller logging what it sent, as any client may)."""
    formatter = logging.Formatter()
    for record in records:
        sent = record.msg.startswith("HTTP Request: ") and isinstance(record.args, tuple)
        if sent and str(record.args[1]).startswith(client_url):
            continue
        yield record.getMessage()
        yield repr(record.args)
        if record.exc_info:
            yield formatter.formatException(record.exc_info)


def _assert_no_values(response, caplog):
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"]
    logged = "\n".join(_server_side(caplog.records))
    for value in VALUES:
        assert value not in response.text
        assert value not in logged


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refusal_answers_an_outcome_without_the_submitted_values(all_logs, client, case):
    method, path, body, status = REFUSALS[case]

    response = _send(client, method, path, body)

    assert response.status_code == status
    _assert_no_values(response, all_logs)


@pytest.mark.parametrize("kind", ["Foo", "", None, 7, [], {}])
@pytest.mark.parametrize(
    ("path", "wrap", "status", "expression"),
    [
        ("/fhir/Patient", lambda r: patient(contained=[r]), 422, "Patient"),
        ("/fhir/Patient/$match", match, 400, "Parameters.parameter[0].resource.resourceType"),
        ("/fhir", lambda r: bundle(patient(), r), 422, "Bundle.entry[1].resource"),
        (
            "/fhir",
            lambda r: bundle(patient(contained=[r])),
            422,
            "Bundle",
        ),
    ],
)
def test_a_resource_of_unknown_type_is_refused_not_a_500(
    all_logs, client, path, wrap, status, expression, kind
):
    """fhir.resources raises KeyError or TypeError (not a ValidationError) for these."""
    response = _send(
        client, "POST", path, wrap({"resourceType": kind, "name": [{"family": FAMILY}]})
    )

    assert response.status_code == status
    assert response.json()["issue"][0]["expression"] == [expression]
    _assert_no_values(response, all_logs)


def test_an_unknown_element_is_named_by_its_parent(client):
    response = _send(client, *REFUSALS["unknown element named by a value"][:3])

    assert response.json()["issue"][0]["expression"] == ["Patient.name[0]"]


def test_a_key_without_the_scope_is_refused_without_the_values(all_logs, client, make_key):
    reader = {"Authorization": f"Bearer {make_key([Scope.PATIENTS_READ])}"}

    response = client.post("/fhir/Patient", json=patient(), headers=reader)

    assert response.status_code == 403
    _assert_no_values(response, all_logs)


SERVED = {
    "create": ("POST", "/fhir/Patient", patient()),
    "transaction": ("POST", "/fhir", bundle(patient())),
    "$match": ("POST", "/fhir/Patient/$match", match(patient(identifier=NO_MRN))),
}


@pytest.mark.parametrize("case", SERVED)
def test_a_linker_outage_is_a_503_outcome_without_the_values(all_logs, client, app, case):
    app.state.matcher = LinkerMatcher(
        LinkerClient(httpx.Client(base_url="http://127.0.0.1:9"), retries=1, backoff_seconds=0)
    )

    response = _send(client, *SERVED[case])

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    _assert_no_values(response, all_logs)


@pytest.fixture
def failing_insert(monkeypatch):
    """The record's INSERT fails in the driver (a NUL byte), so its statement, with the
    record's values bound, is what the error would quote."""
    original = SourceRecordRepository.add

    def add(self, record):
        record.given_name = f"{record.given_name}\x00"
        return original(self, record)

    monkeypatch.setattr(SourceRecordRepository, "add", add)


@pytest.mark.usefixtures("failing_insert")
@pytest.mark.parametrize("case", ["create", "transaction"])
def test_a_database_failure_is_a_500_outcome_without_the_values(all_logs, client, case):
    response = _send(client, *SERVED[case])

    assert response.status_code == 500
    _assert_no_values(response, all_logs)
    request_id = response.headers["X-Request-ID"]
    assert request_id in response.json()["issue"][0]["diagnostics"]
    assert request_id in all_logs.text
    assert "DataError" in all_logs.text
    # The engine's statements were logged (parameters hidden): the scan saw SQLAlchemy's lines.
    assert any(r.name.startswith("sqlalchemy.engine") for r in all_logs.records)


def test_an_exception_quoting_the_query_is_a_500_outcome_without_it(
    all_logs, client, app, monkeypatch
):
    def score(*args, **kwargs):
        raise ValueError(f"cannot score {GIVEN} {FAMILY} {SSN}")

    monkeypatch.setattr(app.state.matcher, "score", score)

    response = _send(client, *SERVED["$match"])

    assert response.status_code == 500
    _assert_no_values(response, all_logs)
    assert "ValueError" in all_logs.text


@contextmanager
def _uvicorn_logging_to_caplog() -> Iterator[None]:
    """uvicorn's loggers as a server started with `log_config=None` leaves them, propagating
    to caplog; restored afterwards (other tests' servers configure them their way)."""
    saved = {
        name: (logger.level, logger.propagate, logger.handlers[:])
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        if (logger := logging.getLogger(name))
    }
    for name in saved:
        logging.getLogger(name).propagate = True
        logging.getLogger(name).handlers = []
    try:
        yield
    finally:
        for name, (level, propagate, handlers) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers = handlers


def test_uvicorn_access_log_leaves_the_query_string_out(all_logs, settings, committed_engine):
    """A query can hold an SSN (`identifier=<SSN system>|<SSN>`); uvicorn logs the path with
    its query however it was started, so the api drops the query from those lines. (The
    reads commit their audit rows: `committed_engine` empties the tables afterwards.)"""
    port = free_port()
    with _uvicorn_logging_to_caplog():
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=port,
                log_config=None,
                log_level="debug",
                access_log=True,
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {settings.dev_api_key}"},
            ) as http:
                answers = [
                    http.get("/fhir/Patient", params={"identifier": f"{SSN_SYSTEM}|{SSN}"}),
                    http.get(
                        "/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{SSN_SYSTEM}|{SSN}"}
                    ),
                    http.get("/patients", params={"identifier": f"{SSN_SYSTEM}|{SSN}"}),
                ]
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    assert [a.status_code for a in answers] == [200, 404, 200]
    access = [r.getMessage() for r in all_logs.records if r.name == "uvicorn.access"]
    assert len(access) == 3
    assert all("/fhir/Patient" in line for line in access[:2])
    assert "GET /patients?[query hidden]" in access[2]
    logged = "\n".join(_server_side(all_logs.records, f"http://127.0.0.1:{port}/"))
    for value in (SSN, "417832965"):
        assert value not in logged


def test_a_body_over_the_limit_is_a_413_outcome_without_the_values(all_logs, settings):
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    big = patient(address=[{"line": [LINE] * 60, "city": CITY, "postalCode": POSTCODE}])

    with TestClient(app) as client:
        response = _send(client, "POST", "/fhir/Patient", big)

    assert response.status_code == 413
    _assert_no_values(response, all_logs)
