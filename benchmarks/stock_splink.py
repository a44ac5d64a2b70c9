"""Stock Splink baseline: the model of Splink's FEBRL3 demo, trained unsupervised on our records.

It follows Splink's own example "Deduplicating the febrl3 dataset"
(moj-analytical-services/splink, `docs/demos/examples/duckdb/febrl3.ipynb`, published at
https://moj-analytical-services.github.io/splink/demos/examples/duckdb/febrl3.html) as a user
of Splink 5 would run it on their data, with no truth anywhere in training:

- comparisons: `NameComparison` on given name and surname, `DateOfBirthComparison` (string
  input `%Y%m%d`; invalid dates as null, as in the FEBRL4 demo), `DamerauLevenshteinAtThresholds`
  on the SSN at 2, `ExactMatch` on street number and on postcode, both with term-frequency
  adjustments;
- blocking rules for prediction: SSN, given name, surname, date of birth, postcode (each alone);
- prior from deterministic rules (SSN; given + surname + date of birth; given and surname
  swapped + date of birth) at recall 0.9, u by random sampling (1e6 pairs), then EM sessions
  blocked on date of birth and on postcode.

Our records map onto FEBRL's columns: given_name, family_name -> surname, birth_date ->
date_of_birth, ssn -> soc_sec_id (digits only), the leading number of address_line1 ->
street_number, postcode; text is lower-cased and stripped (FEBRL's is already). Two things a
user would do that the demo does not need: a column null in every record (SSN blanked) is left
out of the comparisons and rules, and an EM session Splink refuses (no pairs, or an m driven to
0) is skipped and reported rather than stopping the run. Clusters are the connected components
of the pairs at or above a threshold (what `cluster_pairwise_predictions_at_threshold` does).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from mpi_linker.splink_adapter import SplinkException

RecordKey = tuple[str, str]

PRIOR_RECALL = 0.9
U_MAX_PAIRS = 1e6
EM_BLOCKS = ("date_of_birth", "postcode")
PREDICTION_BLOCKS = ("soc_sec_id", "given_name", "surname", "date_of_birth", "postcode")
# Where the p >= 0.5 rule is not the user's best: the threshold swept with the truth (an oracle).
SWEEP = (*(i / 100 for i in range(1, 100)), 0.995, 0.999, 0.9999)
_STREET_NUMBER = re.compile(r"^\s*(\d+)")
COLUMNS = ("given_name", "surname", "date_of_birth", "soc_sec_id", "street_number", "postcode")


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


def febrl_row(unique_id: int, record: Mapping[str, Any]) -> dict[str, Any]:
    """One of our records in the FEBRL demo's columns."""
    birth = record.get("birth_date")
    ssn = "".join(ch for ch in str(record.get("ssn") or "") if ch.isdigit())
    street = _STREET_NUMBER.match(str(record.get("address_line1") or ""))
    return {
        "unique_id": unique_id,
        "given_name": _text(record.get("given_name")),
        "surname": _text(record.get("family_name")),
        "date_of_birth": birth.strftime("%Y%m%d") if birth is not None else None,
        "soc_sec_id": ssn or None,
        "street_number": street[1] if street else None,
        "postcode": _text(record.get("postcode")),
    }


def _settings(present: set[str]) -> SettingsCreator:
    comparisons = [
        cl.NameComparison("given_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison(
            "date_of_birth",
            input_is_string=True,
            datetime_format="%Y%m%d",
            invalid_dates_as_null=True,
        ),
    ]
    if "soc_sec_id" in present:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]))
    comparisons += [
        cl.ExactMatch(column).configure(term_frequency_adjustments=True)
        for column in ("street_number", "postcode")
        if column in present
    ]
    return SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on(column) for column in PREDICTION_BLOCKS if column in present
        ],
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
    )


@dataclass
class Baseline:
    """Every predicted pair (indices into `keys`) with its match probability."""

    keys: list[RecordKey]
    pairs: list[tuple[int, int, float]]
    skipped_sessions: list[str] = field(default_factory=list)
    left_out_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def clusters(self, threshold: float) -> dict[RecordKey, str]:
        parent = list(range(len(self.keys)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for left, right, probability in self.pairs:
            if probability >= threshold:
                parent[find(left)] = find(right)
        return {key: str(find(i)) for i, key in enumerate(self.keys)}


def fit_and_predict(records: Sequence[Mapping[str, Any]], *, seed: int = 42) -> Baseline:
    """Train the demo's model on `records` (EM, no truth) and score its blocked pairs."""
    started = time.perf_counter()
    rows = [febrl_row(i, r) for i, r in enumerate(records)]
    present = {c for c in COLUMNS if any(row[c] is not None for row in rows)}
    db_api = DuckDBAPI()
    table = db_api.register(pa.Table.from_pylist(rows))
    linker = Linker(table, _settings(present))
    deterministic: list[Any] = [block_on("given_name", "surname", "date_of_birth")]
    if "soc_sec_id" in present:
        deterministic.insert(0, block_on("soc_sec_id"))
    deterministic.append(
        "l.given_name = r.surname and l.surname = r.given_name"
        " and l.date_of_birth = r.date_of_birth"
    )
    linker.training.estimate_probability_two_random_records_match(
        deterministic, recall=PRIOR_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    skipped = []
    for column in EM_BLOCKS:
        if column not in present:
            skipped.append(column)
            continue
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(column))
        except (SplinkException, ValueError):
            skipped.append(column)
    predictions = linker.inference.predict(warning_mode="never").as_record_list()
    return Baseline(
        keys=[(str(r["source"]), str(r["source_record_id"])) for r in records],
        pairs=[
            (int(p["unique_id_l"]), int(p["unique_id_r"]), float(p["match_probability"]))
            for p in predictions
        ],
        skipped_sessions=skipped,
        left_out_columns=[c for c in COLUMNS if c not in present],
        seconds=time.perf_counter() - started,
    )


def best_threshold(
    baseline: Baseline,
    truth: Mapping[RecordKey, str],
    score: Any,
    grid: Iterable[float] = SWEEP,
) -> tuple[float, dict[str, Any]]:
    """The threshold with the best pairwise F1 against the truth (an oracle, not a user's)."""
    best: tuple[float, dict[str, Any]] | None = None
    for threshold in grid:
        metrics = score(truth, baseline.clusters(threshold))
        if best is None or metrics["pairwise_f1"] > best[1]["pairwise_f1"]:
            best = (threshold, metrics)
    assert best is not None
    return best
