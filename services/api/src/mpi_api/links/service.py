"""The review queue, a steward's MANUAL decision on a link, and link history.

A decision takes the lock every link-moving change takes (`LINK_CHANGE_LOCK`) and then the
patients' rows lowest id first, as the classifier's apply does, so a decision racing an
adjudication serialises with it. MATCH moves the record to the named patient (its old patient,
left empty, redirects there: a merge); NO_MATCH splits it onto a new patient, or keeps it on
its own, and names the patients automation must never join it with.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mpi_api.links.schemas import LinkDecisionCreate
from mpi_api.records.service import refresh_golden
from mpi_store.db import LINK_CHANGE_LOCK, advisory_lock_keys
from mpi_store.domain.contracts import MAX_ID
from mpi_store.domain.enums import LinkSource, LinkState, MatchResult
from mpi_store.domain.errors import LinkNotFound, NotFound, PatientNotFound, StaleVersion
from mpi_store.models import GoldenRecord, Link, LinkHistory
from mpi_store.repositories import (
    AdjudicationRepository,
    GoldenRecordRepository,
    LinkRepository,
    PairRow,
    QueueFilters,
    QueueRow,
    QueueSort,
    ReviewQueueRepository,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkView:
    row: QueueRow
    pairs: list[PairRow]
    kept_apart_from: list[str]


def list_links(
    session: Session, *, filters: QueueFilters, sort: QueueSort, cursor: str | None, limit: int
) -> tuple[list[LinkView], str | None]:
    """A page of the queue and the cursor of the next one (None on the last page)."""
    rows = ReviewQueueRepository(session).page(
        filters, sort=sort, after=_decode(cursor, sort) if cursor else None, limit=limit
    )
    next_cursor = _encode(sort, rows[-1]) if len(rows) == limit else None
    return _views(session, rows), next_cursor


def golden_id_of(session: Session, mpi_id: str) -> int | None:
    """The patient an mpi_id names now (a merged one: its survivor); None if unknown."""
    goldens = GoldenRecordRepository(session)
    golden = goldens.get_by_mpi_id(mpi_id)
    return None if golden is None else goldens.survivor(golden).id


def read_link(session: Session, *, link_id: int) -> LinkView:
    rows = ReviewQueueRepository(session).page(
        QueueFilters(link_id=link_id), sort=QueueSort.AGE, after=None, limit=1
    )
    if not rows:
        raise LinkNotFound("no link with that id")
    return _views(session, rows)[0]


def decide(session: Session, *, link_id: int, decision: LinkDecisionCreate, actor: str) -> LinkView:
    """Apply a steward's decision (idempotent: the same decision again changes nothing, except
    that on a disputed link it settles the dispute)."""
    advisory_lock_keys(session, [LINK_CHANGE_LOCK])
    links = LinkRepository(session)
    goldens = GoldenRecordRepository(session)
    link = links.get(link_id)
    if link is None:
        raise LinkNotFound("no link with that id")
    target_id = None
    if decision.mpi_id is not None:
        target_id = golden_id_of(session, decision.mpi_id)
        if target_id is None:
            raise PatientNotFound("mpi_id: names no patient")
    patients = {link.golden_record_id} | ({target_id} if target_id is not None else set())
    locked = {golden_id: goldens.lock_active(golden_id) for golden_id in sorted(patients)}
    current = locked[link.golden_record_id]
    target = locked[target_id] if target_id is not None else None
    already = _already(link, decision, current, target)
    if already and link.disputed is None:
        return read_link(session, link_id=link_id)
    if decision.version != link.version:
        raise StaleVersion(
            f"link {link.id} is at version {link.version}, not {decision.version}: read it "
            "again and decide on what it is now",
            current_version=link.version,
        )
    reason = {"rule": "manual", "note": decision.reason, "previous_version": link.version}
    if already:
        # The steward stands by the decision automation disputes: it stays, the dispute is
        # settled (link history keeps it).
        links.change(
            link,
            golden_record_id=link.golden_record_id,
            match_result=link.match_result,
            link_source=LinkSource.MANUAL,
            link_state=link.link_state,
            probability=link.probability,
            reason={**reason, "confirmed": True},
            actor=actor,
        )
    elif target is not None:
        _match(session, link, current=current, target=target, reason=reason, actor=actor)
    else:
        _no_match(session, link, current=current, reason=reason, actor=actor)
    # Ids and the key's name only; the steward's note stays in link history.
    log.info(
        "link %s: %s by key %r, now version %s on golden record %s",
        link.id,
        decision.match_result,
        actor,
        link.version,
        link.golden_record_id,
    )
    return read_link(session, link_id=link_id)


def _already(
    link: Link,
    decision: LinkDecisionCreate,
    current: GoldenRecord,
    target: GoldenRecord | None,
) -> bool:
    return (
        link.link_source == LinkSource.MANUAL
        and link.match_result == decision.match_result
        and (target is None or target.id == current.id)
    )


def _match(
    session: Session,
    link: Link,
    *,
    current: GoldenRecord,
    target: GoldenRecord,
    reason: dict[str, Any],
    actor: str,
) -> None:
    links = LinkRepository(session)
    links.change(
        link,
        golden_record_id=target.id,
        match_result=MatchResult.MATCH,
        link_source=LinkSource.MANUAL,
        link_state=LinkState.FINAL,
        probability=link.probability,
        reason=reason,
        actor=actor,
        kept_apart_from=[],
    )
    if current.id != target.id:
        if links.records_of_golden(current.id):
            refresh_golden(session, golden=current)
        else:
            # The record's patient had no one else: it was the target all along (a merge).
            GoldenRecordRepository(session).redirect(
                current, survivor=target, link_ids=[link.id], actor=actor
            )
    refresh_golden(session, golden=target)


def _no_match(
    session: Session, link: Link, *, current: GoldenRecord, reason: dict[str, Any], actor: str
) -> None:
    links = LinkRepository(session)
    goldens = GoldenRecordRepository(session)
    others = [other for _, other in links.records_of_golden(current.id) if other.id != link.id]
    if others:
        golden, apart = goldens.create(), [current.id]
    else:
        golden, apart = current, _candidate_patients(session, link, exclude=current.id)
    links.change(
        link,
        golden_record_id=golden.id,
        match_result=MatchResult.NO_MATCH,
        link_source=LinkSource.MANUAL,
        link_state=LinkState.FINAL,
        probability=link.probability,
        reason={**reason, "kept_apart_from": [g.mpi_id for g in goldens.by_ids(apart)]},
        actor=actor,
        kept_apart_from=apart,
    )
    refresh_golden(session, golden=golden)
    if golden.id != current.id:
        refresh_golden(session, golden=current)


def _candidate_patients(session: Session, link: Link, *, exclude: int) -> list[int]:
    """The patients the record's gray pairs proposed, as they are now."""
    links = LinkRepository(session)
    goldens = GoldenRecordRepository(session)
    found = set()
    for adjudication in AdjudicationRepository(session).for_record(link.record_id):
        candidate = links.get_for_record(adjudication.candidate_record_id)
        if candidate is not None:
            found.add(goldens.survivor(goldens.get(candidate.golden_record_id)).id)
    return sorted(found - {exclude})


