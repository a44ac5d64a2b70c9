"""`POST /patients/{mpi_id}/unmerge`: the absorbed patient comes back with the records it had,
minus those moved since, kept apart from the survivor (also against the worker and new
records)."""

from __future__ import annotations

from sqlalchemy import select

from mpi_classifier import apply
from mpi_store.models import Event, GoldenRecord
from mpi_store.repositories import AdjudicationRepository

MATCHES = apply.Scores(0.99, 0.99, accept=True, backend="fixed", model_id="fixed-1")


def _post(client, body):
    response = client.post("/records", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _merge(client, survivor, absorbed):
    response = client.post(
        f"/patients/{survivor}/merge",
        json={"other_mpi_id": absorbed, "force": True, "reason": "checked"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _sources(client, mpi_id):
    response = client.get(f"/patients/{mpi_id}", follow_redirects=False)
    assert response.status_code == 200, response.text
    return sorted(r["source"] for r in response.json()["records"])


def _link(client, source):
    (item,) = client.get("/links", params={"source": source}).json()["items"]
    return item


def test_unmerge_brings_the_absorbed_patient_back_kept_apart(
    steward, session, make_record, other_person
):
    survivor = _post(steward, make_record(source="FAC1"))["mpi_id"]
    absorbed = _post(steward, make_record(source="FAC2", **other_person))["mpi_id"]
    merged = _merge(steward, survivor, absorbed)

    response = steward.post(f"/patients/{absorbed}/unmerge", json={"reason": "not one person"})

    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["mpi_id"], done["survivor_mpi_id"], done["merge_id"]) == (
        absorbed,
        survivor,
        merged["merge_id"],
    )
    assert done["restored"] == [{"source": "FAC2", "source_record_id": "MRN000002"}]
    assert done["moved_since"] == []
    assert _sources(steward, absorbed) == ["FAC2"]
    assert _sources(steward, survivor) == ["FAC1"]
    assert steward.get(f"/patients/{absorbed}").json()["golden"]["given_name"] == "Oluwaseun"
    assert steward.get(f"/patients/{survivor}").json()["golden"]["given_name"] == "Maria"
    link = _link(steward, "FAC2")
    assert (link["match_result"], link["link_source"], link["kept_apart_from"]) == (
        "NO_MATCH",
        "MANUAL",
        [survivor],
    )
    history = steward.get(f"/links/{link['id']}/history").json()["items"]
    assert [(h["rule"], h["actor"]) for h in history[-2:]] == [
        ("manual_merge", "test"),
        ("manual_unmerge", "test"),
    ]
    assert history[-1]["reason"]["note"] == "not one person"
    event = session.get(Event, done["unmerge_id"])
    assert (event.type, event.mpi_id) == ("patient.unmerged", absorbed)
    assert event.data == {
        "survivor": survivor,
        "merge_id": merged["merge_id"],
        "link_ids": [link["id"]],
        "actor": "test",
    }


def test_unmerge_by_merge_id_and_twice(steward, make_record, other_person):
    survivor = _post(steward, make_record(source="FAC1"))["mpi_id"]
    absorbed = _post(steward, make_record(source="FAC2", **other_person))["mpi_id"]
    merged = _merge(steward, survivor, absorbed)

    wrong = steward.post(
        f"/patients/{absorbed}/unmerge", json={"merge_id": merged["merge_id"] + 1000}
    )
    first = steward.post(f"/patients/{absorbed}/unmerge", json={"merge_id": merged["merge_id"]})
    again = steward.post(f"/patients/{absorbed}/unmerge")

    assert (wrong.status_code, wrong.json()["error"]) == (409, "Conflict")
    assert wrong.json()["detail"].startswith("merge_id:")
    assert first.status_code == 200, first.text
    assert (again.status_code, again.json()["error"]) == (409, "Conflict")
    assert steward.post(f"/patients/{survivor}/unmerge").status_code == 409
    assert steward.post("/patients/mpi_nobody/unmerge").status_code == 404


def test_unmerge_after_later_changes_restores_what_is_still_there(
    steward, make_record, other_person
):
    """After the merge a new record joins the survivor and a steward moves one of the absorbed
    records away: the unmerge gives back the rest and lists the moved one."""
    quiet = {**other_person, "ssn": None, "identifiers": []}
    survivor = _post(steward, make_record(source="FAC1"))["mpi_id"]
    absorbed = _post(steward, make_record(source="FAC2", **quiet))["mpi_id"]
    assert _post(steward, make_record(source="FAC3", **quiet))["mpi_id"] == absorbed
    _merge(steward, survivor, absorbed)
    joined = _post(steward, make_record(source="FAC4"))
    assert (joined["mpi_id"], joined["match_result"]) == (survivor, "MATCH")
    moved = _link(steward, "FAC3")
    steward.post(
        f"/links/{moved['id']}/decision",
        json={"match_result": "NO_MATCH", "version": moved["version"]},
    )
    elsewhere = _link(steward, "FAC3")["mpi_id"]

    done = steward.post(f"/patients/{absorbed}/unmerge").json()

    assert done["restored"] == [{"source": "FAC2", "source_record_id": "MRN000002"}]
    assert done["moved_since"] == [{"source": "FAC3", "source_record_id": "MRN000003"}]
    assert _sources(steward, absorbed) == ["FAC2"]
    assert _sources(steward, survivor) == ["FAC1", "FAC4"]
    assert _sources(steward, elsewhere) == ["FAC3"]


def test_the_worker_never_merges_an_unmerged_pair_again(steward, session, make_record, moved):
    first = _post(steward, make_record(source="FAC1"))
    second = _post(steward, make_record(source="FAC2", **moved))
    assert second["match_result"] == "POSSIBLE_MATCH"
    (pair,) = _link(steward, "FAC2")["pairs"]
    _merge(steward, first["mpi_id"], second["mpi_id"])
    steward.post(f"/patients/{second['mpi_id']}/unmerge")

    verdict = apply.decide(session, adjudication_id=pair["adjudication_id"], scores=MATCHES)

    session.expire_all()
    assert verdict == "review"
    assert (
        "manual_no_match"
        in AdjudicationRepository(session).get(pair["adjudication_id"]).review_reasons
    )
    assert _sources(steward, first["mpi_id"]) == ["FAC1"]
    assert _sources(steward, second["mpi_id"]) == ["FAC2"]


def test_a_new_record_of_both_unmerged_patients_waits_instead_of_joining_them(
    steward, session, make_record
):
    first = _post(steward, make_record(source="FAC1"))
    second = _post(steward, make_record(source="FAC2", phone=None))
    assert second["mpi_id"] == first["mpi_id"]
    split = steward.post(
        f"/patients/{first['mpi_id']}/split",
        json={"records": [{"source": "FAC2", "source_record_id": "MRN000002"}]},
    ).json()
    _merge(steward, first["mpi_id"], split["to_mpi_id"])
    steward.post(f"/patients/{split['to_mpi_id']}/unmerge")

    third = _post(steward, make_record(source="FAC3"))

    assert (third["match_result"], third["link_state"]) == ("POSSIBLE_MATCH", "provisional")
    for pair in _link(steward, "FAC3")["pairs"]:
        apply.decide(session, adjudication_id=pair["adjudication_id"], scores=MATCHES)
    session.expire_all()
    goldens = session.scalars(
        select(GoldenRecord).where(GoldenRecord.mpi_id.in_([first["mpi_id"], split["to_mpi_id"]]))
    )
    assert [g.status for g in goldens] == ["active", "active"]
    assert "FAC2" not in _sources(steward, first["mpi_id"])
    assert "FAC1" not in _sources(steward, split["to_mpi_id"])


def test_a_decisions_merge_can_be_undone_too(steward, make_record, moved):
    """A MATCH decision that empties a patient merges it; unmerging it gives the record back."""
    first = _post(steward, make_record(source="FAC1"))
    second = _post(steward, make_record(source="FAC2", **moved))
    link = _link(steward, "FAC2")
    steward.post(
        f"/links/{link['id']}/decision",
        json={"match_result": "MATCH", "mpi_id": first["mpi_id"], "version": link["version"]},
    )

    done = steward.post(f"/patients/{second['mpi_id']}/unmerge")

    assert done.status_code == 200, done.text
    assert done.json()["restored"] == [{"source": "FAC2", "source_record_id": "MRN000002"}]
    assert _sources(steward, second["mpi_id"]) == ["FAC2"]
    assert _sources(steward, first["mpi_id"]) == ["FAC1"]
