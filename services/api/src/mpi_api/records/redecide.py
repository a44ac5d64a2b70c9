"""A changed record decided again (issue 16, row 5): the decision a new record with its content
would get, applied to the record where it stands.

- The record goes where the decision puts it: with the patient it auto-matches (staying if that
  is its own), on a patient of its own when it matches no one, or on a provisional patient of
  its own with its gray pairs queued when it is ambiguous (a record that now scores with two
  patients is adjudicated against both; none of that leaves it split silently). A record that
  was its patient's only one keeps that patient instead of founding another.
- A patient the record leaves is recomputed; one it leaves empty becomes a redirect to the
  record's new patient (as a merge makes it; an unmerge gives the record back).
- The record's gray pairs of its previous version are dropped (their verdicts judged content
  that is gone; what they decided stays in link history) and the new ones queued.
- A MANUAL link is never moved. Where the decision would put its record with another patient,
  or take it off a patient it shares, the link is disputed (in the stewards' queue).

A link whose decision is unchanged (same patient, result, source, state and probability: a
change of clinical history alone) is left as it is.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from mpi_linker.decision import Decision
from mpi_store.db import LINK_CHANGE_LOCK, advisory_lock_keys
from mpi_store.domain.enums import LinkSource
from mpi_store.domain.survivorship import survive
from mpi_store.models import Adjudication, GoldenRecord, Link, SourceRecord
from mpi_store.repositories import GoldenRecordRepository, LinkRepository

TRIGGER = "record_updated"


def redecide(
    session: Session, *, record: SourceRecord, decision: Decision
) -> tuple[GoldenRecord, Link]:
    """Apply `decision` (the matcher's, for the record's new content) to the stored record;
    returns its patient and link as they now are."""
    # A link-moving change, serialised with merges and stewards' decisions.
    advisory_lock_keys(session, [LINK_CHANGE_LOCK])
    links = LinkRepository(session)
    goldens = GoldenRecordRepository(session)
    link = links.get_for_record(record.id)
    if link is None:
        raise RuntimeError(f"source record {record.id} has no link")
    session.refresh(link)
    fellows = [r for r, _ in links.records_of_golden(link.golden_record_id) if r.id != record.id]
    if link.link_source == LinkSource.MANUAL:
        _dispute(session, link, decision, shared=bool(fellows))
        return goldens.get(link.golden_record_id), link
    target_id = decision.golden_record_id
    if target_id is None:
        target_id = link.golden_record_id if not fellows else None
    # Row locks lowest id first, as a merge takes them.
    locked = {
        golden_id: goldens.lock_active(golden_id)
        for golden_id in sorted({link.golden_record_id, *([target_id] if target_id else [])})
    }
    current = locked[link.golden_record_id]
    target = goldens.create() if target_id is None else locked[target_id]
    session.execute(delete(Adjudication).where(Adjudication.record_id == record.id))
    links.change_if_different(
        link,
        golden_record_id=target.id,
        match_result=decision.match_result,
        link_source=decision.link_source,
        link_state=decision.link_state,
        probability=decision.probability,
        reason={**decision.reason, "trigger": TRIGGER, "record_version": record.version},
        model_version=decision.model_version,
        match_weight=decision.match_weight,
    )
    if current.id != target.id:
        if fellows:
            goldens.set_attributes(current, survive(fellows))
        else:
            goldens.redirect(current, survivor=target, link_ids=[link.id])
    return target, link


def _dispute(session: Session, link: Link, decision: Decision, *, shared: bool) -> None:
    goldens = GoldenRecordRepository(session)
    if decision.golden_record_id is not None:
        target = goldens.survivor(goldens.get(decision.golden_record_id))
        if target.id == link.golden_record_id:
            return
        proposal, mpi_ids = "join", [target.mpi_id]
    elif shared and not decision.gray_pairs:
        proposal, mpi_ids = "separate", []
    else:
        return
    LinkRepository(session).dispute(
        link,
        by=TRIGGER,
        proposal=proposal,
        mpi_ids=mpi_ids,
        model_version=decision.model_version,
        reasons=[],
    )
