"""The trained Splink model's comparison levels evaluated directly, without a query engine.

Each level's SQL condition (as the model JSON stores it) is recognised as one of the kinds
the model definition uses and evaluated over whole arrays of pairs: numpy for equality,
substrings and dates, rapidfuzz for Jaro and edit distances on the UTF-8 bytes of each value
(DuckDB compares bytes), with DuckDB's Winkler step, so the same levels come out. Every level's
test runs over all pairs and a pair takes the first that holds, as Splink's `CASE` does; its
match weight is the prior's plus each level's `log2(m/u)` and term-frequency adjustment, in
Splink's order. One record against its candidates (`against`, the online path) computes the
record's side once and its similarities as one query against many.
Splink stays the trainer, the batch path and the reference:
`tests/linker/test_compiled_parity.py` checks this against Splink's own predict. A condition
of another kind refuses the model (`UnsupportedLevel`).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA, DamerauLevenshtein, Jaro

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
_NONE = np.array(None, dtype=object)


class UnsupportedLevel(ValueError):
    """A comparison level whose SQL condition is not one this evaluator knows."""


class _Side:
    """One side's columns over the pairs: each pair's own row, or one row repeated (a record
    against its candidates, computed once); each column and what is derived from it computed
    once per call."""

    def __init__(self, rows: Sequence[Row], size: int, *, repeated: bool = False) -> None:
        self._rows = rows
        self.repeated = repeated
        self.size = size
        self._cache: dict[tuple[str, ...], npt.NDArray[Any]] = {}
        self._raw: dict[str, npt.NDArray[Any]] = {}

    def _column(
        self, key: tuple[str, ...], column: str, make: Callable[[npt.NDArray[Any]], Any]
    ) -> npt.NDArray[Any]:
        """`make` of the values of `column` (an object array, None where missing), cached."""
        if key not in self._cache:
            if (raw := self._raw.get(column)) is None:
                values = [row.get(column) for row in self._rows]
                raw = self._raw[column] = np.fromiter(values, object, len(values))
            made = np.asarray(make(raw))
            self._cache[key] = np.repeat(made, self.size) if self.repeated else made
        return self._cache[key]

    def values(self, column: str) -> npt.NDArray[Any]:
        return self._column(("values", column), column, lambda values: values)

    def nulls(self, column: str) -> Mask:
        return self._column(("nulls", column), column, lambda values: np.equal(values, _NONE))

    def numbers(self, column: str) -> npt.NDArray[np.float64]:
        return self._column(("numbers", column), column, _numbers)

    def bytes(self, column: str) -> npt.NDArray[Any]:
        return self._column(("bytes", column), column, _bytes_of)

    def epochs(self, column: str) -> npt.NDArray[np.float64]:
        return self._column(("epochs", column), column, _epochs)

    def substrings(self, column: str, start: int, length: int) -> npt.NDArray[Any]:
        cut = operator.itemgetter(slice(start, start + length))

        def make(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
            found = [None if v is None else cut(v) for v in values.tolist()]
            return np.fromiter(found, object, len(found))

        return self._column(("substr", column, str(start), str(length)), column, make)


def _numbers(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    return np.array([math.nan if v is None else float(v) for v in values.tolist()])


def _bytes_of(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    present = [v for v in values.tolist() if v is not None]
    if "".join(present).isascii():
        return values
    found = [None if v is None else _bytes(v) for v in values.tolist()]
    return np.fromiter(found, object, len(found))


class _Pairs:
    """The left and right records of each pair, column by column."""

    def __init__(self, left: Sequence[Row], right: Sequence[Row], *, one_left: bool) -> None:
        """Pair `i` is `left[i]` with `right[i]`, or with `one_left` the one left row with
        each right row."""
        self.size = len(right)
        self.sides = {"l": _Side(left, self.size, repeated=one_left), "r": _Side(right, self.size)}
        self._cache: dict[tuple[str, ...], npt.NDArray[Any]] = {}

    def side(self, operand: tuple[str, str]) -> npt.NDArray[Any]:
        return self.sides[operand[1]].values(operand[0])

    def present(self, first: tuple[str, str], second: tuple[str, str]) -> Mask:
        """Where both operands are present (SQL: a comparison with NULL is never true)."""
        key = ("present", *first, *second)
        if key not in self._cache:
            nulls = self.sides[first[1]].nulls(first[0]) | self.sides[second[1]].nulls(second[0])
            self._cache[key] = ~nulls
        return self._cache[key]

    def similarity(
        self, name: str, first: tuple[str, str], second: tuple[str, str]
    ) -> npt.NDArray[np.float64]:
        """`name` of the two operands over their UTF-8 bytes, computed once however many
        levels read it; NaN where either is missing."""
        key = (name, *first, *second)
        if key not in self._cache:
            found = np.full(self.size, np.nan)
            present = self.present(first, second)
            if present.any():
                left = self.sides[first[1]].bytes(first[0])[present].tolist()
                right = self.sides[second[1]].bytes(second[0])[present].tolist()
                one = self.sides[first[1]].repeated
                found[present] = _MEASURES[name](left[:1] if one else left, right)
            self._cache[key] = found
        return self._cache[key]


def _bytes(value: str) -> str:
    """The UTF-8 bytes of `value`, one character each: DuckDB's string functions read bytes."""
    return value if value.isascii() else value.encode("utf-8").decode("latin-1")


