"""Train the Splink model on DuckDB (unsupervised), then pick its thresholds on a dev set."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from splink import DuckDBAPI, Linker, block_on

from mpi_linker.frames import RECORD_KEY_SEPARATOR
from mpi_linker.model.artifact import ModelArtifact, Thresholds, version_of
from mpi_linker.model.definition import EM_SESSIONS, settings
from mpi_store.guards import pair_guards

log = logging.getLogger(__name__)

# The targets: auto-linked pairs at least 99.9% precise; at most 0.5% of the true
# matches among candidates fall below the reject bound (they could never be recovered).
AUTO_PRECISION = 0.999
MAX_MISSED_BELOW_REJECT = 0.005
# Splink's prior, estimated from pairs that agree on these; a rough recall is enough because
# the thresholds are chosen on the dev set afterwards.
PRIOR_RULES = (block_on("ssn"), block_on("given_name", "family_name", "birth_date"))
PRIOR_RECALL = 0.6


def train_splink(
    frame: pa.Table, *, seed: int = 42, max_pairs: float = 2e6
) -> tuple[dict[str, Any], list[str]]:
    """Estimate prior, u (random sampling) and m (EM sessions).

    Returns Splink's model dict and the EM sessions that had to be skipped.
    """
    db_api = DuckDBAPI()
    table = db_api.register(frame)
    linker = Linker(table, settings())
    linker.training.estimate_probability_two_random_records_match(
        list(PRIOR_RULES), recall=PRIOR_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    skipped = []
    for session in EM_SESSIONS:
        before = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                session, estimate_without_term_frequencies=True
            )
        except ValueError as error:
            # Splink 5 refuses an m that EM drives to exactly 0 (a level seen only among the
            # non-matches of this block). The failed session leaves the linker without the
            # comparisons it blocked on, so continue from the model as it was before it.
            rule = session.get_blocking_rule("duckdb").blocking_rule_sql
            log.warning("EM session %s skipped: %s", rule, error)
            skipped.append(rule)
            linker = Linker(table, before)
    model: dict[str, Any] = linker.misc.save_model_to_json()
    return model, skipped


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
class ThresholdReport:
    thresholds: Thresholds
    candidate_pairs: int
    true_pairs_in_candidates: int
    auto_precision: float
    auto_recall: float
    missed_below_reject: float
    tier_shares: dict[str, float]


def choose_thresholds(
    pairs: list[dict[str, Any]], truth: Mapping[str, str], rows: Mapping[str, Mapping[str, Any]]
) -> ThresholdReport:
    """Lowest auto bound whose auto-linkable pairs are >= 99.9% precise; highest reject bound
    that leaves <= 0.5% of the true candidate pairs below it.

    Pairs a guard sends to review (twins, conflicting SSNs, same source) never auto-link, so
    they do not count against the auto tier's precision.
    """
    scored = sorted(
        (
            (
                p["match_probability"],
                truth[p["unique_id_l"]] == truth[p["unique_id_r"]],
                bool(
                    pair_guards(
                        _guard_view(rows[p["unique_id_l"]]), _guard_view(rows[p["unique_id_r"]])
                    )
                ),
            )
            for p in pairs
        ),
        key=lambda item: -item[0],
    )
    positives = sum(is_match for _, is_match, _ in scored)
    eligible = [(p, is_match) for p, is_match, guarded in scored if not guarded]
    # Above every probability: if no score range is precise enough, nothing auto-links.
    auto, true_seen = math.nextafter(1.0, math.inf), 0
    for seen, (probability, is_match) in enumerate(eligible, start=1):
        true_seen += is_match
        # Only between distinct scores: a threshold cannot split pairs that tie.
        tie_follows = seen < len(eligible) and eligible[seen][0] == probability
        if not tie_follows and true_seen / seen >= AUTO_PRECISION:
            auto = probability
    allowed_misses = int(MAX_MISSED_BELOW_REJECT * positives)
    reject, missed = 0.0, 0
    for probability, is_match, _ in reversed(scored):
        if is_match:
            if missed + 1 > allowed_misses:
                reject = probability
                break
            missed += 1
    reject = min(reject, auto)
    thresholds = Thresholds(auto=auto, reject=reject)
    tiers = [thresholds.tier(p) for p, _, _ in scored]
    total = max(len(scored), 1)
    auto_pairs = [m for p, m, guarded in scored if p >= auto and not guarded]
    below = sum(m for p, m, _ in scored if p < reject)
    return ThresholdReport(
        thresholds=thresholds,
        candidate_pairs=len(scored),
        true_pairs_in_candidates=positives,
        auto_precision=sum(auto_pairs) / max(len(auto_pairs), 1),
        auto_recall=sum(auto_pairs) / max(positives, 1),
        missed_below_reject=below / max(positives, 1),
        tier_shares={t: tiers.count(t) / total for t in ("auto", "gray", "reject")},
    )


def _guard_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "source": str(row["unique_id"]).split(RECORD_KEY_SEPARATOR)[0]}


def build_artifact(
    splink_model: dict[str, Any], report: ThresholdReport, card: dict[str, Any]
) -> ModelArtifact:
    trained_on = dt.datetime.now(dt.UTC).date().isoformat()
    return ModelArtifact(
        version=version_of(splink_model, trained_on),
        splink=splink_model,
        thresholds=report.thresholds,
        card={
            **card,
            "trained_at": trained_on,
            "dev": {
                "candidate_pairs": report.candidate_pairs,
                "true_pairs_in_candidates": report.true_pairs_in_candidates,
                "auto_precision": round(report.auto_precision, 5),
                "auto_recall": round(report.auto_recall, 5),
                "true_matches_below_reject": round(report.missed_below_reject, 5),
                "tier_shares": {k: round(v, 5) for k, v in report.tier_shares.items()},
            },
        },
    )
