"""The trained Splink model's comparison levels evaluated directly, without a query engine.

Each level's SQL condition (as the model JSON stores it) is recognised as one of the kinds
the model definition uses and evaluated over arrays of pairs: numpy for equality and dates,
jellyfish for Jaro and Damerau-Levenshtein on the UTF-8 bytes of each value (DuckDB compares
bytes), with DuckDB's Winkler step, so the same similarities come out to the bit. A pair
takes the first level whose condition holds, as Splink's `CASE` does; its match weight is the
prior's plus each level's `log2(m/u)` and term-frequency adjustment, in Splink's order.
Splink stays the trainer, the batch path and the reference:
`tests/linker/test_compiled_parity.py` checks this against Splink's own predict. A condition
of another kind refuses the model (`UnsupportedLevel`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jellyfish
import numpy as np
import numpy.typing as npt

Row = Mapping[str, Any]
Mask = npt.NDArray[np.bool_]
Index = npt.NDArray[np.intp]

_COLUMN = r'"?(\w+)_([lr])"?'
_NULL = re.compile(rf"^{_COLUMN} IS NULL OR {_COLUMN} IS NULL$")
_EQUAL = re.compile(rf"^{_COLUMN} = {_COLUMN}$")
_JARO_WINKLER = re.compile(rf"^jaro_winkler_similarity\({_COLUMN}, {_COLUMN}\) >= ([\d.]+)$")
_DAMERAU = re.compile(rf"^damerau_levenshtein\({_COLUMN}, {_COLUMN}\) <= (\d+)$")
_INTERSECT = re.compile(rf"^array_length\(list_intersect\({_COLUMN}, {_COLUMN}\)\) >= (\d+)$")
_CONTAINS = re.compile(
    rf"^\(strpos\({_COLUMN}, {_COLUMN}\) > 0 OR strpos\({_COLUMN}, {_COLUMN}\) > 0\)$"
)
_SUBSTR = re.compile(rf"^substr\({_COLUMN}, (\d+), (\d+)\) = substr\({_COLUMN}, (\d+), (\d+)\)$")
_DATE_GAP = re.compile(
    rf"^ABS\(EPOCH\(try_strptime\({_COLUMN}, '%Y-%m-%d'\)\) - "
    rf"EPOCH\(try_strptime\({_COLUMN}, '%Y-%m-%d'\)\)\) <= ([\d.]+)$"
)
_EPOCH = dt.date(1970, 1, 1)


class UnsupportedLevel(ValueError):
    """A comparison level whose SQL condition is not one this evaluator knows."""


class _Pairs:
    """Columns of the left and right records of each pair, with values computed once."""

    def __init__(self, left: Sequence[Row], right: Sequence[Row]) -> None:
        self._rows = {"l": left, "r": right}
        self._values: dict[tuple[str, str], npt.NDArray[Any]] = {}
        self._nulls: dict[tuple[str, str], Mask] = {}
        self._similarity: dict[tuple[str, str, str, str, str], npt.NDArray[np.float64]] = {}
        self.size = len(left)

    def values(self, column: str, side: str) -> npt.NDArray[Any]:
        key = (column, side)
        if key not in self._values:
            found = np.empty(self.size, dtype=object)
            found[:] = [row.get(column) for row in self._rows[side]]
            self._values[key] = found
        return self._values[key]

    def nulls(self, column: str, side: str) -> Mask:
        key = (column, side)
        if key not in self._nulls:
            self._nulls[key] = np.fromiter(
                (v is None for v in self.values(column, side)), bool, self.size
            )
        return self._nulls[key]

    def numbers(self, column: str, side: str) -> npt.NDArray[np.float64]:
        return np.array(
            [math.nan if v is None else float(v) for v in self.values(column, side)],
            dtype=np.float64,
        )

    def pair_values(
        self, first: tuple[str, str], second: tuple[str, str], at: Index
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any], Mask]:
        """The two operands at `at` and where both are present (SQL: NULL is never true)."""
        present = ~(self.nulls(*first)[at] | self.nulls(*second)[at])
        return self.values(*first)[at], self.values(*second)[at], present

    def similarity(
        self, name: str, first: tuple[str, str], second: tuple[str, str], at: Index
    ) -> npt.NDArray[np.float64]:
        """`name` of the two operands at `at`, each pair computed once however many levels
        read it; NaN where either is missing."""
        key = (name, *first, *second)
        if key not in self._similarity:
            self._similarity[key] = np.full(self.size, np.nan)
        cache = self._similarity[key]
        todo = at[np.isnan(cache[at])]
        left, right, present = self.pair_values(first, second, todo)
        measure = _MEASURES[name]
        cache[todo[present]] = [
            measure(_bytes(a), _bytes(b))
            for a, b in zip(left[present], right[present], strict=True)
        ]
        return cache[at]


def _bytes(value: str) -> str:
    """The UTF-8 bytes of `value`, one character each: DuckDB's string functions read bytes."""
    return value.encode("utf-8").decode("latin-1")