def _jaro_winkler(first: str, second: str) -> float:
    """DuckDB's Jaro-Winkler: Jaro, then the common prefix (at most 4) boosting a score over
    0.7 by 0.1 each, in one fused multiply-add as DuckDB's build computes it (a plain
    multiply and add differs in the last bit, which decides a pair sitting on a threshold)."""
    similarity = Jaro.normalized_similarity(first, second)
    if similarity <= 0.7:
        return similarity
    prefix = 0
    for a, b in zip(first[:4], second[:4], strict=False):
        if a != b:
            break
        prefix += 1
    return _fused_multiply_add(prefix * 0.1, 1.0 - similarity, similarity)


def _pairwise(scorer: Any, left: list[str], right: list[str]) -> npt.NDArray[np.float64]:
    """`scorer` of each pair; one value on the left is one query against every right."""
    if len(left) == 1 and len(right) > 1:
        found = process.cdist(left, right, scorer=scorer, dtype=np.float64)[0]
    else:
        found = process.cpdist(left, right, scorer=scorer, dtype=np.float64)
    return np.asarray(found, dtype=np.float64)


def _jaro_winkler_many(left: list[str], right: list[str]) -> npt.NDArray[np.float64]:
    """`_jaro_winkler` of each pair, vectorised: Jaro by rapidfuzz (the same algorithm as
    DuckDB's, bit for bit), the Winkler step without the fused multiply-add. A value can
    differ from DuckDB's in its last bit, so a level's test recomputes the pairs sitting on
    its bound with `_jaro_winkler` (`_NEAR`)."""
    similarity = _pairwise(Jaro.normalized_similarity, left, right)
    for i in np.flatnonzero(similarity > 0.7).tolist():
        first, second = left[0 if len(left) == 1 else i], right[i]
        prefix = 0
        while prefix < 4 and prefix < len(first) and prefix < len(second):
            if first[prefix] != second[prefix]:
                break
            prefix += 1
        similarity[i] += prefix * 0.1 * (1.0 - similarity[i])
    return similarity


def _damerau_levenshtein_many(left: list[str], right: list[str]) -> npt.NDArray[np.float64]:
    return _pairwise(DamerauLevenshtein.distance, left, right)


def _optimal_alignment_many(left: list[str], right: list[str]) -> npt.NDArray[np.float64]:
    """The optimal string alignment distance: at most 1 exactly where Damerau-Levenshtein's
    is (one edit of either is one edit of the other), and several times faster."""
    return _pairwise(OSA.distance, left, right)


# A Jaro-Winkler this close to a level's bound is recomputed exactly before it is compared.
_NEAR = 1e-9


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


_MEASURES: dict[str, Callable[[list[str], list[str]], npt.NDArray[np.float64]]] = {
    "jaro_winkler": _jaro_winkler_many,
    "damerau_levenshtein": _damerau_levenshtein_many,
    "optimal_alignment": _optimal_alignment_many,
}

Test = Callable[[_Pairs], Mask]


def _operands(match: re.Match[str], start: int = 1) -> tuple[tuple[str, str], tuple[str, str]]:
    groups = match.groups()
    return (groups[start - 1], groups[start]), (groups[start + 1], groups[start + 2])


def _null_test(match: re.Match[str]) -> Test:
    first, second = _operands(match)
    return lambda pairs: ~pairs.present(first, second)


def _compare(
    first: tuple[str, str],
    second: tuple[str, str],
    operand: Callable[[_Pairs, tuple[str, str]], npt.NDArray[Any]],
    holds: Callable[[npt.NDArray[Any], npt.NDArray[Any]], Mask],
) -> Test:
    """`holds` of the two operands' arrays (from `operand`) where both are present."""

    def test(pairs: _Pairs) -> Mask:
        present = pairs.present(first, second)
        left, right = operand(pairs, first), operand(pairs, second)
        if present.all():
            return holds(left, right)
        result = np.zeros(pairs.size, dtype=bool)
        result[present] = holds(left[present], right[present])
        return result

    return test


def _values(pairs: _Pairs, operand: tuple[str, str]) -> npt.NDArray[Any]:
    return pairs.side(operand)


