"""`GET /links` (the review queue), `POST /links/{id}/decision`, `GET /links/{id}/history`,
`GET /links/{id}/explanation`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mpi_api.adjudications.schemas import RecordKey
from mpi_api.deps import ReaderDep, SessionDep, StewardDep
from mpi_api.links import explanation, service
from mpi_api.links.explanation_schemas import LinkExplanationRead
from mpi_api.links.schemas import (
    DisputeRead,
    LinkDecisionCreate,
    LinkHistoryRead,
    LinkPage,
    LinkRead,
    LinkRevisionRead,
    PairRead,
    WaitingFor,
)
from mpi_api.responses import StaleVersionRead, error_responses
from mpi_store.domain.contracts import MAX_ID, StorableText, Timestamp
from mpi_store.domain.enums import AdjudicationState, LinkSource, LinkState, MatchResult, Verdict
from mpi_store.repositories import QueueFilters, QueueSort

router = APIRouter(prefix="/links", tags=["links"])

LinkId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get(
    "",
    operation_id="list_links",
    responses=error_responses({404: "`cursor` is not one this queue handed out"}),
)
def list_links(
    session: SessionDep,
    _: ReaderDep,
    match_result: Annotated[
        MatchResult | None, Query(description="`POSSIBLE_MATCH`: what waits for a person")
    ] = None,
    link_source: LinkSource | None = None,
    link_state: LinkState | None = None,
    disputed: Annotated[
        bool | None,
        Query(description="`true`: MANUAL decisions automation disagrees with, waiting too"),
    ] = None,
    source: Annotated[StorableText | None, Query(max_length=100)] = None,
    mpi_id: Annotated[
        StorableText | None, Query(max_length=40, description="Links to this patient")
    ] = None,
    created_after: Annotated[Timestamp | None, Query(description="Link created at or after")] = (
        None
    ),
    created_before: Annotated[Timestamp | None, Query(description="Link created before")] = None,
    sort: Annotated[
        QueueSort,
        Query(description="`age`: longest untouched first; `risk`: most uncertain first"),
    ] = QueueSort.AGE,
    cursor: Annotated[
        str | None, Query(max_length=500, description="`next_cursor` of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LinkPage:
    """The review queue: links by the filters, each with its record's key, patient, scores,
    guards, gray pairs and why it waits (`waiting_for`). Every provisional link and every pair
    the classifier left for review is `match_result=POSSIBLE_MATCH`; every MANUAL decision a
    relink or a classifier verdict disagrees with (never overridden) is `disputed=true`."""
    golden_id = None
    if mpi_id is not None:
        golden_id = service.golden_id_of(session, mpi_id)
        if golden_id is None:
            return LinkPage(items=[], next_cursor=None)
    filters = QueueFilters(
        match_result=match_result,
        link_source=link_source,
        link_state=link_state,
        disputed=disputed,
        source=source,
        golden_record_id=golden_id,
        created_after=created_after,
        created_before=created_before,
    )
    views, next_cursor = service.list_links(
        session, filters=filters, sort=sort, cursor=cursor, limit=limit
    )
    return LinkPage(items=[_read(v) for v in views], next_cursor=next_cursor)


@router.post(
    "/{link_id}/decision",
    operation_id="decide_link",
    responses={
        409: {"model": StaleVersionRead, "description": "`version` is stale"},
        **error_responses(
            {
                400: "Body is not JSON (`InvalidJSON`)",
                404: "Unknown link, or an `mpi_id` naming no patient",
                422: "A bad field (named)",
            }
        ),
    },
)
def decide_link(
    link_id: LinkId, body: LinkDecisionCreate, session: SessionDep, principal: StewardDep
) -> LinkRead:
    """A steward's decision, `link_source: MANUAL`, which automation never overrides.

    `MATCH` with `mpi_id` moves the record to that patient (its old patient, left empty,
    merges into it and redirects); `NO_MATCH` splits the record off onto a new patient, or,
    alone on its patient, keeps it there apart from the patients its gray pairs proposed.
    Golden records are recomputed; link history names the key as `actor`; `link.updated`
    events carry `link_source: MANUAL` and `actor`. The same decision again answers `200`
    and changes nothing (on a `disputed` link it settles the dispute, the decision kept);
    another on a stale `version` is `409` with `current_version`.
    """
    view = service.decide(session, link_id=link_id, decision=body, actor=principal.name)
    return _read(view)


@router.get(
    "/{link_id}/history",
    operation_id="read_link_history",
    responses=error_responses({404: "Unknown link"}),
)
def read_link_history(link_id: LinkId, session: SessionDep, _: ReaderDep) -> LinkHistoryRead:
    """Every decision on the link, oldest first: result, source, state, who or what decided
    (`actor`, `rule`), the probabilities and model versions, the time."""
    revisions = service.history(session, link_id=link_id)
    return LinkHistoryRead(
        link_id=link_id,
        items=[
            LinkRevisionRead(
                decision_id=str(revision.decision_id),
                match_result=MatchResult(revision.match_result),
                link_source=LinkSource(revision.link_source),
                link_state=LinkState(revision.link_state),
                mpi_id=mpi_id,
                previous_mpi_id=previous,
                actor=revision.actor,
                rule=revision.reason.get("rule"),
                probability=revision.probability,
                match_weight=revision.match_weight,
                model_version=revision.model_version,
                record_version=revision.record_version,
                reason=revision.reason,
                created_at=revision.created_at,
            )
            for revision, mpi_id, previous in revisions
        ],
    )


@router.get(
    "/{link_id}/explanation",
    operation_id="read_link_explanation",
    responses=error_responses({404: "Unknown link"}),
)
def read_link_explanation(
    link_id: LinkId, session: SessionDep, _: ReaderDep
) -> LinkExplanationRead:
    """Why the link is what it is, as stored when it was decided: the blocking key kinds that
    found the best candidate, Splink's per-comparison levels and match weights in the model's
    order from the prior to the final weight (a waterfall), the thresholds in force, the
    guards, each gray pair's classifier verdict and fusion, and for a MANUAL decision the
    steward's note and the automatic decision it replaced. Level labels, never values."""
    return explanation.explain(session, link_id=link_id)