def _jaro_winkler(first: str, second: str) -> float:
    """DuckDB's Jaro-Winkler: Jaro, then the common prefix (at most 4) boosting a score over
    0.7 by 0.1 each, in one fused multiply-add as DuckDB's build computes it (a plain
    multiply and add differs in the last bit, which decides a pair sitting on a threshold)."""
    similarity = jellyfish.jaro_similarity(first, second)
    if similarity <= 0.7:
        return similarity
    prefix = 0
    for a, b in zip(first[:4], second[:4], strict=False):
        if a != b:
            break
        prefix += 1
    return _fused_multiply_add(prefix * 0.1, 1.0 - similarity, similarity)


def _fused_multiply_add(a: float, b: float, c: float) -> float:
    """`a * b + c` rounded once: the product split exactly in two (Dekker), summed exactly."""
    product = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return math.fsum((product, error, c))


def _split(value: float) -> tuple[float, float]:
    scaled = 134217729.0 * value  # 2**27 + 1
    high = scaled - (scaled - value)
    return high, value - high


_MEASURES: dict[str, Callable[[str, str], float]] = {
    "jaro_winkler": _jaro_winkler,
    "damerau_levenshtein": jellyfish.damerau_levenshtein_distance,
}

Test = Callable[[_Pairs, Index], Mask]


def _operands(match: re.Match[str], start: int = 1) -> tuple[tuple[str, str], tuple[str, str]]:
    groups = match.groups()
    return (groups[start - 1], groups[start]), (groups[start + 1], groups[start + 2])


def _null_test(match: re.Match[str]) -> Test:
    first, second = _operands(match)
    return lambda pairs, at: pairs.nulls(*first)[at] | pairs.nulls(*second)[at]


def _equal_test(first: tuple[str, str], second: tuple[str, str]) -> Test:
    def test(pairs: _Pairs, at: Index) -> Mask:
        left, right, present = pairs.pair_values(first, second, at)
        equal = np.zeros(len(at), dtype=bool)
        equal[present] = left[present] == right[present]
        return equal

    return test


def _all_of(tests: list[Test]) -> Test:
    def test(pairs: _Pairs, at: Index) -> Mask:
        result = np.ones(len(at), dtype=bool)
        for part in tests:
            result &= part(pairs, at)
        return result

    return test


def _measure_test(name: str, match: re.Match[str], holds: Callable[[Any], Any]) -> Test:
    first, second = _operands(match)
    return lambda pairs, at: holds(pairs.similarity(name, first, second, at))


def _elementwise(
    first: tuple[str, str], second: tuple[str, str], holds: Callable[[Any, Any], bool]
) -> Test:
    def test(pairs: _Pairs, at: Index) -> Mask:
        left, right, present = pairs.pair_values(first, second, at)
        result = np.zeros(len(at), dtype=bool)
        result[present] = [holds(a, b) for a, b in zip(left[present], right[present], strict=True)]
        return result

    return test


def _substr_test(match: re.Match[str]) -> Test:
    first_column, first_side, first_start, first_length = match.groups()[:4]
    second_column, second_side, second_start, second_length = match.groups()[4:]
    a, n = int(first_start) - 1, int(first_length)
    b, m = int(second_start) - 1, int(second_length)
    return _elementwise(
        (first_column, first_side),
        (second_column, second_side),
        lambda x, y: bool(x[a : a + n] == y[b : b + m]),
    )