def _equal(left: npt.NDArray[Any], right: npt.NDArray[Any]) -> Mask:
    return np.asarray(left == right, dtype=bool)


def _all_of(tests: list[Test]) -> Test:
    def test(pairs: _Pairs) -> Mask:
        result = np.ones(pairs.size, dtype=bool)
        for part in tests:
            result &= part(pairs)
        return result

    return test


def _jaro_winkler_test(match: re.Match[str]) -> Test:
    first, second = _operands(match)
    bound = float(match.group(5))

    def test(pairs: _Pairs) -> Mask:
        similarity = pairs.similarity("jaro_winkler", first, second)
        holds = similarity >= bound
        for i in np.flatnonzero(np.abs(similarity - bound) <= _NEAR):
            left, right = _bytes(pairs.side(first)[i]), _bytes(pairs.side(second)[i])
            holds[i] = _jaro_winkler(left, right) >= bound
        return holds

    return test


def _damerau_test(match: re.Match[str]) -> Test:
    first, second = _operands(match)
    most = int(match.group(5))
    measure = "optimal_alignment" if most <= 1 else "damerau_levenshtein"
    return lambda pairs: pairs.similarity(measure, first, second) <= most


def _elementwise(holds: Callable[[Any, Any], bool]) -> Callable[..., Mask]:
    def test(left: npt.NDArray[Any], right: npt.NDArray[Any]) -> Mask:
        return np.fromiter(map(holds, left, right), bool, len(left))

    return test


def _intersect_test(match: re.Match[str]) -> Test:
    first, second = _operands(match)
    least = int(match.group(5))

    def test(pairs: _Pairs) -> Mask:
        present = pairs.present(first, second)
        result = np.zeros(pairs.size, dtype=bool)
        left = pairs.side(first)[present].tolist()
        right = pairs.side(second)[present].tolist()
        if left and pairs.sides[first[1]].repeated:
            mine = set(left[0])
            result[present] = [len(mine.intersection(y)) >= least for y in right]
        else:
            pairs_present = zip(left, right, strict=True)
            result[present] = [len(set(x).intersection(y)) >= least for x, y in pairs_present]
        return result

    return test


def _substr_test(match: re.Match[str]) -> Test:
    first_column, first_side, first_start, first_length = match.groups()[:4]
    second_column, second_side, second_start, second_length = match.groups()[4:]
    starts = {first_side: int(first_start) - 1, second_side: int(second_start) - 1}
    lengths = {first_side: int(first_length), second_side: int(second_length)}

    def substrings(pairs: _Pairs, operand: tuple[str, str]) -> npt.NDArray[Any]:
        column, side = operand
        return pairs.sides[side].substrings(column, starts[side], lengths[side])

    return _compare((first_column, first_side), (second_column, second_side), substrings, _equal)


def _date_gap_test(match: re.Match[str]) -> Test:
    first, second = _operands(match)
    seconds = float(match.group(5))

    def epochs(pairs: _Pairs, operand: tuple[str, str]) -> npt.NDArray[np.float64]:
        return pairs.sides[operand[1]].epochs(operand[0])

    return _compare(first, second, epochs, lambda x, y: np.abs(x - y) <= seconds)


