"""Train the Splink model on DuckDB (unsupervised), repair it, and set or refit its thresholds."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from splink import DuckDBAPI, Linker, block_on

from mpi_linker.guard_subjects import guard_subject_of_row
from mpi_linker.model.artifact import DEFAULT_ACCEPT_ALONE, ModelArtifact, Thresholds, version_of
from mpi_linker.model.check import Violation, levels, repair
from mpi_linker.model.definition import EM_SESSIONS, settings
from mpi_linker.splink_adapter import BlockingRuleCreator, SplinkException
from mpi_store.domain.guards import pair_guards

log = logging.getLogger(__name__)

# The targets: auto-linked pairs at least 99.9% precise; at most 0.5% of the true
# matches among candidates fall below the reject bound (they could never be recovered).
AUTO_PRECISION = 0.999
MAX_MISSED_BELOW_REJECT = 0.005
# Splink's prior, estimated from pairs that agree on these; a rough recall is enough because
# the thresholds are chosen on the dev set afterwards.
PRIOR_RULES: tuple[tuple[str, ...], ...] = (("ssn",), ("given_name", "family_name", "birth_date"))
PRIOR_RECALL = 0.6
METHOD = (
    "Splink 5 on DuckDB, unsupervised: prior from deterministic rules, u by random sampling, "
    "EM sessions on birth_date / names' phonetic codes / ssn / address; levels checked and "
    "repaired (mpi_linker.model.check)"
)


@dataclass(frozen=True)
class Training:
    """A trained, checked and repaired Splink model, with what training had to leave out."""

    splink: dict[str, Any]
    skipped_sessions: list[str]
    repairs: list[Violation]


def train_splink(frame: pa.Table, *, seed: int = 42, max_pairs: float = 2e6) -> Training:
    """Estimate prior, u (random sampling) and m (EM sessions), then repair degenerate levels.

    Needs no truth. An EM session over a column that fewer than two records have (SSN outside
    the US) is skipped, and so is one Splink cannot finish; the levels it would have trained
    are then repaired like any other untrained level (`mpi_linker.model.check`).
    """
    db_api = DuckDBAPI()
    table = db_api.register(frame)
    # Until (unless) deterministic rules estimate it: two records per person, whose chance of
    # meeting in a random pair is about 1 / records.
    linker = Linker(table, settings(prior=1 / max(frame.num_rows, 2)))
    present = {name: frame.num_rows - frame.column(name).null_count for name in frame.column_names}
    _estimate_prior(linker, present)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    skipped = []
    for columns in EM_SESSIONS:
        rule = " AND ".join(columns)
        absent = [c for c in columns if present[c] < 2]
        if absent:
            log.warning("EM session on %s skipped: no two records have %s", rule, absent)
            skipped.append(f"{rule}: no two records have {', '.join(absent)}")
            continue
        before = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns), estimate_without_term_frequencies=True
            )
        except (ValueError, SplinkException) as error:
            # Splink refuses an m that EM drives to exactly 0 (a level seen only among the
            # non-matches of this block) and a block with no pairs. The failed session leaves
            # the linker without the comparisons it blocked on, so continue from the model
            # as it was before it.
            log.warning("EM session on %s skipped: %s", rule, type(error).__name__)
            skipped.append(f"{rule}: {type(error).__name__}")
            linker = Linker(table, before)
    repaired, repairs = repair(linker.misc.save_model_to_json())
    for violation in repairs:
        log.info("repaired %s", violation)
    return Training(splink=repaired, skipped_sessions=skipped, repairs=repairs)


def _estimate_prior(linker: Linker, present: Mapping[str, int]) -> None:
    rules: list[str | BlockingRuleCreator] = [
        block_on(*cols) for cols in PRIOR_RULES if all(present[c] >= 2 for c in cols)
    ]
    if not rules:
        log.warning("prior kept at 1/records: no deterministic rule has the columns it needs")
        return
    try:
        linker.training.estimate_probability_two_random_records_match(rules, recall=PRIOR_RECALL)
    except (ValueError, ZeroDivisionError, SplinkException) as error:
        log.warning("prior kept at 1/records: %s", type(error).__name__)


def predict_pairs(
    frame: pa.Table, splink_model: Mapping[str, Any], *, min_probability: float = 0.0
) -> list[dict[str, Any]]:
    """Every blocked candidate pair with its probability (batch, DuckDB)."""
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), dict(splink_model))
    predictions = linker.inference.predict(
        threshold_match_probability=min_probability or None, warning_mode="never"
    )
    rows: list[dict[str, Any]] = predictions.as_record_list()
    return rows


@dataclass(frozen=True)
class LabelledPair:
    """A scored candidate pair with its label; `guarded` if a guard keeps it from auto-linking."""

    probability: float
    is_match: bool
    guarded: bool


def labelled_pairs(
    pairs: list[dict[str, Any]],
    label_of: Callable[[str, str], bool | None],
    rows: Mapping[str, Mapping[str, Any]],
) -> list[LabelledPair]:
    """The predicted pairs that carry a label (`label_of` answers None for the others)."""
    found = []
    for p in pairs:
        left, right = p["unique_id_l"], p["unique_id_r"]
        label = label_of(left, right)
        if label is None:
            continue
        guarded = pair_guards(guard_subject_of_row(rows[left]), guard_subject_of_row(rows[right]))
        found.append(LabelledPair(p["match_probability"], label, bool(guarded)))
    return found


@dataclass(frozen=True)
class ThresholdReport:
    thresholds: Thresholds
    labelled_pairs: int
    true_pairs: int
    auto_precision: float
    auto_recall: float
    missed_below_reject: float
    tier_shares: dict[str, float]

    def as_card(self) -> dict[str, Any]:
        return {
            "labelled_pairs": self.labelled_pairs,
            "true_pairs": self.true_pairs,
            "auto_precision": round(self.auto_precision, 5),
            "auto_recall": round(self.auto_recall, 5),
            "true_matches_below_reject": round(self.missed_below_reject, 5),
            "tier_shares": {k: round(v, 5) for k, v in self.tier_shares.items()},
        }


def refit_thresholds(pairs: list[LabelledPair]) -> ThresholdReport:
    """Thresholds from labelled pairs (a steward's decisions, a clerical sample, a dev truth).

    Auto: the lowest bound whose auto-linkable pairs are >= 99.9% precise (pairs a guard sends
    to review never auto-link, so they do not count). Reject: the highest bound leaving <= 0.5%
    of the true pairs below it. Accept-alone: the bound of best F1 among the pairs between.
    """
    scored = sorted(pairs, key=lambda p: -p.probability)
    positives = sum(p.is_match for p in scored)
    eligible = [p for p in scored if not p.guarded]
    # Above every probability: if no score range is precise enough, nothing auto-links.
    auto, true_seen = math.nextafter(1.0, math.inf), 0
    for seen, pair in enumerate(eligible, start=1):
        true_seen += pair.is_match
        # Only between distinct scores: a threshold cannot split pairs that tie.
        tie_follows = seen < len(eligible) and eligible[seen].probability == pair.probability
        if not tie_follows and true_seen / seen >= AUTO_PRECISION:
            auto = pair.probability
    allowed_misses = int(MAX_MISSED_BELOW_REJECT * positives)
    reject, missed = 0.0, 0
    for pair in reversed(scored):
        if pair.is_match:
            if missed + 1 > allowed_misses:
                reject = pair.probability
                break
            missed += 1
    reject = min(reject, auto)
    thresholds = Thresholds(
        auto=auto, reject=reject, accept_alone=_best_f1_bound(scored, reject, auto)
    )
    tiers = [thresholds.tier(p.probability) for p in scored]
    total = max(len(scored), 1)
    auto_pairs = [p.is_match for p in eligible if p.probability >= auto]
    return ThresholdReport(
        thresholds=thresholds,
        labelled_pairs=len(scored),
        true_pairs=positives,
        auto_precision=sum(auto_pairs) / max(len(auto_pairs), 1),
        auto_recall=sum(auto_pairs) / max(positives, 1),
        missed_below_reject=sum(p.is_match for p in scored if p.probability < reject)
        / max(positives, 1),
        tier_shares={t: tiers.count(t) / total for t in ("auto", "gray", "reject")},
    )


def _best_f1_bound(scored: list[LabelledPair], low: float, high: float) -> float:
    """Among pairs in [low, high): the probability bound whose pairs above it have the best
    F1 (ties to the higher bound); the default when no pair is there."""
    between = [p for p in scored if low <= p.probability < high]
    positives = sum(p.is_match for p in between)
    if not positives:
        return max(min(DEFAULT_ACCEPT_ALONE, high), low)
    best, best_f1, true_seen = high, 0.0, 0
    for seen, pair in enumerate(between, start=1):
        true_seen += pair.is_match
        f1 = 2 * true_seen / (seen + positives)
        if f1 > best_f1:
            best, best_f1 = pair.probability, f1
    return best


def self_train(
    frame: pa.Table, *, seed: int = 42, card: Mapping[str, Any] | None = None
) -> ModelArtifact:
    """A model trained unsupervised on `frame` (a deployment's own records), checked and
    repaired, with the default thresholds."""
    training = train_splink(frame, seed=seed)
    return build_artifact(
        training,
        Thresholds(),
        card={
            **(card or {}),
            "records": frame.num_rows,
            "seed": seed,
            "thresholds_from": "defaults: the model's own probabilities",
        },
    )


def build_artifact(
    training: Training, thresholds: Thresholds, card: Mapping[str, Any]
) -> ModelArtifact:
    trained_on = dt.datetime.now(dt.UTC).date().isoformat()
    return ModelArtifact(
        version=version_of(training.splink, trained_on),
        splink=training.splink,
        thresholds=thresholds,
        card={
            **card,
            "trained_at": trained_on,
            "method": METHOD,
            "em_sessions_skipped": training.skipped_sessions,
            "repairs": [str(v) for v in training.repairs],
            "levels": level_table(training.splink),
        },
    )


def level_table(splink_model: dict[str, Any]) -> list[dict[str, Any]]:
    """Every level's m, u and match weight, for the model card."""
    return [
        {
            "comparison": level.comparison,
            "level": level.label,
            "m": level.m,
            "u": level.u,
            "match_weight": None if level.weight is None else round(level.weight, 3),
        }
        for level in levels(splink_model)
    ]