def _date_gap_test(match: re.Match[str]) -> Test:
    first, second = _operands(match)
    seconds = float(match.group(5))

    def test(pairs: _Pairs, at: Index) -> Mask:
        left, right, present = pairs.pair_values(first, second, at)
        result = np.zeros(len(at), dtype=bool)
        gaps = [
            _gap(_epoch(x), _epoch(y)) for x, y in zip(left[present], right[present], strict=True)
        ]
        result[present] = np.array(gaps, dtype=np.float64) <= seconds
        return result

    return test


def _gap(first: float | None, second: float | None) -> float:
    return math.nan if first is None or second is None else abs(first - second)


def _epoch(value: str) -> float | None:
    """Seconds since 1970 of an ISO date; None where DuckDB's `try_strptime` gives NULL."""
    try:
        return float((dt.date.fromisoformat(value) - _EPOCH).days * 86400)
    except ValueError:
        return None


def _compile(condition: str) -> Test:
    """The test of one level's SQL condition, or `UnsupportedLevel`."""
    condition = " ".join(condition.split())
    if match := _NULL.match(condition):
        return _null_test(match)
    if match := _EQUAL.match(condition):
        return _equal_test(*_operands(match))
    if match := _JARO_WINKLER.match(condition):
        bound = float(match.group(5))
        return _measure_test("jaro_winkler", match, lambda s: s >= bound)
    if match := _DAMERAU.match(condition):
        most = int(match.group(5))
        return _measure_test("damerau_levenshtein", match, lambda d: d <= most)
    if match := _INTERSECT.match(condition):
        least = int(match.group(5))
        return _elementwise(*_operands(match), lambda x, y: len(set(x) & set(y)) >= least)
    if (match := _CONTAINS.match(condition)) and _operands(match) == _operands(match, 5)[::-1]:
        return _elementwise(*_operands(match), lambda x, y: y in x or x in y)
    if match := _DATE_GAP.match(condition):
        return _date_gap_test(match)
    parts = condition.split(" AND ")
    if len(parts) > 1:
        return _all_of([_compile(part) for part in parts])
    if match := _SUBSTR.match(condition):
        return _substr_test(match)
    raise UnsupportedLevel(f"no evaluator for the level condition {condition!r}")


@dataclass(frozen=True)
class _TermFrequency:
    column: str
    log2_u: float
    weight: float
    minimum_u: float


@dataclass(frozen=True)
class _Level:
    gamma: int
    test: Test | None  # None: the else level
    weight: float
    term_frequency: _TermFrequency | None


@dataclass(frozen=True)
class _Comparison:
    name: str
    levels: tuple[_Level, ...]
    has_term_frequency: bool


class CompiledModel:
    """A Splink model (its JSON settings) as array code; `score` gives Splink's output
    columns of each pair (`gamma_*`, `mw_*`, `mw_tf_adj_*`, match weight and probability)."""

    def __init__(self, splink_model: Mapping[str, Any]) -> None:
        prior = float(splink_model["probability_two_random_records_match"])
        self.prior_match_weight = math.log2(prior / (1 - prior))
        self.comparisons = tuple(_comparison(c) for c in splink_model["comparisons"])

    def score(self, left: Sequence[Row], right: Sequence[Row]) -> list[dict[str, Any]]:
        """Pair `i` is `left[i]` with `right[i]`; rows carry `unique_id`, the compared columns
        and `tf_<column>` frequencies (None: unknown)."""
        if len(left) != len(right):
            raise ValueError("left and right must pair up")
        pairs = _Pairs(left, right)
        columns: dict[str, Any] = {
            "unique_id_l": [row["unique_id"] for row in left],
            "unique_id_r": [row["unique_id"] for row in right],
        }
        total = np.full(pairs.size, self.prior_match_weight)
        for comparison in self.comparisons:
            gamma, weight, adjustment = _evaluate(comparison, pairs)
            columns[f"gamma_{comparison.name}"] = gamma.tolist()
            columns[f"mw_{comparison.name}"] = weight.tolist()
            total = total + weight
            if comparison.has_term_frequency:
                columns[f"mw_tf_adj_{comparison.name}"] = adjustment.tolist()
                total = total + adjustment
        columns["match_weight"] = total.tolist()
        columns["match_probability"] = _probability(total).tolist()
        names = list(columns)
        return [
            dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)
        ]


