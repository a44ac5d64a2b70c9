"""`GET /links/{id}/history`: every decision on a link, oldest first, with who decided."""

from __future__ import annotations

from mpi_classifier import apply
from mpi_store.domain.enums import Scope


def test_history_lists_the_linker_the_classifier_and_the_steward(
    client, session, make_key, make_record, moved
):
    first = client.post("/records", json=make_record(source="FAC1")).json()
    second = client.post("/records", json=make_record(source="FAC2", **moved)).json()
    (link,) = client.get("/links", params={"source": "FAC2"}).json()["items"]
    (pair,) = link["pairs"]
    scores = apply.Scores(0.97, 0.95, accept=True, backend="fixed", model_id="fixed-1")
    apply.decide(session, adjudication_id=pair["adjudication_id"], scores=scores)
    session.expire_all()
    (link,) = client.get("/links", params={"source": "FAC2"}).json()["items"]
    client.headers["Authorization"] = f"Bearer {make_key([Scope.LINKS_WRITE, Scope.PATIENTS_READ])}"
    split = client.post(
        f"/links/{link['id']}/decision",
        json={"match_result": "NO_MATCH", "version": link["version"], "reason": "other chart"},
    ).json()

    response = client.get(f"/links/{link['id']}/history")

    assert response.status_code == 200
    linker, classifier, steward = response.json()["items"]
    assert (linker["match_result"], linker["link_source"], linker["rule"], linker["actor"]) == (
        "POSSIBLE_MATCH",
        "AUTO",
        "gray_zone",
        None,
    )
    assert (linker["mpi_id"], linker["probability"]) == (
        second["mpi_id"],
        pair["splink_probability"],
    )
    assert linker["model_version"] is not None
    assert (classifier["match_result"], classifier["link_source"], classifier["rule"]) == (
        "MATCH",
        "LLM",
        "classifier",
    )
    assert (classifier["mpi_id"], classifier["previous_mpi_id"]) == (
        first["mpi_id"],
        second["mpi_id"],
    )
    assert (
        classifier["reason"]["classifier_probability"],
        classifier["reason"]["fused_probability"],
        classifier["reason"]["classifier_model"],
    ) == (0.97, 0.95, "fixed-1")
    assert (steward["match_result"], steward["link_source"], steward["link_state"]) == (
        "NO_MATCH",
        "MANUAL",
        "final",
    )
    assert (steward["actor"], steward["rule"], steward["reason"]["note"]) == (
        "test",
        "manual",
        "other chart",
    )
    assert (steward["mpi_id"], steward["previous_mpi_id"]) == (split["mpi_id"], first["mpi_id"])
    assert steward["reason"]["kept_apart_from"] == [first["mpi_id"]]
    times = [i["created_at"] for i in (linker, classifier, steward)]
    assert times == sorted(times)


def test_history_of_an_unknown_link_is_a_404(client):
    response = client.get("/links/999999/history")

    assert (response.status_code, response.json()["error"]) == (404, "LinkNotFound")
