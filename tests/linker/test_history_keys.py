"""History keys: rare shared codes make candidates, common or absent histories make none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mpi_linker.cli import app
from mpi_linker.features import blocking_keys, features, lock_keys
from mpi_linker.frames import frame, frame_of_features, read_events, read_records, record_key
from mpi_linker.history_keys import Rarity, history_keys, is_history_key, shipped_rarity
from mpi_linker.model.artifact import load
from mpi_linker.model.train import predict_pairs

FIXTURE = Path(__file__).parents[2] / "data" / "fixture"
SNOMED = "http://snomed.info/sct"


def rare_events(*codes: str, event_type: str = "condition") -> list[dict[str, str]]:
    # Codes no training record had: as rare as codes get.
    return [{"type": event_type, "code_system": SNOMED, "code": f"99900{c}"} for c in codes]


def common_events() -> list[dict[str, str]]:
    rarity = shipped_rarity()
    common = sorted(rarity.document_frequency, key=rarity.document_frequency.__getitem__)[-10:]
    assert all(not rarity.is_rare(c) for c in common)
    return [
        {"type": "condition", "code_system": c.split("|")[0], "code": c.split("|")[1]}
        for c in common
    ]


def test_history_keys_are_deterministic_across_processes():
    events = rare_events("1", "2", "3")
    script = (
        "from mpi_linker.history_keys import history_keys;"
        f"print(','.join(history_keys({events!r})))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }

    assert runs == {",".join(history_keys(events))}
    assert history_keys(events) == history_keys(list(reversed(events)))
    assert all(key.startswith("hist:") for key in history_keys(events))


def test_records_sharing_rare_codes_share_a_key():
    first = rare_events("1", "2", "3") + common_events()
    second = rare_events("2", "3", "4", event_type="condition")

    assert set(history_keys(first)) & set(history_keys(second))
    assert not set(history_keys(rare_events("1", "2"))) & set(history_keys(rare_events("3", "4")))


def test_common_or_absent_histories_give_no_keys():
    assert history_keys(common_events()) == []
    assert history_keys([]) == []
    assert history_keys(None) == []
    # Encounters and observations never count, however rare their codes.
    assert history_keys(rare_events("1", "2", "3", event_type="encounter")) == []
    assert history_keys(rare_events("1", "2", "3", event_type="observation")) == []


def test_history_keys_join_the_blocking_keys_but_never_lock():
    row = features({"given_name": "Ann", "family_name": "Lee", "birth_date": "1990-05-06"})
    keys = blocking_keys(row, rare_events("1", "2", "3"))

    assert set(history_keys(rare_events("1", "2", "3"))) <= set(keys)
    assert set(blocking_keys(row)) <= set(keys)
    assert lock_keys(keys)
    assert not any(is_history_key(key) for key in lock_keys(keys))


def test_frames_carry_the_history_keys_of_a_dataset():
    records = read_records(FIXTURE)
    events = read_events(FIXTURE)
    with_history = {r["unique_id"]: r["blocking_keys"] for r in frame(records, events).to_pylist()}
    without = {r["unique_id"]: r["blocking_keys"] for r in frame(records).to_pylist()}

    assert any(any(map(is_history_key, keys)) for keys in with_history.values())
    assert not any(any(map(is_history_key, keys)) for keys in without.values())
    for r in records[:50]:
        key = record_key(r["source"], r["source_record_id"])
        assert with_history[key] == sorted({*without[key], *history_keys(events.get(key))})


def test_weak_demographics_with_a_shared_rare_history_become_a_candidate_pair():
    history = rare_events("1", "2", "3", "4")
    records = [
        {"source": "A", "source_record_id": "1", "given_name": "Oluwaseun",
         "family_name": "Abernathy", "birth_date": "1951-11-30", "sex": "male"},
        {"source": "B", "source_record_id": "2", "given_name": "Maria",
         "family_name": "Gonzalez", "birth_date": "1984-03-12", "sex": "female"},
    ]  # fmt: skip
    keys = [set(blocking_keys(features(r))) for r in records]
    assert not keys[0] & keys[1]
    events = {record_key("A", "1"): history, record_key("B", "2"): history[1:]}

    assert predict_pairs(frame(records), load().splink) == []
    pairs = predict_pairs(frame(records, events), load().splink)
    assert [(p["unique_id_l"], p["unique_id_r"]) for p in pairs] == [
        (record_key("A", "1"), record_key("B", "2"))
    ]


def test_fit_history_writes_a_table_and_refuses_the_evaluation_set(tmp_path):
    out = tmp_path / "rarity.json"
    runner = CliRunner()

    fitted = runner.invoke(app, ["fit-history", "--data", str(FIXTURE), "--out", str(out)])
    refused = runner.invoke(
        app, ["fit-history", "--data", str(FIXTURE.parent / "eval"), "--out", str(out)]
    )

    assert fitted.exit_code == 0, fitted.output
    rarity = Rarity.from_json(out.read_text())
    assert rarity.records == 401
    assert rarity.parameters == shipped_rarity().parameters
    assert refused.exit_code == 2
    assert "evaluation set" in refused.output


def test_pairs_the_training_records_hold_together_give_no_key():
    together = rare_events("1", "2")
    others = [rare_events(f"1{i:02d}", f"2{i:02d}") for i in range(37)]
    rarity = Rarity.fit([together, together, together, *others])

    assert rarity.common_pairs
    assert history_keys(together, rarity) == []
    assert history_keys(rare_events("1", "3"), rarity)


def test_frames_of_stored_features_keep_the_stored_history_keys():
    row = features({"given_name": "Ann", "family_name": "Lee", "birth_date": "1990-05-06"})
    stored = history_keys(rare_events("1", "2", "3"))
    (framed,) = frame_of_features([("r1", row)], {"r1": stored}).to_pylist()

    assert framed["blocking_keys"] == sorted({*blocking_keys(row), *stored})
