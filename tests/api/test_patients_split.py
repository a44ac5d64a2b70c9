"""`POST /patients/{mpi_id}/split`: records move onto a new or named patient, kept apart from
the one they left (also against the worker); refusals write nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from mpi_classifier import apply
from mpi_store.models import Event

MATCHES = apply.Scores(0.99, 0.99, accept=True, backend="fixed", model_id="fixed-1")
DEMOGRAPHIC_VALUES = ("Maria", "Gonzalez", "1984-03-12", "512-44-9087", "Elm")


def _post(client, body):
    response = client.post("/records", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _key(n):
    return {"source": f"FAC{n}", "source_record_id": f"MRN{n:06d}"}


def _patient_of_three(client, make_record):
    mpi_id = _post(client, make_record(source="FAC1"))["mpi_id"]
    for n in (2, 3):
        assert _post(client, make_record(source=f"FAC{n}"))["mpi_id"] == mpi_id
    return mpi_id


def _sources(client, mpi_id):
    return sorted(r["source"] for r in client.get(f"/patients/{mpi_id}").json()["records"])


def _link(client, source):
    (item,) = client.get("/links", params={"source": source}).json()["items"]
    return item


def _split(client, mpi_id, **body):
    return client.post(f"/patients/{mpi_id}/split", json=body)


def test_split_moves_records_onto_a_new_patient_kept_apart(steward, session, make_record):
    mpi_id = _patient_of_three(steward, make_record)

    response = _split(steward, mpi_id, records=[_key(2), _key(3)], reason="other twin")

    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["mpi_id"], done["created"], done["moved"]) == (mpi_id, True, [_key(2), _key(3)])
    assert _sources(steward, mpi_id) == ["FAC1"]
    assert _sources(steward, done["to_mpi_id"]) == ["FAC2", "FAC3"]
    link = _link(steward, "FAC2")
    assert (link["match_result"], link["link_source"], link["kept_apart_from"]) == (
        "NO_MATCH",
        "MANUAL",
        [mpi_id],
    )
    last = steward.get(f"/links/{link['id']}/history").json()["items"][-1]
    assert (last["rule"], last["actor"], last["reason"]["note"]) == (
        "manual_split",
        "test",
        "other twin",
    )
    events = list(session.scalars(select(Event).where(Event.type.like("patient.%"))))
    assert ("patient.created", done["to_mpi_id"]) in [(e.type, e.mpi_id) for e in events]
    split = session.get(Event, done["split_id"])
    assert (split.type, split.mpi_id, split.data["actor"], split.data["to_mpi_id"]) == (
        "patient.split",
        mpi_id,
        "test",
        done["to_mpi_id"],
    )


def test_split_onto_a_named_patient(steward, make_record, other_person):
    mpi_id = _patient_of_three(steward, make_record)
    other = _post(steward, make_record(source="FAC9", **other_person))["mpi_id"]

    done = _split(steward, mpi_id, records=[_key(3)], to_mpi_id=other).json()

    assert (done["to_mpi_id"], done["created"]) == (other, False)
    assert _sources(steward, other) == ["FAC3", "FAC9"]
    assert _sources(steward, mpi_id) == ["FAC1", "FAC2"]


def test_refusals_name_the_field_and_write_nothing(steward, session, make_record, other_person):
    mpi_id = _patient_of_three(steward, make_record)
    elsewhere = make_record(source="FAC9", **other_person)
    assert _post(steward, elsewhere)["mpi_id"] != mpi_id
    elsewhere_key = {"source": "FAC9", "source_record_id": elsewhere["source_record_id"]}
    before = session.scalar(select(func.count()).select_from(Event))

    answers = {
        "all": _split(steward, mpi_id, records=[_key(1), _key(2), _key(3)]),
        "unknown": _split(steward, mpi_id, records=[_key(2), _key(7)]),
        "twice": _split(steward, mpi_id, records=[_key(2), _key(2)]),
        "itself": _split(steward, mpi_id, records=[_key(2)], to_mpi_id=mpi_id),
        "nobody": _split(steward, mpi_id, records=[_key(2)], to_mpi_id="mpi_nobody"),
        "none": _split(steward, mpi_id, records=[]),
        "elsewhere": _split(steward, mpi_id, records=[elsewhere_key]),
    }

    assert {k: a.status_code for k, a in answers.items()} == {
        "all": 422,
        "unknown": 404,
        "twice": 422,
        "itself": 422,
        "nobody": 404,
        "none": 422,
        "elsewhere": 422,
    }
    assert answers["all"].json()["detail"].startswith("records:")
    assert answers["unknown"].json() == {
        "error": "RecordNotFound",
        "detail": "records[1]: names no record",
    }
    assert answers["twice"].json()["detail"].startswith("records[1]:")
    assert answers["itself"].json()["detail"].startswith("to_mpi_id:")
    assert answers["nobody"].json()["detail"].startswith("to_mpi_id:")
    assert [p["field"] for p in answers["none"].json()["detail"]] == ["records"]
    assert answers["elsewhere"].json()["detail"].startswith("records[0]:")
    assert session.scalar(select(func.count()).select_from(Event)) == before
    assert _sources(steward, mpi_id) == ["FAC1", "FAC2", "FAC3"]
    for answer in answers.values():
        for value in DEMOGRAPHIC_VALUES:
            assert value not in answer.text


def test_a_merged_path_id_redirects_to_the_survivors_split(steward, make_record, other_person):
    survivor = _post(steward, make_record(source="FAC1"))["mpi_id"]
    absorbed = _post(steward, make_record(source="FAC2", **other_person))["mpi_id"]
    steward.post(
        f"/patients/{survivor}/merge",
        json={"other_mpi_id": absorbed, "force": True, "reason": "checked"},
    )

    response = steward.post(
        f"/patients/{absorbed}/split", json={"records": [_key(2)]}, follow_redirects=False
    )

    assert response.status_code == 308
    assert response.headers["location"] == f"/patients/{survivor}/split"


def test_the_worker_never_joins_a_split_record_again(steward, session, make_record, moved):
    first = _post(steward, make_record(source="FAC1"))
    second = _post(steward, make_record(source="FAC2", **moved))
    (pair,) = _link(steward, "FAC2")["pairs"]
    steward.post(
        f"/patients/{first['mpi_id']}/merge",
        json={"other_mpi_id": second["mpi_id"], "force": True, "reason": "checked"},
    )
    done = _split(steward, first["mpi_id"], records=[_key(2)]).json()

    verdict = apply.decide(session, adjudication_id=pair["adjudication_id"], scores=MATCHES)

    session.expire_all()
    assert verdict == "review"
    assert _sources(steward, first["mpi_id"]) == ["FAC1"]
    assert _sources(steward, done["to_mpi_id"]) == ["FAC2"]