def _comparison(definition: Mapping[str, Any]) -> _Comparison:
    name = definition["output_column_name"]
    raw = definition["comparison_levels"]
    non_null = [level for level in raw if not level.get("is_null_level")]
    levels = []
    for level in raw:
        if level.get("is_null_level"):
            gamma, weight = -1, 0.0
        else:
            gamma = len(non_null) - 1 - non_null.index(level)
            weight = _log2_bayes_factor(name, level)
        condition = level["sql_condition"].strip()
        levels.append(
            _Level(
                gamma=gamma,
                test=None if condition.upper() == "ELSE" else _compile(condition),
                weight=weight,
                term_frequency=_term_frequency(level, raw),
            )
        )
    return _Comparison(
        name=name,
        levels=tuple(levels),
        has_term_frequency=any(level.get("tf_adjustment_column") for level in raw),
    )


def _log2_bayes_factor(comparison: str, level: Mapping[str, Any]) -> float:
    m, u = level.get("m_probability"), level.get("u_probability")
    if m is None or u is None:
        raise UnsupportedLevel(f"{comparison}: a level has no trained m or u")
    return math.inf if u == 0 else math.log2(m / u)


def _term_frequency(
    level: Mapping[str, Any], levels: Sequence[Mapping[str, Any]]
) -> _TermFrequency | None:
    column = level.get("tf_adjustment_column")
    weight = float(level.get("tf_adjustment_weight", 1.0))
    if not column or weight == 0 or level["sql_condition"].strip().upper() == "ELSE":
        return None
    exact = f'"{column}_l" = "{column}_r"'
    # Splink reads the u of the level that is an exact match on the column.
    u = next(
        (lv.get("u_probability") for lv in levels if lv["sql_condition"].strip() == exact),
        level.get("u_probability"),
    )
    if level.get("disable_tf_exact_match_detection"):
        u = level.get("u_probability")
    if u is None:
        raise UnsupportedLevel(f"{column}: the term-frequency level has no u")
    return _TermFrequency(
        column=column,
        log2_u=math.log2(u),
        weight=weight,
        minimum_u=float(level.get("tf_minimum_u_value", 0.0)),
    )


def _evaluate(
    comparison: _Comparison, pairs: _Pairs
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each pair's level, its weight and its term-frequency adjustment."""
    gamma = np.zeros(pairs.size, dtype=np.int64)
    weight = np.zeros(pairs.size)
    adjustment = np.zeros(pairs.size)
    remaining = np.arange(pairs.size)
    for level in comparison.levels:
        if not len(remaining):
            break
        holds = (
            np.ones(len(remaining), dtype=bool)
            if level.test is None
            else level.test(pairs, remaining)
        )
        taken = remaining[holds]
        gamma[taken] = level.gamma
        weight[taken] = level.weight
        if level.term_frequency is not None and len(taken):
            adjustment[taken] = _adjustment(level.term_frequency, pairs, taken)
        remaining = remaining[~holds]
    return gamma, weight, adjustment


def _adjustment(tf: _TermFrequency, pairs: _Pairs, at: Index) -> npt.NDArray[np.float64]:
    """Splink's `weight * (log2(u) - log2(greatest(tf_l, tf_r, minimum)))`, 0 where neither
    side has a frequency."""
    left = pairs.numbers(f"tf_{tf.column}", "l")[at]
    right = pairs.numbers(f"tf_{tf.column}", "r")[at]
    left_or_right = np.where(np.isnan(left), right, left)
    right_or_left = np.where(np.isnan(right), left, right)
    known = ~np.isnan(left_or_right)
    largest = np.maximum(np.maximum(left_or_right, right_or_left), tf.minimum_u)
    result = np.zeros(len(at))
    with np.errstate(divide="ignore"):
        result[known] = tf.weight * (tf.log2_u - np.log2(largest[known]))
    return result


def _probability(weight: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Splink's probability of a match weight, in its two forms by sign."""
    with np.errstate(over="ignore"):
        odds = np.power(2.0, weight)
        return np.where(weight >= 0, 1.0 / (1.0 + np.power(2.0, -weight)), odds / (1.0 + odds))
