"""The model check and repair: floors, untrained levels and level order."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from mpi_linker.model.check import M_FLOOR, U_FLOOR, check, levels, repair


def _shipped() -> dict:
    text = (resources.files("mpi_linker.model") / "default.json").read_text()
    return json.loads(text)["splink"]


def _comparison(model: dict, name: str) -> list[dict]:
    comparison = next(c for c in model["comparisons"] if c["output_column_name"] == name)
    return [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]


@pytest.fixture
def degenerate() -> dict:
    """A model with one level of each defect the training of today's model produced."""
    model = copy.deepcopy(_shipped())
    _comparison(model, "sex")[-1]["m_probability"] = 1e-27  # sex "else" at -90 bits
    postcode = _comparison(model, "postcode")
    postcode[1]["m_probability"] = 1.7e-18  # "same area": nobody moved
    postcode[2].pop("m_probability", None)  # "else": never seen
    postcode[2].pop("u_probability", None)
    given = _comparison(model, "given_name")
    given[2]["m_probability"] = 1e-30  # a nickname below full disagreement
    given[4]["u_probability"] = 1e-12  # swapped names above an exact match
    return model


def test_check_names_every_defect(degenerate):
    found = {(v.comparison, v.rule) for v in check(degenerate)}
    assert ("sex", "m_below_floor") in found
    assert ("postcode", "m_below_floor") in found
    assert ("postcode", "untrained") in found
    assert ("given_name", "below_disagreement") in found
    assert ("given_name", "above_agreement") in found
    assert ("given_name", "u_below_floor") in found


def test_repair_leaves_nothing_to_check(degenerate):
    repaired, found = repair(degenerate)
    assert found
    assert check(repaired) == []
    assert degenerate != repaired  # a copy: the input is untouched
    for level in levels(repaired):
        assert level.m >= M_FLOOR * (1 - 1e-6)
        assert level.u >= U_FLOOR * (1 - 1e-6)
        # Both floors bound every weight: no level can veto or force a link on its own.
        assert -10.5 < level.weight < 20.5


def test_repair_keeps_order_within_each_comparison(degenerate):
    repaired, _ = repair(degenerate)
    by_comparison: dict[str, list[float]] = {}
    for level in levels(repaired):
        by_comparison.setdefault(level.comparison, []).append(level.weight)
    for weights in by_comparison.values():
        assert all(weights[-1] - 1e-6 <= w <= weights[0] + 1e-6 for w in weights)
    for name in ("given_name", "postcode", "sex"):
        for key in ("m_probability", "u_probability"):
            assert sum(lv[key] for lv in _comparison(repaired, name)) == pytest.approx(1.0)


def test_repair_changes_nothing_in_a_sane_model(degenerate):
    repaired, _ = repair(degenerate)
    again, found = repair(repaired)
    assert found == []
    for before, after in zip(levels(repaired), levels(again), strict=True):
        assert after.weight == pytest.approx(before.weight, abs=1e-6)
