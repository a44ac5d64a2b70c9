"""`GET /links/{id}/explanation`: why a link is what it is, as decided, without demographics."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from mpi_classifier import apply
from mpi_linker.features import MAX_BLOCK_SIZE, blocking_keys, features
from mpi_linker.model.artifact import load
from mpi_store.domain.enums import Scope
from mpi_store.models import LinkHistory

FUSION = {"weight": 1.2, "threshold": 0.6, "training_prior": 0.5}


def _link_of(client, source):
    (link,) = client.get("/links", params={"source": source}).json()["items"]
    return link


def _explain(client, link_id):
    response = client.get(f"/links/{link_id}/explanation")
    assert response.status_code == 200, response.text
    return response.json()


def _assert_no_demographics(body, record):
    text = json.dumps(body)
    for field in ("given_name", "family_name", "birth_date", "ssn", "address_line1", "phone"):
        if record.get(field):
            assert record[field] not in text, field


def test_an_auto_match_explains_its_waterfall_from_the_prior(client, make_record):
    first = make_record(source="FAC1")
    second = make_record(source="FAC2", given_name="Mary", ssn="512449087")
    client.post("/records", json=first)
    linked = client.post("/records", json=second).json()
    link = _link_of(client, "FAC2")

    body = _explain(client, link["id"])

    assert (body["decision"]["match_result"], body["decision"]["rule"]) == ("MATCH", "auto")
    assert body["replaced"] is None
    linker = body["linker"]
    assert linker["waterfall_unavailable"] is None
    assert linker["candidate"] == {"source": "FAC1", "source_record_id": first["source_record_id"]}
    assert linker["candidate_mpi_id"] == linked["mpi_id"]
    assert "ssn" in linker["blocking_key_kinds"]
    waterfall = linker["waterfall"]
    assert waterfall[0]["comparison"] == "prior"
    assert waterfall[0]["match_weight"] == linker["prior"]["match_weight"] < 0
    model = load()
    assert [s["comparison"] for s in waterfall[1:]] == [
        c["output_column_name"] for c in model.splink["comparisons"]
    ]
    assert sum(s["match_weight"] for s in waterfall) == pytest.approx(
        linker["match_weight"], abs=1e-6
    )
    assert waterfall[-1]["cumulative"] == pytest.approx(linker["match_weight"], abs=1e-6)
    assert linker["match_weight"] == pytest.approx(linked["match_weight"], abs=1e-6)
    assert linker["thresholds"]["auto"] == model.thresholds.auto
    assert linker["thresholds"]["reject"] < linker["thresholds"]["accept_alone"]
    ssn = next(s for s in waterfall if s["comparison"] == "ssn")
    assert ssn["match_weight"] > 0
    assert ssn["label"]
    assert body["pairs"] == []
    _assert_no_demographics(body, first)
    _assert_no_demographics(body, second)


def test_a_gray_link_explains_the_classifier_and_the_fusion(client, session, make_record, moved):
    client.post("/records", json=make_record(source="FAC1"))
    client.post("/records", json=make_record(source="FAC2", **moved))
    (pair,) = _link_of(client, "FAC2")["pairs"]
    scores = apply.Scores(
        0.97, 0.95, accept=True, backend="fixed", model_id="fixed-1", fusion=FUSION
    )
    apply.decide(session, adjudication_id=pair["adjudication_id"], scores=scores)
    session.expire_all()

    body = _explain(client, _link_of(client, "FAC2")["id"])

    assert (body["decision"]["rule"], body["decision"]["link_source"]) == ("classifier", "LLM")
    assert body["linker"]["rule"] == "gray_zone"
    assert body["linker"]["waterfall"] is not None
    (explained,) = body["pairs"]
    assert explained["adjudication_id"] == pair["adjudication_id"]
    assert (
        explained["classifier_probability"],
        explained["fused_probability"],
        explained["backend"],
        explained["classifier_model"],
        explained["verdict"],
        explained["abstain_reason"],
    ) == (0.97, 0.95, "fixed", "fixed-1", "match", None)
    assert explained["fusion"] == FUSION
    assert explained["splink_probability"] == pytest.approx(body["linker"]["probability"])


def test_an_abstention_names_its_reason_and_no_fusion(client, session, make_record, moved):
    client.post("/records", json=make_record(source="FAC1"))
    client.post("/records", json=make_record(source="FAC2", **moved))
    (pair,) = _link_of(client, "FAC2")["pairs"]
    scores = apply.Scores(
        None,
        pair["splink_probability"],
        accept=False,
        backend="fixed",
        model_id="fixed-1",
        abstain_reason="no_comparable_events",
    )
    apply.decide(session, adjudication_id=pair["adjudication_id"], scores=scores)
    session.expire_all()

    (explained,) = _explain(client, _link_of(client, "FAC2")["id"])["pairs"]

    assert (explained["abstain_reason"], explained["classifier_probability"]) == (
        "no_comparable_events",
        None,
    )
    assert (explained["verdict"], explained["fusion"]) == ("no_match", None)


def test_a_manual_decision_shows_the_steward_and_what_it_replaced(
    client, make_key, make_record, moved
):
    client.post("/records", json=make_record(source="FAC1"))
    client.post("/records", json=make_record(source="FAC2", **moved))
    link = _link_of(client, "FAC2")
    client.headers["Authorization"] = f"Bearer {make_key([Scope.LINKS_WRITE, Scope.PATIENTS_READ])}"
    decided = client.post(
        f"/links/{link['id']}/decision",
        json={"match_result": "NO_MATCH", "version": link["version"], "reason": "chart 7"},
    )
    assert decided.status_code == 200

    body = _explain(client, link["id"])

    assert (body["decision"]["link_source"], body["decision"]["actor"]) == ("MANUAL", "test")
    assert (body["decision"]["match_result"], body["decision"]["note"]) == ("NO_MATCH", "chart 7")
    assert (body["replaced"]["link_source"], body["replaced"]["rule"]) == ("AUTO", "gray_zone")
    assert body["replaced"]["match_result"] == "POSSIBLE_MATCH"
    assert body["linker"]["waterfall"] is not None


def test_a_link_decided_before_details_were_stored_says_the_waterfall_is_unavailable(
    client, session, make_record
):
    client.post("/records", json=make_record(source="FAC1"))
    client.post("/records", json=make_record(source="FAC2", given_name="Mary", ssn="512449087"))
    link = _link_of(client, "FAC2")
    # What link history held before this change: the rounded comparisons, no model, no order.
    rows = session.execute(select(LinkHistory.id, LinkHistory.reason)).all()
    for row_id, reason in rows:
        old = {k: v for k, v in reason.items() if k != "model"}
        if old.get("best"):
            old["best"] = {
                k: v
                for k, v in old["best"].items()
                if k not in ("waterfall", "record_id", "blocking_key_kinds")
            }
        session.execute(update(LinkHistory).where(LinkHistory.id == row_id).values(reason=old))
    session.expire_all()

    body = _explain(client, link["id"])

    linker = body["linker"]
    assert linker["waterfall"] is None
    assert "before" in linker["waterfall_unavailable"]
    assert (linker["prior"], linker["thresholds"], linker["candidate"]) == (None, None, None)
    assert linker["probability"] > 0.99
    assert linker["candidate_mpi_id"] == link["mpi_id"]
    assert body["decision"]["rule"] == "auto"


def test_a_record_without_candidates_says_so(client, make_record):
    client.post("/records", json=make_record(source="FAC1"))
    link = _link_of(client, "FAC1")

    linker = _explain(client, link["id"])["linker"]

    assert (linker["candidates_found"], linker["waterfall"]) == (0, None)
    assert linker["waterfall_unavailable"].startswith("no candidate")
    assert linker["prior"]["probability"] > 0


def test_the_patient_links_each_record_to_its_explanation(client, make_record):
    created = client.post("/records", json=make_record(source="FAC1")).json()

    (record,) = client.get(f"/patients/{created['mpi_id']}").json()["records"]

    assert record["links"]["explanation"] == f"/links/{record['link_id']}/explanation"
    assert client.get(record["links"]["explanation"]).status_code == 200


def test_explanation_of_an_unknown_link_is_a_404(client):
    response = client.get("/links/999999/explanation")

    assert (response.status_code, response.json()["error"]) == (404, "LinkNotFound")


def test_a_generic_key_left_out_is_named_in_the_explanation(
    client, session, make_record, index_patients
):
    record = make_record(source="FAC1", ssn=None, phone=None)
    row = features(record)
    common = next(k for k in blocking_keys(row) if k.startswith("fam_token_sex:"))
    stranger = {**row, "given_name": "zelda", "birth_date": "1901-01-01"}
    index_patients([common], stranger, MAX_BLOCK_SIZE)
    session.commit()
    client.post("/records", json=record)

    linker = _explain(client, _link_of(client, "FAC1")["id"])["linker"]

    assert linker["generic_key_kinds"] == ["fam_token_sex"]
    assert linker["candidates_found"] == 0
