"""Online scoring through Postgres equals Splink's batch predict on the same pairs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mpi_linker.features import TF_COLUMNS
from mpi_linker.frames import frame, read_records
from mpi_linker.model.artifact import load
from mpi_linker.model.train import predict_pairs
from mpi_linker.score.service import score_record
from mpi_linker.scoring import Scorer
from mpi_linker.term_frequencies import FrequencyTable
from mpi_store.models import GoldenRecord, Link, SourceRecord
from mpi_store.repositories import LinkerIndexRepository

FIXTURE = Path(__file__).parents[2] / "data" / "fixture"


@pytest.fixture(scope="module")
def scorer():
    return Scorer(load())


def _index_fixture(session, table):
    """Store every fixture record as its own patient and index it; return unique_id -> id."""
    ids = {}
    index = LinkerIndexRepository(session)
    for i, row in enumerate(table.to_pylist()):
        record = SourceRecord(
            source="FIX", source_record_id=str(i), identifiers=[], content_hash="x", version=1
        )
        golden = GoldenRecord(mpi_id=f"mpi_fix{i}", status="active", attributes={}, version=1)
        session.add_all([record, golden])
        session.flush()
        session.add(
            Link(
                record_id=record.id,
                golden_record_id=golden.id,
                match_result="NO_MATCH",
                link_source="AUTO",
                link_state="final",
                decision_id=uuid.uuid4(),
                version=1,
            )
        )
        features = {k: v for k, v in row.items() if k not in ("unique_id", "blocking_keys")}
        index.put(record.id, features=features, keys=row["blocking_keys"])
        ids[row["unique_id"]] = (record.id, features, row["blocking_keys"])
    session.flush()
    # Splink's own frequencies (no shrinking towards the model's u), as batch predict has them.
    index.refresh_term_frequencies(dict.fromkeys(TF_COLUMNS, 0.0), pseudo_records=0)
    return ids


def test_online_scores_equal_batch_predict(session, scorer):
    table = frame(read_records(FIXTURE))
    batch = predict_pairs(table, scorer.artifact.splink)
    ids = _index_fixture(session, table)
    assert len(batch) > 100

    worst = 0.0
    for pair in batch:
        record_id, features, keys = ids[pair["unique_id_l"]]
        other_id = ids[pair["unique_id_r"]][0]
        response = score_record(
            session,
            scorer=scorer,
            features=features,
            blocking_keys=keys,
            exclude_record_id=record_id,
            max_candidates=500,
            frequencies=FrequencyTable(),
        ).response
        online = {c.record_id: c for c in response.candidates}[other_id]
        worst = max(worst, abs(online.match_weight - pair["match_weight"]))
        assert online.match_probability == pytest.approx(pair["match_probability"], abs=1e-6)

    assert worst <= 1e-6


def test_candidate_cap(session, scorer):
    table = frame(read_records(FIXTURE))
    pair = predict_pairs(table, scorer.artifact.splink)[0]
    ids = _index_fixture(session, table)
    _, features, keys = ids[pair["unique_id_l"]]

    scored = score_record(
        session,
        scorer=scorer,
        features=features,
        blocking_keys=keys,
        exclude_record_id=None,
        max_candidates=1,
        frequencies=FrequencyTable(),
    )

    assert scored.capped
    response = scored.response
    assert response.capped
    assert len(response.candidates) == 1


def test_the_cap_keeps_the_records_sharing_the_most_keys(session, scorer):
    """Over the cap, the record dropped is one sharing the fewest keys, whatever its id: an
    exact copy's own record (every key shared) indexed after two that share one key stays."""
    row = frame(read_records(FIXTURE)).to_pylist()[0]
    features = {k: v for k, v in row.items() if k not in ("unique_id", "blocking_keys")}
    index = LinkerIndexRepository(session)
    ids = []
    for i, keys in enumerate((["k1"], ["k1"], ["k1", "k2", "k3"])):
        record = SourceRecord(
            source="CAP", source_record_id=str(i), identifiers=[], content_hash="x", version=1
        )
        golden = GoldenRecord(mpi_id=f"mpi_cap{i}", status="active", attributes={}, version=1)
        session.add_all([record, golden])
        session.flush()
        session.add(
            Link(
                record_id=record.id,
                golden_record_id=golden.id,
                match_result="NO_MATCH",
                link_source="AUTO",
                link_state="final",
                decision_id=uuid.uuid4(),
                version=1,
            )
        )
        index.put(record.id, features=features, keys=keys)
        ids.append(record.id)
    session.flush()

    scored = score_record(
        session,
        scorer=scorer,
        features=features,
        blocking_keys=["k1", "k2", "k3"],
        exclude_record_id=None,
        max_candidates=2,
        frequencies=FrequencyTable(),
    )

    assert scored.capped
    response = scored.response
    assert ids[2] in {c.record_id for c in response.candidates}


def test_a_score_names_the_key_kinds_and_adds_up_from_the_prior(session, scorer):
    """What an explanation shows: which kinds of key found the candidate (no values), and a
    match weight that is the prior plus the comparisons' weights."""
    row = frame(read_records(FIXTURE)).to_pylist()[0]
    features = {k: v for k, v in row.items() if k not in ("unique_id", "blocking_keys")}
    record = SourceRecord(
        source="WHY", source_record_id="1", identifiers=[], content_hash="x", version=1
    )
    golden = GoldenRecord(mpi_id="mpi_why", status="active", attributes={}, version=1)
    session.add_all([record, golden])
    session.flush()
    session.add(
        Link(
            record_id=record.id,
            golden_record_id=golden.id,
            match_result="NO_MATCH",
            link_source="AUTO",
            link_state="final",
            decision_id=uuid.uuid4(),
            version=1,
        )
    )
    LinkerIndexRepository(session).put(
        record.id, features=features, keys=["ssn:111223333", "dob_fam:1980-01-01|SM0", "phone:1"]
    )
    session.flush()

    response = score_record(
        session,
        scorer=scorer,
        features=features,
        blocking_keys=["ssn:111223333", "dob_fam:1980-01-01|SM0", "zip_street:x"],
        exclude_record_id=None,
        max_candidates=10,
        frequencies=FrequencyTable(),
    ).response

    (candidate,) = response.candidates
    assert candidate.blocking_key_kinds == ["dob_fam", "ssn"]
    assert response.prior_match_weight < 0 < response.prior_probability < 1
    assert list(candidate.comparisons) == [
        c["output_column_name"] for c in scorer.artifact.splink["comparisons"]
    ]
    total = response.prior_match_weight + sum(
        c.match_weight for c in candidate.comparisons.values()
    )
    assert total == pytest.approx(candidate.match_weight, abs=1e-6)
