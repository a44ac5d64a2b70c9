"""The compiled scorer gives Splink's own predict, level for level, on >= 100k pairs.

Pairs are groups of variants of one person (typos, transpositions, nicknames, swapped and
compound names, day-month swaps, near dates, moves, other scripts, missing fields) and
strangers, so every level of every comparison is taken many times. Splink predicts them
(batch, DuckDB, its term frequencies computed from the same records); the compiled model gets
the same records and those frequencies. Checked for the shipped model and one trained here.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from splink import DuckDBAPI, Linker

from mpi_linker.compiled import CompiledModel, UnsupportedLevel
from mpi_linker.features import FEATURE_COLUMNS, TF_COLUMNS, features
from mpi_linker.frames import frame, read_records
from mpi_linker.model.artifact import load
from mpi_linker.model.train import train_splink

FIXTURE = Path(__file__).parents[2] / "data" / "fixture"
GROUPS = 17_000  # of 4 records: 6 pairs each, 102,000 pairs
GIVEN = [
    "maria",
    "mary",
    "william",
    "bill",
    "robert",
    "bob",
    "katherine",
    "catherine",
    "jon",
    "john",
    "josé",
    "jose",
    "zoë",
    "li",
    "wei",
    "伟",
    "ahmed",
    "ahmad",
    "anne-marie",
    "a",
]
FAMILY = [
    "gonzalez",
    "gonzales",
    "smith",
    "smyth",
    "garcia lopez",
    "garcia",
    "o'neil",
    "oneil",
    "nguyen",
    "王",
    "ivanov",
    "иванов",
    "mcdonald",
    "macdonald",
    "lee",
    "li",
]
STREETS = ["12 elm street", "12 elm st", "7 oak avenue", "990 harbor road", "1 main st"]
CITIES = ["springfield", "boston", "salem", "gloucester", None]
ALPHABET = "abcdefghijklmnopqrstuvwxyzé王"


def _typo(rng: random.Random, text: str) -> str:
    chars = list(text)
    operation = rng.randrange(4)
    if operation == 0 and chars:
        chars[rng.randrange(len(chars))] = rng.choice(ALPHABET)
    elif operation == 1:
        chars.insert(rng.randint(0, len(chars)), rng.choice(ALPHABET))
    elif operation == 2 and len(chars) > 1:
        del chars[rng.randrange(len(chars))]
    elif len(chars) > 1:
        i = rng.randrange(len(chars) - 1)
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _person(rng: random.Random) -> dict[str, Any]:
    return {
        "given_name": rng.choice(GIVEN),
        "family_name": rng.choice(FAMILY),
        "birth_date": dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30_000)),
        "sex": rng.choice(["female", "male", None]),
        "ssn": _digits(rng, 9),
        "phone": _digits(rng, 10),
        "postcode": rng.choice(["01103", "01105", "02110", "01930"]),
        "address_line1": rng.choice(STREETS),
        "city": rng.choice(CITIES),
    }


def _birth_date_variant(rng: random.Random, date: dt.date) -> Any:
    kind = rng.randrange(6)
    if kind == 0 and date.day <= 12:
        return dt.date(date.year, date.day, date.month)
    if kind == 1:
        return (date + dt.timedelta(days=rng.choice([-25, -1, 1, 20]))).isoformat()
    if kind == 2:
        return (date + dt.timedelta(days=rng.choice([-300, 200, 360]))).isoformat()
    if kind == 3:
        text = date.isoformat()
        i = rng.choice([2, 3, 5, 6, 8, 9])
        typo = text[:i] + rng.choice("0123456789") + text[i + 1 :]
        try:
            return dt.date.fromisoformat(typo)
        except ValueError:
            return date
    return date


def _variant(rng: random.Random, person: dict[str, Any]) -> dict[str, Any]:
    """The same person as another facility might register them."""
    record = dict(person)
    for field in ("given_name", "family_name", "address_line1", "city"):
        if record[field] and rng.random() < 0.3:
            record[field] = _typo(rng, record[field])
    if rng.random() < 0.1:
        record["given_name"], record["family_name"] = record["family_name"], record["given_name"]
    if rng.random() < 0.15:
        record["given_name"] = rng.choice(GIVEN)
    if rng.random() < 0.1 and record["family_name"]:
        record["family_name"] = record["family_name"].split(" ")[0]
    record["birth_date"] = _birth_date_variant(rng, person["birth_date"])
    for field in ("ssn", "phone"):
        if rng.random() < 0.3:
            record[field] = _typo(rng, record[field]).replace("é", "1").replace("王", "2")
    if rng.random() < 0.3:
        record["postcode"] = rng.choice(["01103", "01105", "02110", "01930"])
    if rng.random() < 0.1:
        record["sex"] = rng.choice(["female", "male", None])
    for field in record:
        if rng.random() < 0.12:
            record[field] = None
    return record


def _population() -> pa.Table:
    rng = random.Random(20261204)
    rows = []
    for group in range(GROUPS):
        person = _person(rng)
        members = [_variant(rng, person) for _ in range(3)] + [_person(rng)]
        for i, member in enumerate(members):
            birth = member["birth_date"]
            member["birth_date"] = dt.date.fromisoformat(birth) if isinstance(birth, str) else birth
            rows.append({"unique_id": f"{group}-{i}", "pair_group": str(group), **features(member)})
    schema = pa.schema(
        [
            ("unique_id", pa.string()),
            ("pair_group", pa.string()),
            *[
                (c, pa.list_(pa.string()) if c == "given_aliases" else pa.string())
                for c in FEATURE_COLUMNS
            ],
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _trained() -> dict[str, Any]:
    return train_splink(frame(read_records(FIXTURE))).splink


@pytest.fixture(scope="module")
def population() -> pa.Table:
    return _population()


@pytest.mark.parametrize("model", ["shipped", "trained"])
def test_compiled_scores_equal_splink_predict(population, model):
    splink_model = load().splink if model == "shipped" else _trained()
    settings = {
        **splink_model,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": 'l."pair_group" = r."pair_group"', "sql_dialect": "duckdb"}
        ],
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": True,
    }
    linker = Linker(DuckDBAPI().register(population), settings)
    expected = linker.inference.predict(warning_mode="never").as_record_list()
    assert len(expected) >= 100_000

    records = {row["unique_id"]: row for row in population.to_pylist()}

    def side(pair: dict[str, Any], s: str) -> dict[str, Any]:
        row = records[pair[f"unique_id_{s}"]]
        return {**row, **{f"tf_{c}": pair.get(f"tf_{c}_{s}") for c in TF_COLUMNS}}

    model = CompiledModel(splink_model)
    compiled = model.score([side(p, "l") for p in expected], [side(p, "r") for p in expected])

    names = [c["output_column_name"] for c in splink_model["comparisons"]]
    taken: Counter[tuple[str, int]] = Counter()
    worst = 0.0
    for want, got in zip(expected, compiled, strict=True):
        assert (got["unique_id_l"], got["unique_id_r"]) == (
            want["unique_id_l"],
            want["unique_id_r"],
        )
        for name in names:
            assert got[f"gamma_{name}"] == want[f"gamma_{name}"], (name, want, got)
            taken[(name, got[f"gamma_{name}"])] += 1
        worst = max(worst, abs(got["match_weight"] - want["match_weight"]))
        assert got["match_probability"] == pytest.approx(want["match_probability"], abs=1e-12)
    assert worst <= 1e-9

    # The online path: one record against its candidates (each left record's pairs at once).
    by_left: dict[str, list[dict[str, Any]]] = {}
    for pair in expected:
        by_left.setdefault(pair["unique_id_l"], []).append(pair)
    for pairs in by_left.values():
        scores = model.against(side(pairs[0], "l"), [side(p, "r") for p in pairs])
        for at, want in enumerate(pairs):
            for name in names:
                assert scores.gamma[name][at] == want[f"gamma_{name}"], (name, want)
            assert abs(scores.match_weight[at] - want["match_weight"]) <= 1e-9
    # Every level of every comparison was taken by some pair.
    for comparison in splink_model["comparisons"]:
        name = comparison["output_column_name"]
        levels = len(comparison["comparison_levels"]) - 1
        assert {g for (n, g), _ in taken.items() if n == name} == {-1, *range(levels)}, name


def test_a_condition_it_does_not_know_refuses_the_model():
    model = load().splink
    comparison = {
        **model["comparisons"][0],
        "comparison_levels": [
            *model["comparisons"][0]["comparison_levels"][:-1],
            {
                "sql_condition": "levenshtein(given_name_l, given_name_r) <= 2",
                "m_probability": 0.1,
                "u_probability": 0.1,
            },
            model["comparisons"][0]["comparison_levels"][-1],
        ],
    }
    with pytest.raises(UnsupportedLevel, match="levenshtein"):
        CompiledModel({**model, "comparisons": [comparison]})