def history(session: Session, *, link_id: int) -> list[tuple[LinkHistory, str, str | None]]:
    """Every revision of the link, oldest first, with its patient's and the left one's mpi_id."""
    link = LinkRepository(session).get(link_id)
    if link is None:
        raise LinkNotFound("no link with that id")
    revisions = LinkRepository(session).history(link.record_id)
    ids = {r.golden_record_id for r in revisions} | {
        r.previous_golden_record_id for r in revisions if r.previous_golden_record_id
    }
    mpi_ids = {g.id: g.mpi_id for g in GoldenRecordRepository(session).by_ids(sorted(ids))}
    return [
        (
            r,
            mpi_ids[r.golden_record_id],
            mpi_ids[r.previous_golden_record_id] if r.previous_golden_record_id else None,
        )
        for r in revisions
    ]


def _views(session: Session, rows: list[QueueRow]) -> list[LinkView]:
    pairs = ReviewQueueRepository(session).pairs([row.link.record_id for row in rows])
    apart = sorted({g for row in rows for g in row.link.kept_apart_from})
    mpi_ids = {g.id: g.mpi_id for g in GoldenRecordRepository(session).by_ids(apart)}
    return [
        LinkView(
            row,
            pairs.get(row.link.record_id, []),
            [mpi_ids[g] for g in row.link.kept_apart_from],
        )
        for row in rows
    ]


def _encode(sort: QueueSort, row: QueueRow) -> str:
    key = row.sort_key.isoformat() if isinstance(row.sort_key, dt.datetime) else row.sort_key
    raw = json.dumps([str(sort), key, row.link.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, sort: QueueSort) -> tuple[Any, int]:
    # A cursor is a page this queue handed out: any other is a page that does not exist.
    problem = NotFound("cursor: not one this queue returned for this sort")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, key, link_id = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        raise problem from error
    if cursor_sort != sort or type(link_id) is not int or not 0 < link_id <= MAX_ID:
        raise problem
    try:
        if sort is QueueSort.AGE:
            return dt.datetime.fromisoformat(key), link_id
        return float(key), link_id
    except (TypeError, ValueError, OverflowError) as error:
        raise problem from error
