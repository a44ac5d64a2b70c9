"""A steward's merge, unmerge and split of golden records (issue 14, items 3 and 4).

Each takes the lock every link-moving change takes (`LINK_CHANGE_LOCK`), then the patients'
rows lowest id first, as decisions and the classifier's apply do, so they serialise with
them. Every refusal is raised before the first write. Moved records get `MANUAL` links:
`MATCH` to the survivor of a merge; `NO_MATCH` with `kept_apart_from` naming the patient they
left after an unmerge or a split, which automation never joins them with again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from mpi_api.patients.conflicts import merge_conflicts
from mpi_api.patients.schemas import MergeCreate, SplitCreate, UnmergeCreate
from mpi_api.records.service import refresh_golden
from mpi_store.db import LINK_CHANGE_LOCK, advisory_lock_keys
from mpi_store.domain.enums import EventType, LinkSource, LinkState, MatchResult
from mpi_store.domain.errors import (
    Conflict,
    InvalidInput,
    MergeConflict,
    PatientNotFound,
    RecordNotFound,
)
from mpi_store.domain.survivorship import survive
from mpi_store.models import Event, GoldenRecord, Link, SourceRecord
from mpi_store.repositories import (
    EventRepository,
    GoldenRecordRepository,
    LinkRepository,
    SourceRecordRepository,
)

log = logging.getLogger(__name__)

Members = list[tuple[SourceRecord, Link]]


@dataclass(frozen=True)
class Merged:
    merge_id: int | None
    survivor: GoldenRecord
    absorbed: GoldenRecord
    golden: dict[str, Any]
    records: list[SourceRecord]
    conflicts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Unmerged:
    unmerge_id: int
    merge_id: int
    absorbed: GoldenRecord
    survivor: GoldenRecord
    restored: list[SourceRecord]
    moved_since: list[SourceRecord]


@dataclass(frozen=True)
class Split:
    split_id: int
    left: GoldenRecord
    target: GoldenRecord
    created: bool
    moved: list[SourceRecord]


def merge(session: Session, *, mpi_id: str, body: MergeCreate, actor: str) -> Merged:
    """Merge `body.other_mpi_id` (followed to its survivor) into the active patient `mpi_id`.

    Idempotent: an id already merged into this patient answers that merge and writes nothing.
    """
    goldens = GoldenRecordRepository(session)
    if not body.preview:
        advisory_lock_keys(session, [LINK_CHANGE_LOCK])
    this = _patient(goldens, mpi_id, field_name="mpi_id")
    other = _patient(goldens, body.other_mpi_id, field_name="other_mpi_id")
    if other.id == this.id:
        raise InvalidInput("other_mpi_id: is this patient; name another")
    absorbed = goldens.survivor(other)
    if not body.preview:
        locked = _lock(goldens, [this.id, absorbed.id])
        _still_active(this, locked[this.id])
        absorbed = locked[absorbed.id]
    links = LinkRepository(session)
    if absorbed.id == this.id:
        event = EventRepository(session).latest(EventType.PATIENT_MERGED, other.mpi_id)
        members = links.records_of_golden(this.id)
        return Merged(
            merge_id=event.id if event else None,
            survivor=this,
            absorbed=other,
            golden={**this.attributes, **(this.override or {})},
            records=[record for record, _ in members],
        )
    members_this = links.records_of_golden(this.id)
    members_absorbed = links.records_of_golden(absorbed.id)
    records = [r for r, _ in members_this] + [r for r, _ in members_absorbed]
    conflicts = merge_conflicts([r for r, _ in members_this], [r for r, _ in members_absorbed])
    golden = survive(records)
    if body.preview:
        return Merged(None, this, absorbed, golden, records, conflicts)
    if conflicts and not body.force:
        fields = ", ".join(sorted({c["field"] for c in conflicts}))
        raise MergeConflict(
            f"patients {this.mpi_id} and {absorbed.mpi_id} disagree on {fields}: merge with "
            "force and a reason, or leave them apart",
            conflicts=conflicts,
        )
    event = _write_merge(
        session, this, absorbed, members_absorbed, body=body, conflicts=conflicts, actor=actor
    )
    refresh_golden(session, golden=this)
    log.info(
        "golden record %s merged into %s by key %r (merge %s, %d links)",
        absorbed.id,
        this.id,
        actor,
        event.id,
        len(members_absorbed),
    )
    return Merged(event.id, this, absorbed, this.attributes, records, conflicts)


def _write_merge(
    session: Session,
    survivor: GoldenRecord,
    absorbed: GoldenRecord,
    members: Members,
    *,
    body: MergeCreate,
    conflicts: list[dict[str, Any]],
    actor: str,
) -> Event:
    links = LinkRepository(session)
    reason = {
        "rule": "manual_merge",
        "note": body.reason,
        "merged": {"survivor": survivor.mpi_id, "absorbed": absorbed.mpi_id},
        "forced_conflicts": sorted({c["field"] for c in conflicts}) or None,
    }
    for _, link in members:
        links.change(
            link,
            golden_record_id=survivor.id,
            match_result=MatchResult.MATCH,
            link_source=LinkSource.MANUAL,
            link_state=LinkState.FINAL,
            probability=link.probability,
            reason=reason,
            actor=actor,
            kept_apart_from=[],
        )
    return GoldenRecordRepository(session).redirect(
        absorbed,
        survivor=survivor,
        link_ids=[link.id for _, link in members],
        actor=actor,
        forced=bool(conflicts) or None,
    )


def unmerge(session: Session, *, mpi_id: str, body: UnmergeCreate, actor: str) -> Unmerged:
    """Bring the merged patient `mpi_id` back with the records it had at the merge, minus those
    a steward moved since; the two are kept apart from then on."""
    advisory_lock_keys(session, [LINK_CHANGE_LOCK])
    goldens = GoldenRecordRepository(session)
    events = EventRepository(session)
    absorbed = _patient(goldens, mpi_id, field_name="mpi_id")
    locked = _lock(goldens, [absorbed.id, goldens.survivor(absorbed).id])
    if absorbed.redirect_to is None:
        raise Conflict(f"mpi_id: {absorbed.mpi_id} is not merged into another patient")
    survivor = locked[absorbed.id]
    merge_event = events.latest(EventType.PATIENT_MERGED, absorbed.mpi_id)
    if merge_event is None:
        raise Conflict(f"mpi_id: no merge of {absorbed.mpi_id} is recorded")
    if body.merge_id is not None and body.merge_id != merge_event.id:
        raise Conflict(
            f"merge_id: the merge in force for {absorbed.mpi_id} is {merge_event.id}, not "
            f"{body.merge_id}"
        )
    links = LinkRepository(session)
    merged_links = [links.get(i) for i in merge_event.data.get("link_ids") or []]
    restore = [link for link in merged_links if link and link.golden_record_id == survivor.id]
    moved = [link for link in merged_links if link and link.golden_record_id != survivor.id]
    if not restore:
        raise Conflict(
            f"merge {merge_event.id}: no record of it is on {survivor.mpi_id} now (a bulk "
            "relink's merge, or all moved since): split or decide instead"
        )
    goldens.restore(absorbed)
    reason = {
        "rule": "manual_unmerge",
        "note": body.reason,
        "merge_id": merge_event.id,
        "kept_apart_from": [survivor.mpi_id],
    }
    for link in restore:
        links.change(
            link,
            golden_record_id=absorbed.id,
            match_result=MatchResult.NO_MATCH,
            link_source=LinkSource.MANUAL,
            link_state=LinkState.FINAL,
            probability=link.probability,
            reason=reason,
            actor=actor,
            kept_apart_from=[survivor.id],
        )
    refresh_golden(session, golden=absorbed)
    refresh_golden(session, golden=survivor)
    event = events.append(
        EventType.PATIENT_UNMERGED,
        absorbed,
        survivor=survivor.mpi_id,
        merge_id=merge_event.id,
        link_ids=sorted(link.id for link in restore),
        moved_since=sorted(link.id for link in moved) or None,
        actor=actor,
    )
    session.flush()
    log.info(
        "merge %s undone by key %r: golden record %s back with %d links (%d moved since)",
        merge_event.id,
        actor,
        absorbed.id,
        len(restore),
        len(moved),
    )
    restored, moved_since = _records(session, restore), _records(session, moved)
    return Unmerged(event.id, merge_event.id, absorbed, survivor, restored, moved_since)


def split(session: Session, *, mpi_id: str, body: SplitCreate, actor: str) -> Split:
    """Move some of the patient's records onto a new patient or `body.to_mpi_id`."""
    advisory_lock_keys(session, [LINK_CHANGE_LOCK])
    goldens = GoldenRecordRepository(session)
    this = _patient(goldens, mpi_id, field_name="mpi_id")
    target = None
    if body.to_mpi_id is not None:
        target = goldens.survivor(_patient(goldens, body.to_mpi_id, field_name="to_mpi_id"))
        if target.id == this.id:
            raise InvalidInput("to_mpi_id: is the patient the records leave")
    locked = _lock(goldens, [this.id] + ([target.id] if target else []))
    _still_active(this, locked[this.id])
    links = LinkRepository(session)
    members = links.records_of_golden(this.id)
    on_patient = {(r.source, r.source_record_id): (r, link) for r, link in members}
    chosen: dict[int, tuple[SourceRecord, Link]] = {}
    records = SourceRecordRepository(session)
    for i, key in enumerate(body.records):
        member = on_patient.get((key.source, key.source_record_id))
        if member is None and records.get_by_key(key.source, key.source_record_id) is None:
            raise RecordNotFound(f"records[{i}]: names no record")
        if member is None or member[1].id in chosen:
            raise InvalidInput(f"records[{i}]: not a record of {this.mpi_id} (or named twice)")
        chosen[member[1].id] = member
    if len(chosen) == len(members):
        raise InvalidInput("records: every record of the patient; a split leaves one at least")
    created = target is None
    target = goldens.create() if target is None else locked[target.id]
    reason = {"rule": "manual_split", "note": body.reason, "kept_apart_from": [this.mpi_id]}
    for _, link in chosen.values():
        links.change(
            link,
            golden_record_id=target.id,
            match_result=MatchResult.NO_MATCH,
            link_source=LinkSource.MANUAL,
            link_state=LinkState.FINAL,
            probability=link.probability,
            reason=reason,
            actor=actor,
            kept_apart_from=[this.id],
        )
    refresh_golden(session, golden=target)
    refresh_golden(session, golden=this)
    event = EventRepository(session).append(
        EventType.PATIENT_SPLIT,
        this,
        to_mpi_id=target.mpi_id,
        link_ids=sorted(chosen),
        created=created,
        actor=actor,
    )
    session.flush()
    log.info(
        "golden record %s: %d links split onto %s by key %r", this.id, len(chosen), target.id, actor
    )
    return Split(event.id, this, target, created, [record for record, _ in chosen.values()])


