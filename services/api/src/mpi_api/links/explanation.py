"""Why a link is what it is: the decision in force read back from link history.

Everything comes from what was stored when each decision was made (`reason` of link history:
the linker model, its prior and bounds, the best candidate's per-comparison levels and
weights; the classifier's verdicts and fusion), never from rescoring under a newer model.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mpi_api.adjudications.schemas import RecordKey
from mpi_api.links.explanation_schemas import (
    DecisionRead,
    FusionRead,
    LinkerExplanation,
    LinkExplanationRead,
    PairExplanation,
    PriorRead,
    ThresholdsRead,
    WaterfallStep,
)
from mpi_store.domain.enums import AdjudicationState, LinkSource, LinkState, MatchResult, Verdict
from mpi_store.domain.errors import LinkNotFound
from mpi_store.models import LinkHistory
from mpi_store.repositories import (
    GoldenRecordRepository,
    LinkRepository,
    ReviewQueueRepository,
    SourceRecordRepository,
)

NO_CANDIDATE = "no candidate shared a blocking key with the record"
NOT_STORED = "decided before per-comparison weights were stored with decisions"


def explain(session: Session, *, link_id: int) -> LinkExplanationRead:
    links = LinkRepository(session)
    link = links.get(link_id)
    if link is None:
        raise LinkNotFound("no link with that id")
    revisions = links.history(link.record_id)
    current = revisions[-1]
    replaced = None
    if current.link_source == LinkSource.MANUAL:
        replaced = next(
            (r for r in reversed(revisions) if r.link_source != LinkSource.MANUAL), None
        )
    # The scoring behind the decision: the last revision the linker made (record intake,
    # bulk load, relink); classifier and steward revisions build on it.
    scoring = next((r for r in reversed(revisions) if "candidates_found" in r.reason), None)
    records = SourceRecordRepository(session)
    key = records.keys([link.record_id])[link.record_id]
    return LinkExplanationRead(
        link_id=link.id,
        version=link.version,
        record=RecordKey(source=key.source, source_record_id=key.source_record_id),
        mpi_id=GoldenRecordRepository(session).get(link.golden_record_id).mpi_id,
        decision=_decision(current),
        replaced=_decision(replaced) if replaced is not None else None,
        linker=_linker(scoring, records) if scoring is not None else None,
        pairs=_pairs(session, link.record_id, revisions),
    )


def _decision(revision: LinkHistory) -> DecisionRead:
    return DecisionRead(
        decision_id=str(revision.decision_id),
        match_result=MatchResult(revision.match_result),
        link_source=LinkSource(revision.link_source),
        link_state=LinkState(revision.link_state),
        rule=revision.reason.get("rule"),
        actor=revision.actor,
        note=revision.reason.get("note"),
        probability=revision.probability,
        match_weight=revision.match_weight,
        model_version=revision.model_version,
        created_at=revision.created_at,
    )


def _linker(revision: LinkHistory, records: SourceRecordRepository) -> LinkerExplanation:
    reason = revision.reason
    best: dict[str, Any] | None = reason.get("best")
    model: dict[str, Any] | None = reason.get("model")
    stored = best is not None and model is not None and "waterfall" in best
    candidate = None
    if best is not None and "record_id" in best:
        found = records.keys([best["record_id"]]).get(best["record_id"])
        if found is not None:
            candidate = RecordKey(source=found.source, source_record_id=found.source_record_id)
    return LinkerExplanation(
        decision_id=str(revision.decision_id),
        rule=reason.get("rule"),
        model_version=revision.model_version,
        candidates_found=reason["candidates_found"],
        candidate_cap_hit=reason.get("candidate_cap_hit", False),
        generic_key_kinds=reason.get("generic_key_kinds"),
        guards=sorted(reason.get("guards") or []),
        candidate=candidate,
        candidate_mpi_id=best["mpi_id"] if best else None,
        blocking_key_kinds=best.get("blocking_key_kinds") if best else None,
        probability=best["probability"] if best else None,
        match_weight=best["match_weight"] if best else None,
        prior=PriorRead(
            probability=model["prior_probability"], match_weight=model["prior_match_weight"]
        )
        if model
        else None,
        thresholds=ThresholdsRead(**model["thresholds"]) if model else None,
        waterfall=_waterfall(model, best) if stored and model and best else None,
        waterfall_unavailable=None if stored else NO_CANDIDATE if best is None else NOT_STORED,
    )


def _waterfall(model: dict[str, Any], best: dict[str, Any]) -> list[WaterfallStep]:
    total = model["prior_match_weight"]
    steps = [
        WaterfallStep(
            comparison="prior",
            level=None,
            label="Two random records match",
            match_weight=total,
            cumulative=total,
        )
    ]
    for step in best["waterfall"]:
        total += step["match_weight"]
        steps.append(WaterfallStep(**step, cumulative=total))
    return steps


def _pairs(session: Session, record_id: int, revisions: list[LinkHistory]) -> list[PairExplanation]:
    fusion_of = {
        r.reason["adjudication_id"]: r.reason["fusion"]
        for r in revisions
        if "adjudication_id" in r.reason and r.reason.get("fusion")
    }
    rows = ReviewQueueRepository(session).pairs([record_id]).get(record_id, [])
    return [
        PairExplanation(
            adjudication_id=p.adjudication.id,
            candidate=RecordKey(
                source=p.candidate_source, source_record_id=p.candidate_source_record_id
            ),
            candidate_mpi_id=p.candidate_mpi_id,
            state=AdjudicationState(p.adjudication.state),
            splink_probability=p.adjudication.probability,
            classifier_probability=p.adjudication.classifier_probability,
            backend=p.adjudication.classifier_backend,
            classifier_model=p.adjudication.classifier_model,
            abstain_reason=p.adjudication.abstain_reason,
            fused_probability=p.adjudication.fused_probability,
            verdict=Verdict(p.adjudication.verdict) if p.adjudication.verdict else None,
            review_reasons=p.adjudication.review_reasons,
            fusion=FusionRead(**fusion_of[p.adjudication.id])
            if p.adjudication.id in fusion_of
            else None,
        )
        for p in rows
    ]
