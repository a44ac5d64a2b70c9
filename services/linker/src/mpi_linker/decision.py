"""Where a record belongs: the decision tiers and the guards over the linker's scores.

The one decision of the MPI, for `POST /records` (the api, in the transaction that stores the
record), a changed record, the FHIR `$match` and search grades, and the bulk load and relink
(`mpi_api.bulk.decide`, record by record in input order). DESIGN §1.3 and §4. Auto-link only
when exactly one patient scores at or above the auto threshold with a person-level field
agreeing beyond the names (`mpi_store.domain.evidence`) and no guard fires (its gray candidates
on other patients are adjudicated too: one of them may be the same person, split earlier, whom
the worker then merges); anything ambiguous becomes POSSIBLE_MATCH with the record on its own
provisional golden record and one adjudication per gray pair; otherwise NO_MATCH.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpi_linker.guard_subjects import Guarded, guard_subject
from mpi_linker.score.schemas import CandidateScore, ScoreResponse
from mpi_store.domain.enums import LinkSource, LinkState, MatchResult
from mpi_store.domain.evidence import corroborated
from mpi_store.domain.guards import pair_guards

# Gray pairs adjudicated per record: the best few carry the evidence; the rest add GPU cost.
MAX_GRAY_PAIRS = 5


@dataclass(frozen=True)
class GrayPair:
    candidate_record_id: int
    candidate_golden_record_id: int
    probability: float
    match_weight: float
    comparison_weights: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """Where a record goes; `golden_record_id=None` founds a new golden record."""

    golden_record_id: int | None
    match_result: MatchResult
    link_state: LinkState
    probability: float | None
    match_weight: float | None
    model_version: str
    reason: dict[str, Any]
    link_source: LinkSource = LinkSource.AUTO
    gray_pairs: list[GrayPair] = field(default_factory=list)
    # The model's bound for linking a gray pair on Splink alone (the classifier abstaining).
    accept_alone: float | None = None


def decide(
    record: Guarded, scored: ScoreResponse, members: Mapping[int, Sequence[Guarded]]
) -> Decision:
    """The decision for `record` given the linker's answer and, by patient id, the records of
    the one patient in the auto tier (the only ones the guards read)."""
    candidates = scored.candidates  # best first
    version = scored.model_version
    best = candidates[0] if candidates else None
    reason: dict[str, Any] = {
        "candidates_found": scored.candidates_found,
        "candidate_cap_hit": scored.capped,
        "generic_key_kinds": scored.generic_key_kinds,
        "model": _model(scored),
        "best": {**_explain(best), **_waterfall(best)} if best else None,
    }
    auto = auto_tier(candidates)
    in_auto = {id(c) for c in auto}
    auto_goldens = sorted({c.golden_record_id for c in auto})
    guards: list[str] = []
    if len(auto_goldens) == 1:
        guards = _guards(record, members[auto_goldens[0]])
        if not guards:
            # Gray candidates of other patients are still adjudicated: if one of them is this
            # patient too (split earlier), the worker merges the two.
            bridges = [
                c
                for c in candidates
                if c.tier != "reject" and c.golden_record_id != auto_goldens[0]
            ]
            return Decision(
                auto_goldens[0],
                MatchResult.MATCH,
                LinkState.FINAL,
                probability=auto[0].match_probability,
                match_weight=auto[0].match_weight,
                model_version=version,
                reason={**reason, "rule": "auto"},
                gray_pairs=_gray_pairs(bridges),
                accept_alone=scored.accept_alone_threshold,
            )
    elif len(auto_goldens) > 1:
        guards = ["several_patients_above_auto"]
    review = [
        c
        for c in candidates
        if c.tier == "gray" or (c.tier == "auto" and (guards or id(c) not in in_auto))
    ]
    if not review:
        return Decision(
            None,
            MatchResult.NO_MATCH,
            LinkState.FINAL,
            probability=best.match_probability if best else None,
            match_weight=best.match_weight if best else None,
            model_version=version,
            reason={**reason, "rule": "below_gray_zone"},
        )
    return Decision(
        None,
        MatchResult.POSSIBLE_MATCH,
        LinkState.PROVISIONAL,
        probability=review[0].match_probability,
        match_weight=review[0].match_weight,
        model_version=version,
        reason={**reason, "rule": "gray_zone", "guards": guards},
        gray_pairs=_gray_pairs(review),
        accept_alone=scored.accept_alone_threshold,
    )


def _gray_pairs(candidates: Sequence[CandidateScore]) -> list[GrayPair]:
    """The pairs to adjudicate, at most `MAX_GRAY_PAIRS`: each patient's best candidate
    first (best first), so every patient in reach gets a say, then their other records."""
    nth: Counter[int] = Counter()
    ranked: list[tuple[int, int, CandidateScore]] = []
    for c in candidates:
        ranked.append((nth[c.golden_record_id], len(ranked), c))
        nth[c.golden_record_id] += 1
    return [
        GrayPair(
            candidate_record_id=c.record_id,
            candidate_golden_record_id=c.golden_record_id,
            probability=c.match_probability,
            match_weight=c.match_weight,
            comparison_weights=_explain(c)["comparisons"],
        )
        for *_, c in sorted(ranked, key=lambda r: r[:2])[:MAX_GRAY_PAIRS]
    ]


def auto_tier(candidates: Sequence[CandidateScore]) -> list[CandidateScore]:
    """The candidates that may link at once: in the auto tier and corroborated. An auto-tier
    score on names alone is gray: the classifier (or a person) decides it."""
    return [
        c
        for c in candidates
        if c.tier == "auto"
        and corroborated({n: {"match_weight": w.match_weight} for n, w in c.comparisons.items()})
    ]


def _explain(candidate: CandidateScore) -> dict[str, Any]:
    """Ids, scores and level labels only: never the compared values."""
    return {
        "mpi_id": candidate.mpi_id,
        "probability": candidate.match_probability,
        "match_weight": candidate.match_weight,
        "comparisons": {
            name: {"level": c.label, "match_weight": round(c.match_weight, 3)}
            for name, c in candidate.comparisons.items()
        },
    }


def _model(scored: ScoreResponse) -> dict[str, Any]:
    """The model and bounds in force at decision time: an explanation shows the decision as
    it was made, not a rescoring under a newer model."""
    return {
        "version": scored.model_version,
        "prior_probability": scored.prior_probability,
        "prior_match_weight": scored.prior_match_weight,
        "thresholds": {
            "auto": scored.auto_threshold,
            "reject": scored.reject_threshold,
            "accept_alone": scored.accept_alone_threshold,
        },
    }


def _waterfall(candidate: CandidateScore) -> dict[str, Any]:
    """The best candidate's comparisons unrounded, in the model's order (a list: JSONB does
    not keep key order), and the kinds of blocking key that found it."""
    return {
        "record_id": candidate.record_id,
        "blocking_key_kinds": candidate.blocking_key_kinds,
        "waterfall": [
            {
                "comparison": name,
                "level": c.level,
                "label": c.label,
                "match_weight": c.match_weight,
            }
            for name, c in candidate.comparisons.items()
        ],
    }


def _guards(record: Guarded, golden_members: Sequence[Guarded]) -> list[str]:
    """DESIGN §4: reasons an auto match must be reviewed instead."""
    mine = guard_subject(record)
    return sorted({g for other in golden_members for g in pair_guards(mine, guard_subject(other))})