def redirected_to(session: Session, *, mpi_id: str) -> GoldenRecord | None:
    """The survivor a merged `mpi_id` redirects to; None for an active one (404 if unknown)."""
    goldens = GoldenRecordRepository(session)
    golden = _patient(goldens, mpi_id, field_name="mpi_id")
    survivor = goldens.survivor(golden)
    return None if survivor.id == golden.id else survivor


def resolves_to(session: Session, *, mpi_id: str, survivor: GoldenRecord) -> bool:
    """Whether `mpi_id` is `survivor` or was merged into it (False if it names no patient)."""
    goldens = GoldenRecordRepository(session)
    golden = goldens.get_by_mpi_id(mpi_id)
    return golden is not None and goldens.survivor(golden).id == survivor.id


def _patient(goldens: GoldenRecordRepository, mpi_id: str, *, field_name: str) -> GoldenRecord:
    golden = goldens.get_by_mpi_id(mpi_id)
    if golden is None:
        raise PatientNotFound(f"{field_name}: names no patient")
    return golden


def _lock(goldens: GoldenRecordRepository, golden_ids: list[int]) -> dict[int, GoldenRecord]:
    """Lock the patients' rows lowest id first; each id maps to the active record it is."""
    return {golden_id: goldens.lock_active(golden_id) for golden_id in sorted(set(golden_ids))}


def _still_active(asked: GoldenRecord, locked: GoldenRecord) -> None:
    if locked.id != asked.id:
        raise Conflict(
            f"mpi_id: {asked.mpi_id} was merged into {locked.mpi_id} while this waited; "
            "send the request there"
        )


def _records(session: Session, links: list[Link]) -> list[SourceRecord]:
    return sorted(
        (session.get_one(SourceRecord, link.record_id) for link in links),
        key=lambda r: (r.source, r.source_record_id),
    )
