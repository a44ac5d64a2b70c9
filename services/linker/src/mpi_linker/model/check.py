"""Sanity of a trained Splink model: every level trained, m and u above floors, weights ordered.

A model trained by EM on one population can carry levels that population never showed: a
"same 3-digit ZIP area" with m = 1e-18 (nobody moved), a sex disagreement at -90 bits, an
"else" level never seen at all. On the next population such a level vetoes true matches or
invents false ones. `check` lists the violations; `repair` fixes them, each with its reason:

- an untrained level (m or u missing) carries no evidence: u takes the mass the other levels
  leave, m = u (weight 0);
- m below `M_FLOOR` or u below `U_FLOOR` is raised to the floor;
- weights are bounded by the comparison's own ends: no partial agreement weighs less than
  full disagreement (the else level) nor more than full agreement (the first level);
- m and u are renormalised to sum to 1 over the comparison's levels, which shifts every
  weight of the comparison by the same amount and so keeps their order.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# No level may be rarer than 1 in 1,000 among true matches: real feeds hold every kind of
# disagreement at about that rate (a sex keyed wrong, a nickname), so a smaller m is an
# artefact of the training population. It bounds a level's weight below at -10 bits.
M_FLOOR = 1e-3
# u is measured on about 2 million sampled pairs; a value under 1 in a million is below what
# the sample can resolve. It bounds a level's weight above at about +20 bits.
U_FLOOR = 1e-6
# Relative slack of the floors and bounds (renormalising leaves rounding behind).
_TOLERANCE = 1e-6
_REPAIR_ROUNDS = 100


@dataclass(frozen=True)
class Level:
    comparison: str
    index: int
    label: str
    m: float | None
    u: float | None

    @property
    def weight(self) -> float | None:
        if self.m is None or self.u is None or self.m <= 0 or self.u <= 0:
            return None
        return math.log2(self.m / self.u)


@dataclass(frozen=True)
class Violation:
    comparison: str
    label: str
    rule: str  # untrained | m_below_floor | u_below_floor | below_disagreement | above_agreement
    detail: str

    def __str__(self) -> str:
        return f"{self.comparison} / {self.label}: {self.rule} ({self.detail})"


def levels(splink_model: dict[str, Any]) -> list[Level]:
    """Every non-null level of every comparison, in the model's order."""
    return [level for _, rows in _comparisons(splink_model) for level in rows]


def check(splink_model: dict[str, Any]) -> list[Violation]:
    found: list[Violation] = []
    for name, rows in _comparisons(splink_model):
        for level in rows:
            if level.m is None or level.u is None:
                found.append(Violation(name, level.label, "untrained", "m or u was not estimated"))
                continue
            if level.m < M_FLOOR * (1 - _TOLERANCE):
                found.append(Violation(name, level.label, "m_below_floor", f"m = {level.m:.3g}"))
            if level.u < U_FLOOR * (1 - _TOLERANCE):
                found.append(Violation(name, level.label, "u_below_floor", f"u = {level.u:.3g}"))
        weights = [level.weight for level in rows]
        if len(rows) < 2 or None in weights:
            continue
        found += _out_of_order(name, rows, [w for w in weights if w is not None])
    return found


def _out_of_order(name: str, rows: list[Level], weights: list[float]) -> list[Violation]:
    top, bottom = weights[0], weights[-1]
    found = []
    for level, weight in zip(rows[1:], weights[1:], strict=True):
        if weight < bottom - _TOLERANCE:
            detail = f"{weight:.2f} bits < {bottom:.2f} of '{rows[-1].label}'"
            found.append(Violation(name, level.label, "below_disagreement", detail))
        if weight > top + _TOLERANCE:
            detail = f"{weight:.2f} bits > {top:.2f} of '{rows[0].label}'"
            found.append(Violation(name, level.label, "above_agreement", detail))
    return found


def repair(splink_model: dict[str, Any]) -> tuple[dict[str, Any], list[Violation]]:
    """A copy of the model with every violation repaired, and the violations it had."""
    found = check(splink_model)
    repaired = copy.deepcopy(splink_model)
    for comparison in repaired["comparisons"]:
        trained = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        if trained:
            _repair_comparison(trained)
    return repaired, found


def _repair_comparison(rows: list[dict[str, Any]]) -> None:
    known_u = sum(r["u_probability"] for r in rows if r.get("u_probability") is not None)
    missing_u = [r for r in rows if r.get("u_probability") is None]
    for row in missing_u:
        row["u_probability"] = max((1.0 - known_u) / len(missing_u), U_FLOOR)
    for row in rows:
        if row.get("m_probability") is None:
            row["m_probability"] = row["u_probability"]
    for _ in range(_REPAIR_ROUNDS):
        for row in rows:
            row["m_probability"] = max(row["m_probability"], M_FLOOR)
            row["u_probability"] = max(row["u_probability"], U_FLOOR)
        top = _weight(rows[0])
        bottom = min(_weight(rows[-1]), top)
        for row in rows[1:]:
            bounded = min(max(_weight(row), bottom), top)
            row["m_probability"] = row["u_probability"] * 2.0**bounded
            if row["m_probability"] < M_FLOOR:
                # Both floors and the bound hold only with a larger u: move u, not m.
                row["m_probability"] = M_FLOOR
                row["u_probability"] = M_FLOOR / 2.0**bounded
        for key in ("m_probability", "u_probability"):
            total = sum(row[key] for row in rows)
            for row in rows:
                row[key] /= total
        if all(
            r["m_probability"] >= M_FLOOR * (1 - _TOLERANCE)
            and r["u_probability"] >= U_FLOOR * (1 - _TOLERANCE)
            for r in rows
        ):
            return


def _weight(row: dict[str, Any]) -> float:
    return math.log2(row["m_probability"] / row["u_probability"])


def _comparisons(splink_model: dict[str, Any]) -> Iterator[tuple[str, list[Level]]]:
    for comparison in splink_model["comparisons"]:
        name = comparison["output_column_name"]
        rows = [
            Level(
                comparison=name,
                index=index,
                label=level.get("label_for_charts") or level["sql_condition"],
                m=level.get("m_probability"),
                u=level.get("u_probability"),
            )
            for index, level in enumerate(comparison["comparison_levels"])
            if not level.get("is_null_level")
        ]
        yield name, rows
