"""Dataset assembly from checkpoints: determinism, nulls, truth, an exact error log, and life."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from collections import defaultdict

import pyarrow.parquet as pq
import pytest

from mpi_store.datasets import iter_payloads
from mpi_store.domain.contracts import RecordCreate
from mpi_training.corruption.config import CorruptionConfig
from mpi_training.generate import GenerateParams, generate
from mpi_training.geography import Place, zip_table
from mpi_training.life_events import EVENT_KINDS, LifeEventRates
from mpi_training.simulation import SimulationMismatchError
from mpi_training.tables import read_rows, record_key

OUTPUTS = ("records.parquet", "events.parquet", "truth.parquet", "error_log.jsonl", "manifest.json")
PATIENTS = 60
# Every facility holds the patient's one set of demographics, as before life events.
STATIC = {"life_events": False, "field_profiles": False, "registration_only_share": 0.0}


@pytest.fixture
def dataset(tmp_path, fake_parts):
    params = GenerateParams.from_preset("clinfuse-inference", patients=PATIENTS, seed=11, **STATIC)
    out = tmp_path / "run"
    fake_parts(out, params.simulation, PATIENTS)
    manifest = generate(out, params, keep_parts=True)
    return out, params, manifest


def test_same_seed_and_parameters_give_byte_identical_files(dataset, tmp_path):
    out, params, _ = dataset
    again = tmp_path / "again"
    shutil.copytree(out / "parts", again / "parts")
    generate(again, params)
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    assert not (again / "parts").exists(), "checkpoints are removed after a finished run"


def test_another_seed_gives_other_corruption(dataset, tmp_path, fake_parts):
    out, _params, _ = dataset
    other = GenerateParams.from_preset("clinfuse-inference", patients=PATIENTS, seed=12, **STATIC)
    fake_parts(tmp_path / "other", other.simulation, PATIENTS)
    generate(tmp_path / "other", other)
    assert (out / "records.parquet").read_bytes() != (
        tmp_path / "other" / "records.parquet"
    ).read_bytes()


def test_nulls_stay_null_and_postcodes_stay_strings(dataset):
    out, _, _ = dataset
    table = pq.read_table(out / "records.parquet")
    assert table.schema.field("postcode").type == "string"
    assert table.schema.field("birth_date").type == "date32[day]"
    rows = table.to_pylist()
    nulls = 0
    for row in rows:
        for field, value in row.items():
            assert value not in ("nan", "None", "NaN", "00nan", ""), field
            nulls += value is None
        if row["postcode"] is not None:
            assert row["postcode"] == "02118"
    assert nulls > 0


def test_error_log_matches_the_data_exactly(dataset, make_history):
    out, _, manifest = dataset
    records = {
        (r["source"], r["source_record_id"]): r
        for r in pq.read_table(out / "records.parquet").to_pylist()
    }
    truth = {
        (r["source"], r["source_record_id"]): r
        for r in pq.read_table(out / "truth.parquet").to_pylist()
    }
    log = defaultdict(list)
    for line in (out / "error_log.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        log[(entry["source"], entry["source_record_id"])].append(entry)
    changes = 0
    for key, record in records.items():
        entries = log[key]
        last = {}
        for entry in entries:
            assert entry["before"] != entry["after"], "no-ops are not logged"
            if entry["field"] in last:
                assert entry["before"] == last[entry["field"]], "the log chains"
            last[entry["field"]] = entry["after"]
        for field, after in last.items():
            value = record[field]
            assert (value.isoformat() if isinstance(value, dt.date) else value) == after
        changes += len(entries)
        # Fields the log never touched hold the (household-adjusted) original value.
        if truth[key]["confusable_group"] is None:
            index = int(truth[key]["patient_id"].split("-")[1])
            original = make_history(index)["demographics"]
            for field in ("given_name", "family_name", "city", "ssn", "phone"):
                if field not in last:
                    assert record[field] == original[field]
    assert changes == manifest["counts"]["field_changes"]


def test_truth_has_one_row_per_record_and_counts_add_up(dataset):
    out, _, manifest = dataset
    truth = pq.read_table(out / "truth.parquet").to_pylist()
    records = pq.read_table(out / "records.parquet").to_pylist()
    assert [(t["source"], t["source_record_id"]) for t in truth] == [
        (r["source"], r["source_record_id"]) for r in records
    ]
    assert len({t["patient_id"] for t in truth}) == PATIENTS
    per_patient = manifest["counts"]["records_per_patient"]
    assert sum(int(k) * v for k, v in per_patient.items()) == len(records)
    groups = defaultdict(set)
    for t in truth:
        if t["confusable_group"]:
            groups[t["confusable_group"]].add(t["patient_id"])
    assert len(groups) == sum(manifest["counts"]["confusable_groups"].values()) == 3
    assert all(len(patients) == 2 for patients in groups.values())


def test_every_record_is_a_valid_post_body(dataset):
    out, _, _ = dataset
    total, payloads = iter_payloads(out)
    bodies = [RecordCreate.model_validate(p) for p in payloads]
    assert len(bodies) == total
    assert sum(len(b.clinical.observations) for b in bodies if b.clinical) == PATIENTS * 5


def test_resume_refuses_other_simulation_parameters(dataset):
    out, _, _ = dataset
    with pytest.raises(SimulationMismatchError):
        generate(out, GenerateParams(patients=PATIENTS, seed=99))


# --- life events, collection profiles, registration-only feeds --------------------------------

CLEAN = CorruptionConfig(0, 0, 0.0)
MOVE_EVERY_YEAR = LifeEventRates(move_rate_by_age=((0, 1.0),), phone_change_rate=0.0)
# Ten yearly encounters (2015-2024): the primary facility's last is in 2020, the others' later.
SPREAD = {"encounters": 10, "spacing_days": 365, "first": dt.date(2015, 1, 15)}


def _run(tmp_path, fake_parts, name, shape=None, **kwargs):
    params = GenerateParams(patients=PATIENTS, seed=11, **kwargs)
    out = tmp_path / name
    fake_parts(out, params.simulation, PATIENTS, **(shape or {}))
    return out, generate(out, params)


def _by_patient(out):
    truth = {record_key(t): t["patient_id"] for t in read_rows(out / "truth.parquet")}
    patients = defaultdict(list)
    for record in read_rows(out / "records.parquet"):
        patients[truth[record_key(record)]].append(record)
    return patients


def _last_encounter(out):
    last = {}
    for event in read_rows(out / "events.parquet"):
        if event["type"] == "encounter":
            key = record_key(event)
            last[key] = max(last.get(key, event["start"]), event["start"])
    return last


def test_a_moved_patients_early_and_late_records_differ_in_address(tmp_path, fake_parts):
    out, manifest = _run(
        tmp_path, fake_parts, "moves", SPREAD, corruption=CLEAN, confusable_share=0.0,
        life_event_rates=MOVE_EVERY_YEAR, field_profiles=False, registration_only_share=0.0,
    )  # fmt: skip
    last = _last_encounter(out)
    places = set(zip_table("Massachusetts").places)
    straddling = 0
    for records in _by_patient(out).values():
        for record in records:
            assert Place(record["postcode"], record["city"]) in places
        for a, b in itertools.combinations(records, 2):
            gap = abs(last[record_key(a)].year - last[record_key(b)].year)
            if gap >= 2:  # a whole year of the window, so at least one move, lies between
                straddling += 1
                assert a["address_line1"] != b["address_line1"]
            if gap == 0 and last[record_key(a)] == last[record_key(b)]:
                assert a["address_line1"] == b["address_line1"]
    assert straddling > 10
    life = manifest["counts"]["life_events"]
    assert life["patients_with_moves"] == PATIENTS
    assert life["multi_facility_patients_with_other_addresses"] > 0
    assert set(life["events"]) <= set(EVENT_KINDS)


def test_without_life_events_every_facility_holds_the_same_person(tmp_path, fake_parts):
    out, manifest = _run(
        tmp_path, fake_parts, "static", SPREAD, corruption=CLEAN, confusable_share=0.0,
        life_events=False, field_profiles=False,
    )  # fmt: skip
    for records in _by_patient(out).values():
        assert len({(r["address_line1"], r["postcode"], r["phone"]) for r in records}) == 1
    assert manifest["counts"]["life_events"] is None


def test_facilities_leave_out_the_fields_of_their_profile(tmp_path, fake_parts):
    out, manifest = _run(
        tmp_path, fake_parts, "profiles", corruption=CLEAN, life_events=False,
        registration_only_share=0.0,
    )  # fmt: skip
    profiles = manifest["field_profiles"]
    assert set(profiles) == {f"facility-{i:02d}" for i in range(1, 6)}
    assert any(profiles.values())
    records = read_rows(out / "records.parquet")
    for record in records:
        left_out = set(profiles[record["source"]])
        for field in ("ssn", "phone", "address_line1"):
            assert (record[field] is None) == (field in left_out), field
    ssn_blank = sum(r["ssn"] is None for r in records)
    assert ssn_blank == manifest["counts"]["null_fields"]["ssn"] > 0


def test_registration_only_records_keep_their_demographics_and_lose_their_events(
    tmp_path, fake_parts
):
    full, _ = _run(tmp_path, fake_parts, "full", registration_only_share=0.0)
    adt, manifest = _run(tmp_path, fake_parts, "adt", registration_only_share=0.4)
    for name in ("records.parquet", "truth.parquet", "error_log.jsonl"):
        assert (full / name).read_bytes() == (adt / name).read_bytes(), name
    events_full, events_adt = defaultdict(list), defaultdict(list)
    for folder, into in ((full, events_full), (adt, events_adt)):
        for event in read_rows(folder / "events.parquet"):
            into[record_key(event)].append(event)
    dropped = set(events_full) - set(events_adt)
    assert all(events_adt[key] == events_full[key] for key in events_adt)
    records = manifest["counts"]["records"]
    # Records that had no events to lose (an assigned facility with no encounter) count too.
    assert len(dropped) <= manifest["counts"]["registration_only_records"] <= records
    assert 0.25 < manifest["counts"]["registration_only_records"] / records < 0.55


def test_lifelike_defaults_are_deterministic_and_in_the_manifest(tmp_path, fake_parts):
    out, manifest = _run(tmp_path, fake_parts, "first", SPREAD)
    params = GenerateParams(patients=PATIENTS, seed=11)
    again = tmp_path / "again"
    fake_parts(again, params.simulation, PATIENTS, **SPREAD)
    generate(again, params)
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    parameters, counts = manifest["parameters"], manifest["counts"]
    assert parameters["state"] == "Massachusetts"
    assert parameters["life_events"] is parameters["field_profiles"] is True
    assert parameters["life_event_rates"]["move_rate_by_age"]["25"] == 0.20
    assert parameters["field_profile_shares"]["ssn"] == pytest.approx(1 / 3)
    assert parameters["registration_only_share"] == 0.15
    assert counts["registration_only_records"] > 0
    assert counts["life_events"]["patients_with_moves"] > 0
    assert sum(counts["attempts_per_record"].values()) == counts["records"]
    assert manifest["command"] == "mpi data generate --patients 60 --seed 11 --out DIR"


def test_the_command_spells_out_what_is_not_the_default():
    params = GenerateParams.from_preset("clinfuse-training", patients=200, seed=42, **STATIC)
    assert params.command() == (
        "mpi data generate --patients 200 --seed 42 --preset clinfuse-training "
        "--no-life-events --no-field-profiles --registration-only-share 0 --out DIR"
    )
    other = GenerateParams(
        patients=5,
        seed=1,
        corruption=CorruptionConfig(2, 2, 1.0),
        preset="default+overrides",
        state="New York",
        registration_only_share=0.25,
    )
    assert other.command() == (
        "mpi data generate --patients 5 --seed 1 --min-errors 2 --max-errors 2 "
        "--multi-error-probability 1.0 --state 'New York' --registration-only-share 0.25 --out DIR"
    )
    assert other.simulation.state == "New York"


def test_presets_share_the_people_and_their_lives(tmp_path, fake_parts):
    runs = []
    for preset in ("standard", "adversarial"):
        params = GenerateParams.from_preset(preset, patients=PATIENTS, seed=11)
        out = tmp_path / preset
        fake_parts(out, params.simulation, PATIENTS, **SPREAD)
        runs.append((out, generate(out, params)))
    (first, one), (second, other) = runs
    for name in ("events.parquet", "truth.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert one["counts"]["life_events"] == other["counts"]["life_events"]
    assert one["field_profiles"] == other["field_profiles"]
    assert one["counts"]["errors_per_record"] != other["counts"]["errors_per_record"]
