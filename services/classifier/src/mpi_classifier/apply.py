"""Apply a classifier verdict: record it on the adjudication, merge golden records or finalise
a no-match (DESIGN §1.5, §4).

A match merges the record's golden record and the candidate's: the absorbed `mpi_id` becomes a
permanent redirect, every link it held moves to the survivor (one history row each), and the
survivor's golden record is recomputed. Guards still apply: golden records holding conflicting
SSNs or identifiers are not merged (verdict `review`: the adjudication says why, and the
record's link is POSSIBLE_MATCH and provisional, in the stewards' queue). MANUAL links are
never changed by automation, and a steward's NO_MATCH keeps its record's patient apart from the
patients it names (`Link.kept_apart_from`); a verdict that disagrees with a MANUAL link (it
would join the record with a patient it is not on, or separate it from the candidate's patient
it is on) disputes the link instead (`LinkRepository.dispute`), in the stewards' queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mpi_linker.guard_subjects import guard_subject
from mpi_store.db import LINK_CHANGE_LOCK, advisory_lock_keys
from mpi_store.domain.enums import (
    AdjudicationState,
    LinkSource,
    LinkState,
    MatchResult,
    Verdict,
)
from mpi_store.domain.guards import pair_guards
from mpi_store.domain.survivorship import survive
from mpi_store.models import Adjudication, GoldenRecord, Link, SourceRecord
from mpi_store.repositories import AdjudicationRepository, GoldenRecordRepository, LinkRepository

log = logging.getLogger(__name__)

# Guards that forbid joining two golden records (the others route pairs to review, which is
# what the classifier is doing).
MERGE_GUARDS = frozenset({"conflicting_ssn", "conflicting_identifier"})
# Automation merges only a pair its fused probability calls more likely one person than two;
# an accepted pair below this (the fitted accept threshold sits lower, where F1 is best) waits
# for a person: a false merge mixes two people's charts, a split waits in the queue.
MERGE_FLOOR = 0.5
# Relatives look alike to demographics; only a clinical history tells them apart. Without one
# (the classifier abstained) a pair that looks like twins or a household, with given names
# Splink finds different, goes to a person.
RELATIVE_GUARDS = frozenset({"possible_twin", "possible_household_member"})


@dataclass(frozen=True)
class Scores:
    """The verdict's inputs; without a classifier probability (it abstained, `abstain_reason`
    says why) the fused probability is Splink's own."""

    classifier_probability: float | None
    fused_probability: float
    accept: bool
    backend: str
    model_id: str
    abstain_reason: str | None = None
    # The fusion's weight, threshold and training prior (`Fusion.to_dict`); None when the
    # classifier abstained and Splink decided alone.
    fusion: dict[str, float] | None = None


def decide(session: Session, *, adjudication_id: int, scores: Scores) -> Verdict | None:
    """Record and apply the verdict; None when the adjudication is no longer pending (another
    delivery of the same task decided it)."""
    advisory_lock_keys(session, [LINK_CHANGE_LOCK])
    adjudications = AdjudicationRepository(session)
    adjudication = adjudications.transition(
        adjudication_id,
        from_state=AdjudicationState.PENDING,
        to_state=AdjudicationState.DONE,
        classifier_probability=scores.classifier_probability,
        fused_probability=scores.fused_probability,
        classifier_backend=scores.backend,
        classifier_model=scores.model_id,
        abstain_reason=scores.abstain_reason,
    )
    if adjudication is None:
        return None
    relatives = (
        _relatives(session, adjudication) if scores.accept and scores.abstain_reason else set()
    )
    why: list[str] = []
    if not scores.accept:
        verdict = Verdict.NO_MATCH
    elif scores.fused_probability < MERGE_FLOOR:
        log.info(
            "adjudication %s: accepted below the merge floor, left for review", adjudication.id
        )
        verdict, why = Verdict.REVIEW, ["uncertain_match"]
    elif relatives:
        log.info(
            "adjudication %s: possible relatives without history, left for review", adjudication.id
        )
        verdict, why = Verdict.REVIEW, sorted(relatives)
    else:
        verdict, why = _merge(session, adjudication, scores)
    adjudication.verdict = verdict
    if verdict is Verdict.REVIEW:
        adjudication.review_reasons = why
        _await_review(session, adjudication, scores, why)
    elif verdict is Verdict.NO_MATCH:
        _dispute_separation(session, adjudication, scores)
    session.flush()
    if verdict is Verdict.NO_MATCH:
        finalise_no_match(session, record_id=adjudication.record_id)
    log.info(
        "adjudication %s: %s (classifier %s, fused %.4f, %s)",
        adjudication.id,
        verdict,
        scores.abstain_reason or f"{scores.classifier_probability:.4f}",
        scores.fused_probability,
        scores.model_id,
    )
    return verdict


