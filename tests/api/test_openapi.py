"""The OpenAPI document describes the answers the api really gives."""

from __future__ import annotations

import jsonschema
import pytest

from mpi_api.responses import ErrorRead

ERROR_REF = "#/components/schemas/ErrorRead"


@pytest.fixture
def document(client):
    return client.get("/openapi.json").json()


def _operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def _schema_ref(response):
    return response["content"]["application/json"]["schema"]["$ref"]


def test_every_422_is_documented_in_the_error_format(document):
    documented = {
        name: _schema_ref(op["responses"]["422"])
        for name, op in _operations(document)
        # `/fhir` answers OperationOutcome instead (tests/api/test_fhir_patient.py).
        if "422" in op["responses"] and " /fhir" not in name
    }

    assert "POST /records" in documented
    assert "GET /events" in documented
    assert set(documented.values()) == {ERROR_REF}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_create_record_documents_400_and_503_with_retry_after(document):
    responses = document["paths"]["/records"]["post"]["responses"]

    assert _schema_ref(responses["400"]) == ERROR_REF
    assert _schema_ref(responses["503"]) == ERROR_REF
    assert "Retry-After" in responses["503"]["headers"]


@pytest.mark.parametrize(
    "content", [b'{"source": "\xff"}', b"[" * 5000 + b"]" * 5000], ids=["not-utf8", "deep"]
)
def test_an_unparsable_body_is_400_in_the_error_format(client, content):
    response = client.post(
        "/records", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert ErrorRead.model_validate(response.json()).error == "InvalidJSON"


def test_a_bad_query_parameter_is_an_invalid_request_in_the_documented_shape(client):
    response = client.get("/events?limit=0")

    assert response.status_code == 422
    body = ErrorRead.model_validate(response.json())
    assert body.error == "InvalidRequest"
    assert [problem.field for problem in body.detail] == ["query.limit"]


def test_a_blank_birth_date_is_documented_as_accepted(document):
    # Found by `mpi drill`'s fuzz: "" is read as unknown, but the document allowed dates only.
    schema = document["components"]["schemas"]["RecordCreate"]
    birth_date = schema["properties"]["birth_date"]
    for blank in ("", "  "):
        jsonschema.validate(blank, birth_date, format_checker=jsonschema.FormatChecker())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("1942-06-58", birth_date, format_checker=jsonschema.FormatChecker())