def _read(view: service.LinkView) -> LinkRead:
    link, reason = view.row.link, view.row.reason
    pairs = [
        PairRead(
            adjudication_id=p.adjudication.id,
            candidate=RecordKey(
                source=p.candidate_source, source_record_id=p.candidate_source_record_id
            ),
            candidate_mpi_id=p.candidate_mpi_id,
            state=AdjudicationState(p.adjudication.state),
            splink_probability=p.adjudication.probability,
            classifier_probability=p.adjudication.classifier_probability,
            fused_probability=p.adjudication.fused_probability,
            verdict=Verdict(p.adjudication.verdict) if p.adjudication.verdict else None,
            abstain_reason=p.adjudication.abstain_reason,
            review_reasons=p.adjudication.review_reasons,
        )
        for p in view.pairs
    ]
    return LinkRead(
        id=link.id,
        version=link.version,
        record=RecordKey(source=view.row.source, source_record_id=view.row.source_record_id),
        mpi_id=view.row.mpi_id,
        match_result=MatchResult(link.match_result),
        link_source=LinkSource(link.link_source),
        link_state=LinkState(link.link_state),
        probability=link.probability,
        model_version=link.model_version,
        rule=reason.get("rule"),
        guards=sorted(reason.get("guards") or []),
        waiting_for="steward" if link.disputed else _waiting_for(link.match_result, pairs),
        disputed=DisputeRead.model_validate(link.disputed) if link.disputed else None,
        kept_apart_from=view.kept_apart_from,
        pairs=pairs,
        created_at=link.created_at,
        updated_at=link.updated_at,
    )


def _waiting_for(match_result: str, pairs: list[PairRead]) -> WaitingFor | None:
    if match_result != MatchResult.POSSIBLE_MATCH:
        return None
    states = {p.state for p in pairs}
    if AdjudicationState.PENDING in states:
        return "classifier"
    if AdjudicationState.FAILED in states:
        return "classifier_failed"
    return "steward"