def _reason(adjudication: Adjudication, scores: Scores, **extra: Any) -> dict[str, Any]:
    """Ids and scores only."""
    classified = scores.classifier_probability is not None
    return {
        "rule": "classifier" if classified else "splink_alone",
        "adjudication_id": adjudication.id,
        "candidate_record_id": adjudication.candidate_record_id,
        "splink_probability": adjudication.probability,
        "classifier_probability": round(scores.classifier_probability, 6)
        if scores.classifier_probability is not None
        else None,
        "abstain_reason": scores.abstain_reason,
        "accept_alone_threshold": None if classified else adjudication.accept_alone_threshold,
        "fused_probability": round(scores.fused_probability, 6),
        "backend": scores.backend,
        "classifier_model": scores.model_id,
        "fusion": scores.fusion,
        **extra,
    }


def _await_review(
    session: Session, adjudication: Adjudication, scores: Scores, why: list[str]
) -> None:
    """A pair a person must decide puts its record's link in the queue: POSSIBLE_MATCH and
    provisional on the patient it is on (HAPI MDM does the same), unless a steward decided it."""
    links = LinkRepository(session)
    link = links.get_for_record(adjudication.record_id)
    if link is None:
        return
    if link.link_source == LinkSource.MANUAL:
        candidate = links.get_for_record(adjudication.candidate_record_id)
        if candidate is not None and candidate.golden_record_id != link.golden_record_id:
            _dispute(session, link, adjudication, scores, "join", [candidate], reasons=why)
        return
    if (link.match_result, link.link_state) == (MatchResult.POSSIBLE_MATCH, LinkState.PROVISIONAL):
        return
    links.change(
        link,
        golden_record_id=link.golden_record_id,
        match_result=MatchResult.POSSIBLE_MATCH,
        link_source=link.link_source,
        link_state=LinkState.PROVISIONAL,
        probability=link.probability,
        reason=_reason(adjudication, scores, rule="review", guards=why),
    )


def _dispute_separation(session: Session, adjudication: Adjudication, scores: Scores) -> None:
    """A no-match for a record a steward put on the candidate's patient."""
    links = LinkRepository(session)
    link = links.get_for_record(adjudication.record_id)
    candidate = links.get_for_record(adjudication.candidate_record_id)
    if (
        link is not None
        and candidate is not None
        and link.link_source == LinkSource.MANUAL
        and link.golden_record_id == candidate.golden_record_id
    ):
        _dispute(session, link, adjudication, scores, "separate", [], reasons=[])


def _dispute(
    session: Session,
    link: Link,
    adjudication: Adjudication,
    scores: Scores,
    proposal: str,
    joining: list[Link],
    *,
    reasons: list[str],
) -> None:
    goldens = GoldenRecordRepository(session)
    mpi_ids = [goldens.survivor(goldens.get(other.golden_record_id)).mpi_id for other in joining]
    if LinkRepository(session).dispute(
        link,
        by="classifier",
        proposal=proposal,
        mpi_ids=mpi_ids,
        model_version=scores.model_id,
        adjudication_id=adjudication.id,
        reasons=reasons,
    ):
        log.info("adjudication %s: %s disputes MANUAL link %s", adjudication.id, proposal, link.id)


