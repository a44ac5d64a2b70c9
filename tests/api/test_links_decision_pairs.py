"""`mpi export-decisions`: every MANUAL decision as labelled record pairs in Parquet."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mpi_api.cli import app
from mpi_api.links.decision_pairs import decision_pairs, write_parquet
from mpi_store.domain.enums import Scope

COLUMNS = [
    "decision_id",
    "record_source",
    "record_source_record_id",
    "other_source",
    "other_source_record_id",
    "label",
    "rule",
    "actor",
    "decided_at",
    "splink_probability",
    "match_weight",
    "classifier_probability",
    "fused_probability",
    "model_version",
    "classifier_model",
]


def _decide(client, link_id, **body):
    link = client.get("/links", params={"source": "FAC2"}).json()["items"][0]
    response = client.post(f"/links/{link_id}/decision", json={"version": link["version"], **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_steward_decisions_become_labelled_pairs(
    client, session, make_key, make_record, moved, other_person, tmp_path
):
    first = client.post("/records", json=make_record(source="FAC1")).json()
    client.post("/records", json=make_record(source="FAC3", **other_person))
    gray = make_record(source="FAC2", **moved)
    client.post("/records", json=gray)
    link = client.get("/links", params={"source": "FAC2"}).json()["items"][0]
    (pair,) = link["pairs"]
    client.headers["Authorization"] = f"Bearer {make_key([Scope.LINKS_WRITE, Scope.PATIENTS_READ])}"
    _decide(client, link["id"], match_result="MATCH", mpi_id=first["mpi_id"])
    _decide(client, link["id"], match_result="NO_MATCH", reason="other chart")

    rows = list(decision_pairs(session))
    written = write_parquet(iter(rows), tmp_path / "pairs.parquet")

    assert written == 2
    match, no_match = rows
    for row in rows:
        assert (row.record_source, row.record_source_record_id) == (
            "FAC2",
            gray["source_record_id"],
        )
        assert (row.other_source, row.other_source_record_id) == ("FAC1", "MRN000001")
        assert (row.actor, row.rule) == ("test", "manual")
        assert row.splink_probability == pytest.approx(pair["splink_probability"])
        assert row.model_version == link["model_version"]
    assert (match.label, no_match.label) == (1, 0)
    # One test transaction: now() is the same for both.
    assert match.decided_at <= no_match.decided_at
    table = pq.read_table(tmp_path / "pairs.parquet")
    assert table.column_names == COLUMNS
    assert table.column("label").to_pylist() == [1, 0]


def test_an_automatic_decision_is_not_a_label(client, session, make_record):
    client.post("/records", json=make_record(source="FAC1"))
    client.post("/records", json=make_record(source="FAC2", ssn="512449087"))

    assert list(decision_pairs(session)) == []


def test_an_empty_export_writes_the_schema(database_url, committed_engine, monkeypatch, tmp_path):
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)
    out = tmp_path / "pairs.parquet"

    result = CliRunner().invoke(app, ["export-decisions", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "0 labelled pairs" in result.stdout
    table = pq.read_table(out)
    assert (table.num_rows, table.column_names) == (0, COLUMNS)
    assert str(table.schema.field("label").type) == "int8"


def test_an_out_path_in_no_folder_is_one_line_and_exit_2(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)

    result = CliRunner().invoke(
        app, ["export-decisions", "--out", str(tmp_path / "missing" / "pairs.parquet")]
    )

    assert result.exit_code == 2
    assert "--out" in result.output