def _epochs(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """`_epoch` of each value (None: NaN); numpy parses them at once where every value is a
    well-formed `YYYY-MM-DD` date."""
    present = np.not_equal(values, _NONE)
    dates = values[present].tolist()
    found = np.full(len(values), np.nan)
    try:
        if not all(len(d) == 10 and d[4] == d[7] == "-" for d in dates):
            raise ValueError("not every value is YYYY-MM-DD")
        days = np.array(dates, dtype="datetime64[D]").astype(np.int64)
        found[present] = days * 86400.0
    except ValueError:
        found[present] = [_epoch(d) for d in dates]
    return found


def _epoch(value: str) -> float:
    """Seconds since 1970 of an ISO date; NaN where DuckDB's `try_strptime` gives NULL."""
    try:
        return float((dt.date.fromisoformat(value) - _EPOCH).days * 86400)
    except ValueError:
        return math.nan


def _compile(condition: str) -> Test:
    """The test of one level's SQL condition, or `UnsupportedLevel`."""
    condition = " ".join(condition.split())
    if match := _NULL.match(condition):
        return _null_test(match)
    if match := _EQUAL.match(condition):
        return _compare(*_operands(match), _values, _equal)
    if match := _JARO_WINKLER.match(condition):
        return _jaro_winkler_test(match)
    if match := _DAMERAU.match(condition):
        return _damerau_test(match)
    if match := _INTERSECT.match(condition):
        return _intersect_test(match)
    if (match := _CONTAINS.match(condition)) and _operands(match) == _operands(match, 5)[::-1]:
        contains = _elementwise(lambda x, y: y in x or x in y)
        return _compare(*_operands(match), _values, contains)
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
    gammas: npt.NDArray[np.int64]  # by level position
    weights: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Scores:
    """Per pair: each comparison's level and weight (its term-frequency adjustment included),
    the match weight and probability, as arrays in pair order."""

    gamma: dict[str, npt.NDArray[np.int64]]
    weight: dict[str, npt.NDArray[np.float64]]
    adjustment: dict[str, npt.NDArray[np.float64]]
    match_weight: npt.NDArray[np.float64]
    match_probability: npt.NDArray[np.float64]


class CompiledModel:
    """A Splink model (its JSON settings) as array code: `against` scores one record against
    its candidates, `score` gives Splink's output rows of any pairs."""

    def __init__(self, splink_model: Mapping[str, Any]) -> None:
        prior = float(splink_model["probability_two_random_records_match"])
        self.prior_match_weight = math.log2(prior / (1 - prior))
        self.comparisons = tuple(_comparison(c) for c in splink_model["comparisons"])

    def against(self, record: Row, candidates: Sequence[Row]) -> Scores:
        """`record` paired with each candidate; rows carry the compared columns and
        `tf_<column>` frequencies (None: unknown)."""
        return self._scores(_Pairs([record], candidates, one_left=True))

    def score(self, left: Sequence[Row], right: Sequence[Row]) -> list[dict[str, Any]]:
        """Pair `i` is `left[i]` with `right[i]`, rows as for `against` with `unique_id`: as
        Splink's predict names them (`gamma_*`, `mw_*`, `mw_tf_adj_*`, match weight and
        probability)."""
        if len(left) != len(right):
            raise ValueError("left and right must pair up")
        scores = self._scores(_Pairs(left, right, one_left=False))
        columns: dict[str, Any] = {
            "unique_id_l": [row["unique_id"] for row in left],
            "unique_id_r": [row["unique_id"] for row in right],
        }
        for comparison in self.comparisons:
            name = comparison.name
            columns[f"gamma_{name}"] = scores.gamma[name].tolist()
            columns[f"mw_{name}"] = scores.weight[name].tolist()
            if comparison.has_term_frequency:
                columns[f"mw_tf_adj_{name}"] = scores.adjustment[name].tolist()
        columns["match_weight"] = scores.match_weight.tolist()
        columns["match_probability"] = scores.match_probability.tolist()
        names = list(columns)
        return [
            dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)
        ]

    def _scores(self, pairs: _Pairs) -> Scores:
        gammas, weights, adjustments = {}, {}, {}
        total = np.full(pairs.size, self.prior_match_weight)
        # Splink's order of addition: each comparison's weight, then its adjustment.
        for comparison in self.comparisons:
            gamma, weight, adjustment = _evaluate(comparison, pairs)
            gammas[comparison.name], weights[comparison.name] = gamma, weight
            adjustments[comparison.name] = adjustment
            total = total + weight
            if comparison.has_term_frequency:
                total = total + adjustment
        return Scores(gammas, weights, adjustments, total, _probability(total))


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
    if levels[-1].test is not None or any(level.test is None for level in levels[:-1]):
        raise UnsupportedLevel(f"{name}: the ELSE level must be the last, and only it")
    return _Comparison(
        name=name,
        levels=tuple(levels),
        has_term_frequency=any(level.get("tf_adjustment_column") for level in raw),
        gammas=np.array([level.gamma for level in levels], dtype=np.int64),
        weights=np.array([level.weight for level in levels], dtype=np.float64),
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
    """Each pair's level (the first whose condition holds, as Splink's `CASE`), its weight
    and its term-frequency adjustment."""
    levels = comparison.levels
    chosen = np.full(pairs.size, len(levels) - 1)  # the ELSE level, last
    for position in range(len(levels) - 2, -1, -1):
        test = levels[position].test
        assert test is not None
        chosen[test(pairs)] = position
    gamma = comparison.gammas[chosen]
    weight = comparison.weights[chosen]
    adjustment = np.zeros(pairs.size)
    for position, level in enumerate(levels):
        if level.term_frequency is not None:
            taken = np.flatnonzero(chosen == position)
            if len(taken):
                adjustment[taken] = _adjustment(level.term_frequency, pairs, taken)
    return gamma, weight, adjustment


def _adjustment(tf: _TermFrequency, pairs: _Pairs, at: Index) -> npt.NDArray[np.float64]:
    """Splink's `weight * (log2(u) - log2(greatest(tf_l, tf_r, minimum)))`, 0 where neither
    side has a frequency."""
    left = pairs.sides["l"].numbers(f"tf_{tf.column}")[at]
    right = pairs.sides["r"].numbers(f"tf_{tf.column}")[at]
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