def _merge(
    session: Session, adjudication: Adjudication, scores: Scores
) -> tuple[Verdict, list[str]]:
    """MATCH with the patients merged, or REVIEW with the reasons none was."""
    links = LinkRepository(session)
    goldens = GoldenRecordRepository(session)
    record_link = links.get_for_record(adjudication.record_id)
    candidate_link = links.get_for_record(adjudication.candidate_record_id)
    if record_link is None or candidate_link is None:
        raise RuntimeError(f"adjudication {adjudication.id} names a record without a link")
    # Row locks (lowest id first) make a record being linked to either patient wait for the
    # merge, or the merge wait for it, so no link is left on an absorbed golden record.
    first, second = sorted((record_link.golden_record_id, candidate_link.golden_record_id))
    locked = {first: goldens.lock_active(first), second: goldens.lock_active(second)}
    mine = locked[record_link.golden_record_id]
    theirs = locked[candidate_link.golden_record_id]
    merged: dict[str, str] = {}
    # A record already linked for good (an auto match whose other gray candidates are being
    # adjudicated) keeps its link; only the two patients are merged.
    relink = record_link.link_source != LinkSource.MANUAL and not (
        record_link.match_result == MatchResult.MATCH and record_link.link_state == LinkState.FINAL
    )
    if mine.id != theirs.id:
        members_mine = links.records_of_golden(mine.id)
        members_theirs = links.records_of_golden(theirs.id)
        conflicts = _conflicts(members_mine, members_theirs)
        manual_mine = any(link.link_source == LinkSource.MANUAL for _, link in members_mine)
        manual_theirs = any(link.link_source == LinkSource.MANUAL for _, link in members_theirs)
        if manual_mine and manual_theirs:
            conflicts.add("manual_links_on_both")
        if _kept_apart(goldens, members_mine, theirs) or _kept_apart(goldens, members_theirs, mine):
            conflicts.add("manual_no_match")
        if conflicts:
            log.info(
                "adjudication %s: merge of golden records %s and %s left for review (%s)",
                adjudication.id,
                mine.id,
                theirs.id,
                ", ".join(sorted(conflicts)),
            )
            return Verdict.REVIEW, sorted(conflicts)
        # The candidate's (established) patient survives unless a person linked records to
        # the other one: merging it away would move their decision.
        survivor, absorbed = (mine, theirs) if manual_mine else (theirs, mine)
        members_absorbed = members_mine if absorbed is mine else members_theirs
        merged = {"survivor": survivor.mpi_id, "absorbed": absorbed.mpi_id}
        rule = "splink_alone_merge" if scores.abstain_reason else "classifier_merge"
        reason = _reason(adjudication, scores, rule=rule, merged=merged)
        for _, link in members_absorbed:
            if link.id != record_link.id or not relink:
                links.change(
                    link,
                    golden_record_id=survivor.id,
                    match_result=link.match_result,
                    link_source=link.link_source,
                    link_state=link.link_state,
                    probability=link.probability,
                    reason=reason,
                )
        goldens.redirect(
            absorbed, survivor=survivor, link_ids=[link.id for _, link in members_absorbed]
        )
    else:
        survivor = mine
    if relink:
        links.change(
            record_link,
            golden_record_id=survivor.id,
            match_result=MatchResult.MATCH,
            # A link the classifier had no say in is Splink's, not the model's.
            link_source=LinkSource.AUTO if scores.abstain_reason else LinkSource.LLM,
            link_state=LinkState.FINAL,
            probability=scores.fused_probability,
            reason=_reason(adjudication, scores, merged=merged or None),
        )
    _refresh(session, survivor)
    return Verdict.MATCH, []


def _kept_apart(
    goldens: GoldenRecordRepository, members: list[tuple[SourceRecord, Link]], other: GoldenRecord
) -> bool:
    """A steward's NO_MATCH on one of `members` names `other` (or a patient merged into it)."""
    return any(
        goldens.survivor(goldens.get(golden_id)).id == other.id
        for _, link in members
        for golden_id in link.kept_apart_from
    )


def _conflicts(
    first: list[tuple[SourceRecord, Link]], second: list[tuple[SourceRecord, Link]]
) -> set[str]:
    found: set[str] = set()
    for a, _ in first:
        for b, _ in second:
            found |= pair_guards(guard_subject(a), guard_subject(b)) & MERGE_GUARDS
    return found


def _relatives(session: Session, adjudication: Adjudication) -> set[str]:
    """The twin or household guards that fire, when Splink found the given names different
    (a negative weight), not one name with a typo."""
    given = (adjudication.comparison_weights or {}).get("given_name") or {}
    if given.get("match_weight", 0.0) >= 0:
        return set()
    first, second = (
        session.get_one(SourceRecord, record_id)
        for record_id in (adjudication.record_id, adjudication.candidate_record_id)
    )
    return pair_guards(guard_subject(first), guard_subject(second)) & RELATIVE_GUARDS


def _refresh(session: Session, golden: GoldenRecord) -> None:
    members = [record for record, _ in LinkRepository(session).records_of_golden(golden.id)]
    GoldenRecordRepository(session).set_attributes(golden, survive(members))


def finalise_no_match(session: Session, *, record_id: int) -> bool:
    """Once every adjudication of a record is decided and none matched, its provisional link
    becomes a final NO_MATCH. Returns whether the link changed."""
    adjudications = AdjudicationRepository(session).for_record(record_id)
    if any(
        a.state != AdjudicationState.DONE or a.verdict != Verdict.NO_MATCH for a in adjudications
    ):
        return False
    links = LinkRepository(session)
    link = links.get_for_record(record_id)
    if link is None or link.link_source == LinkSource.MANUAL or link.link_state == LinkState.FINAL:
        return False
    classified = any(a.classifier_probability is not None for a in adjudications)
    links.change(
        link,
        golden_record_id=link.golden_record_id,
        match_result=MatchResult.NO_MATCH,
        link_source=LinkSource.LLM if classified else LinkSource.AUTO,
        link_state=LinkState.FINAL,
        probability=max((a.fused_probability or 0.0) for a in adjudications),
        reason={
            "rule": "classifier_no_match" if classified else "splink_alone_no_match",
            "adjudication_ids": [a.id for a in adjudications],
            "abstain_reasons": [a.abstain_reason for a in adjudications],
            "fused_probabilities": [round(a.fused_probability or 0.0, 6) for a in adjudications],
        },
    )
    return True
