"""Where a new record belongs: the linker's scores, the decision tiers and the guards.

DESIGN §1.3 and §4. Auto-link only when exactly one patient scores at or above the auto
threshold with a person-level field agreeing beyond the names (`mpi_store.evidence`) and no
guard fires (its gray candidates on other patients are adjudicated too: one of them may be the
same person, split earlier, whom the worker then merges); anything ambiguous becomes
POSSIBLE_MATCH with the record on its own provisional golden record and one adjudication per
gray pair; otherwise NO_MATCH.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from mpi_api.linker_client import LinkerClient
from mpi_linker import normalise
from mpi_store.enums import LinkSource, LinkState, MatchResult
from mpi_store.evidence import corroborated
from mpi_store.guards import pair_guards
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkRepository

# Gray pairs adjudicated per record: the best few carry the evidence; the rest add GPU cost.
MAX_GRAY_PAIRS = 5


class Guarded(Protocol):
    """What the guards read of a record (a `SourceRecord` or the bulk load's view of one)."""

    @property
    def source(self) -> str: ...

    @property
    def norm_ssn(self) -> str | None: ...

    @property
    def birth_date(self) -> dt.date | None: ...

    @property
    def norm_family_name(self) -> str | None: ...

    @property
    def norm_given_name(self) -> str | None: ...

    @property
    def phone(self) -> str | None: ...

    @property
    def address_line1(self) -> str | None: ...

    @property
    def identifiers(self) -> list[dict[str, Any]]: ...


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


class LinkerMatcher:
    def __init__(self, client: LinkerClient) -> None:
        self.client = client

    def decide(
        self,
        session: Session,
        *,
        record: SourceRecord,
        features: dict[str, Any],
        blocking_keys: list[str],
    ) -> Decision:
        return self.score(session, record=record, features=features, blocking_keys=blocking_keys)[1]

    def score(
        self,
        session: Session,
        *,
        record: SourceRecord,
        features: dict[str, Any],
        blocking_keys: list[str],
    ) -> tuple[dict[str, Any], Decision]:
        """The linker's scored candidates and the decision they give; writes nothing (a
        record not yet stored has no id to exclude)."""
        scored = self.client.score(
            features=features, blocking_keys=blocking_keys, exclude_record_id=record.id
        )
        # Guards read a patient's records only when exactly one patient is in the auto tier;
        # loading every candidate patient's records would cost a query per candidate.
        auto = {c["golden_record_id"] for c in auto_tier(scored["candidates"])}
        links = LinkRepository(session)
        members = {
            golden_id: [r for r, _ in links.records_of_golden(golden_id)]
            for golden_id in (auto if len(auto) == 1 else ())
        }
        return scored, decide(record, scored, members)


def decide(
    record: Guarded, scored: dict[str, Any], members: Mapping[int, Sequence[Guarded]]
) -> Decision:
    """The decision for `record` given the linker's answer and, by patient id, the records of
    the one patient in the auto tier (the only ones the guards read)."""
    candidates: list[dict[str, Any]] = scored["candidates"]  # best first
    version: str = scored["model_version"]
    best = candidates[0] if candidates else None
    reason: dict[str, Any] = {
        "candidates_found": scored["candidates_found"],
        "candidate_cap_hit": scored["capped"],
        "model": _model(scored),
        "best": {**_explain(best), **_waterfall(best)} if best else None,
    }
    auto = auto_tier(candidates)
    auto_goldens = sorted({c["golden_record_id"] for c in auto})
    guards: list[str] = []
    if len(auto_goldens) == 1:
        guards = _guards(record, members[auto_goldens[0]])
        if not guards:
            # Gray candidates of other patients are still adjudicated: if one of them is this
            # patient too (split earlier), the worker merges the two.
            bridges = [
                c
                for c in candidates
                if c["tier"] != "reject" and c["golden_record_id"] != auto_goldens[0]
            ]
            return Decision(
                auto_goldens[0],
                MatchResult.MATCH,
                LinkState.FINAL,
                probability=auto[0]["match_probability"],
                match_weight=auto[0]["match_weight"],
                model_version=version,
                reason={**reason, "rule": "auto"},
                gray_pairs=_gray_pairs(bridges),
                accept_alone=scored["accept_alone_threshold"],
            )
    elif len(auto_goldens) > 1:
        guards = ["several_patients_above_auto"]
    review = [
        c
        for c in candidates
        if c["tier"] == "gray" or (c["tier"] == "auto" and (guards or c not in auto))
    ]
    if not review:
        return Decision(
            None,
            MatchResult.NO_MATCH,
            LinkState.FINAL,
            probability=best["match_probability"] if best else None,
            match_weight=best["match_weight"] if best else None,
            model_version=version,
            reason={**reason, "rule": "below_gray_zone"},
        )
    return Decision(
        None,
        MatchResult.POSSIBLE_MATCH,
        LinkState.PROVISIONAL,
        probability=review[0]["match_probability"],
        match_weight=review[0]["match_weight"],
        model_version=version,
        reason={**reason, "rule": "gray_zone", "guards": guards},
        gray_pairs=_gray_pairs(review),
        accept_alone=scored["accept_alone_threshold"],
    )


def _gray_pairs(candidates: Sequence[dict[str, Any]]) -> list[GrayPair]:
    """The pairs to adjudicate, at most `MAX_GRAY_PAIRS`: each patient's best candidate
    first (best first), so every patient in reach gets a say, then their other records."""
    nth: Counter[int] = Counter()
    ranked: list[tuple[int, int, dict[str, Any]]] = []
    for c in candidates:
        ranked.append((nth[c["golden_record_id"]], len(ranked), c))
        nth[c["golden_record_id"]] += 1
    return [
        GrayPair(
            candidate_record_id=c["record_id"],
            candidate_golden_record_id=c["golden_record_id"],
            probability=c["match_probability"],
            match_weight=c["match_weight"],
            comparison_weights=_explain(c)["comparisons"],
        )
        for *_, c in sorted(ranked, key=lambda r: r[:2])[:MAX_GRAY_PAIRS]
    ]


def auto_tier(candidates: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The candidates that may link at once: in the auto tier and corroborated. An auto-tier
    score on names alone is gray: the classifier (or a person) decides it."""
    return [c for c in candidates if c["tier"] == "auto" and corroborated(c["comparisons"])]


def _explain(candidate: dict[str, Any]) -> dict[str, Any]:
    """Ids, scores and level labels only: never the compared values."""
    return {
        "mpi_id": candidate["mpi_id"],
        "probability": candidate["match_probability"],
        "match_weight": candidate["match_weight"],
        "comparisons": {
            name: {"level": c["label"], "match_weight": round(c["match_weight"], 3)}
            for name, c in candidate["comparisons"].items()
        },
    }


def _model(scored: dict[str, Any]) -> dict[str, Any]:
    """The model and bounds in force at decision time: an explanation shows the decision as
    it was made, not a rescoring under a newer model."""
    return {
        "version": scored["model_version"],
        "prior_probability": scored["prior_probability"],
        "prior_match_weight": scored["prior_match_weight"],
        "thresholds": {
            "auto": scored["auto_threshold"],
            "reject": scored["reject_threshold"],
            "accept_alone": scored["accept_alone_threshold"],
        },
    }


def _waterfall(candidate: dict[str, Any]) -> dict[str, Any]:
    """The best candidate's comparisons unrounded, in the model's order (a list: JSONB does
    not keep key order), and the kinds of blocking key that found it."""
    return {
        "record_id": candidate["record_id"],
        "blocking_key_kinds": candidate["blocking_key_kinds"],
        "waterfall": [
            {
                "comparison": name,
                "level": c["level"],
                "label": c["label"],
                "match_weight": c["match_weight"],
            }
            for name, c in candidate["comparisons"].items()
        ],
    }


def _guards(record: Guarded, golden_members: Sequence[Guarded]) -> list[str]:
    """DESIGN §4: reasons an auto match must be reviewed instead."""
    mine = _guard_view(record)
    return sorted({g for other in golden_members for g in pair_guards(mine, _guard_view(other))})


def _guard_view(record: Guarded) -> dict[str, Any]:
    return {
        "source": record.source,
        "ssn": record.norm_ssn,
        "birth_date": record.birth_date,
        "family_name": record.norm_family_name,
        "given_name": record.norm_given_name,
        "phone": normalise.phone(record.phone),
        "address": normalise.street(record.address_line1),
        "identifiers": record.identifiers,
    }
