"""Relink: every stored record decided again under a (new) linker model, mpi_ids kept.

The records are decided as a bulk load of them in id order would decide them (same batch
predict, tiers, guards and gray pairs); then the result is written over what is stored:

- each new patient keeps the `mpi_id` of the stored patient that holds most of its records
  (largest overlaps first, each stored patient used once); the others get new golden records;
- a stored patient left without records becomes a permanent redirect to the new patient that
  holds most of its former records (as a merge makes it);
- a link that changes is re-decided through the one write path (`LinkRepository.change`: link
  history with reason `relink` and the new model version, and a `link.updated` event);
- pending adjudications of the old model are dropped, the new gray pairs are queued (a decided
  pair asked again is reset to pending, its verdict kept in link history).

Steward decisions are never overridden: a MANUAL link stays as it is, and its patient keeps
its `mpi_id` (the new patient holding the record keeps it, unless that patient would hold
records of one a steward's NO_MATCH keeps apart); records the new model puts with it follow
it, the others go where the model puts them. Where the model disagrees (it would move a
MANUAL record), the link is disputed (`LinkRepository.dispute`: in the stewards' queue,
`GET /links?disputed=true`, with the patients the model would join it with), the report counts
it and the log names the link ids. Run it while nothing else writes (api and worker stopped):
it is one transaction over every record.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mpi_api.bulk.decide import Decided, decide_in_order
from mpi_api.bulk.ingest import StoredRecord
from mpi_api.bulk.predict import batch_predict, term_frequencies
from mpi_api.bulk.progress import Progress, Silent, Step
from mpi_api.records import service
from mpi_linker.frames import SCHEMA
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.model.definition import BLOCKING_KEYS_COLUMN
from mpi_linker.scoring import Scorer
from mpi_store.domain.enums import AdjudicationState, LinkSource, MatchResult
from mpi_store.domain.survivorship import survive
from mpi_store.models import Adjudication, Link, SourceRecord
from mpi_store.repositories import (
    AdjudicationRepository,
    GoldenRecordRepository,
    LinkerIndexRepository,
    LinkRepository,
    NewAdjudication,
    OutboxRepository,
)

log = logging.getLogger(__name__)

_VIEW_FIELDS = tuple(f.name for f in dataclasses.fields(StoredRecord))


@dataclass(frozen=True)
class RelinkReport:
    records: int
    patients: int
    links_changed: int
    patients_kept: int
    patients_created: int
    patients_redirected: int
    gray_pairs: int
    match_results: dict[str, int]
    manual_links_kept: int
    # MANUAL records the new model would have put on another patient (left where they are).
    manual_disagreements: int


def relink(
    session: Session, *, artifact: ModelArtifact, progress: Progress | None = None
) -> RelinkReport:
    records = [
        StoredRecord(**{name: getattr(row, name) for name in _VIEW_FIELDS})
        for row in session.scalars(select(SourceRecord).order_by(SourceRecord.id))
    ]
    index = LinkerIndexRepository(session)
    features = pa.Table.from_pylist(
        [
            {**f, "unique_id": str(record_id), BLOCKING_KEYS_COLUMN: keys}
            for record_id, f, keys in index.all_indexed()
        ],
        schema=SCHEMA,
    )
    scorer = Scorer(artifact)
    tfs = term_frequencies(index, scorer, features)
    progress = progress or Silent()
    with batch_predict(features, artifact, tfs, progress) as predictions:
        decided = decide_in_order(records, predictions.by_record, scorer, artifact, progress)
    progress.begin(Step.WRITTEN, len(records))
    report = _write(session, records, decided)
    progress.advance(Step.WRITTEN, len(records))
    return report


def _write(session: Session, records: Sequence[StoredRecord], decided: Decided) -> RelinkReport:
    links = LinkRepository(session)
    goldens = GoldenRecordRepository(session)
    current = {link.record_id: link for link in session.scalars(select(Link))}
    stored_golden = {record_id: link.golden_record_id for record_id, link in current.items()}
    manual = {r: link for r, link in current.items() if link.link_source == LinkSource.MANUAL}
    pinned = _pins(session, records, decided, stored_golden, manual)
    held = {link.golden_record_id for link in manual.values()}
    golden_of = _keep_ids(records, decided, stored_golden, pinned=pinned, held=held)
    kept = len(golden_of)
    # Where each record ends up: a MANUAL one where the steward put it, the others with their
    # new patient.
    placement: dict[int, int] = {}
    for record, outcome in zip(records, decided.outcomes, strict=True):
        if record.id in manual:
            placement[record.id] = stored_golden[record.id]
            continue
        if outcome.position not in golden_of:
            golden_of[outcome.position] = goldens.create().id
        placement[record.id] = golden_of[outcome.position]
    changed = 0
    disagreements = []
    for record, outcome in zip(records, decided.outcomes, strict=True):
        link = current[record.id]
        if record.id in manual:
            if golden_of.get(outcome.position) != link.golden_record_id:
                disagreements.append(link)
        elif links.change_if_different(
            link,
            golden_record_id=placement[record.id],
            match_result=outcome.match_result,
            link_source=outcome.link_source,
            link_state=outcome.link_state,
            probability=outcome.probability,
            reason={"rule": "relink", "decision": json.loads(outcome.reason)},
            model_version=decided.model_version,
            match_weight=outcome.match_weight,
        ):
            changed += 1
    _dispute(session, records, decided, placement, disagreements)
    redirected = _redirect_emptied(session, stored_golden, placement)
    members: defaultdict[int, list[StoredRecord]] = defaultdict(list)
    for record in records:
        members[placement[record.id]].append(record)
    for golden_id, group in members.items():
        goldens.set_attributes(goldens.get(golden_id), survive(group))
    gray = _requeue(session, records, decided, placement)
    return RelinkReport(
        records=len(records),
        patients=len(members),
        links_changed=changed,
        patients_kept=kept,
        patients_created=len(golden_of) - kept,
        patients_redirected=redirected,
        gray_pairs=gray,
        match_results=dict(Counter(str(o.match_result) for o in decided.outcomes)),
        manual_links_kept=len(manual),
        manual_disagreements=len(disagreements),
    )


def _dispute(
    session: Session,
    records: Sequence[StoredRecord],
    decided: Decided,
    placement: dict[int, int],
    disagreements: list[Link],
) -> None:
    """Each MANUAL link the model would move waits for a steward, with the patients the model
    puts its record's fellows on (none: the model would take it off its patient alone)."""
    if not disagreements:
        return
    fellows: defaultdict[int, set[int]] = defaultdict(set)
    position_of = {}
    for record, outcome in zip(records, decided.outcomes, strict=True):
        fellows[outcome.position].add(placement[record.id])
        position_of[record.id] = outcome.position
    goldens = GoldenRecordRepository(session)
    links = LinkRepository(session)
    for link in disagreements:
        others = fellows[position_of[link.record_id]] - {link.golden_record_id}
        links.dispute(
            link,
            by="relink",
            proposal="join" if others else "separate",
            mpi_ids=sorted(golden.mpi_id for golden in goldens.by_ids(sorted(others))),
            model_version=decided.model_version,
        )
    log.info(
        "relink kept MANUAL links the new model disagrees with, now disputed: links %s",
        [link.id for link in disagreements],
    )


def _pins(
    session: Session,
    records: Sequence[StoredRecord],
    decided: Decided,
    stored_golden: dict[int, int],
    manual: dict[int, Link],
) -> dict[int, int]:
    """New patient position -> the stored patient of a steward's decision among its records,
    which it must keep (first decision in record order wins; each patient used once). A
    NO_MATCH pins only a position holding no record of a patient it keeps apart."""
    goldens = GoldenRecordRepository(session)
    positions: defaultdict[int, list[int]] = defaultdict(list)
    for record, outcome in zip(records, decided.outcomes, strict=True):
        positions[outcome.position].append(record.id)
    pins: dict[int, int] = {}
    for record, outcome in zip(records, decided.outcomes, strict=True):
        link = manual.get(record.id)
        if link is None or outcome.position in pins or link.golden_record_id in pins.values():
            continue
        if link.match_result == MatchResult.NO_MATCH and link.kept_apart_from:
            apart = {goldens.survivor(goldens.get(g)).id for g in link.kept_apart_from}
            if any(stored_golden[other] in apart for other in positions[outcome.position]):
                continue
        pins[outcome.position] = link.golden_record_id
    return pins


def _keep_ids(
    records: Sequence[StoredRecord],
    decided: Decided,
    stored_golden: dict[int, int],
    *,
    pinned: dict[int, int],
    held: set[int],
) -> dict[int, int]:
    """New patient position -> the stored golden record whose mpi_id it keeps: the pinned
    ones, then by overlap among the patients no steward's decision holds."""
    overlap: Counter[tuple[int, int]] = Counter(
        (outcome.position, stored_golden[record.id])
        for record, outcome in zip(records, decided.outcomes, strict=True)
    )
    kept: dict[int, int] = dict(pinned)
    used: set[int] = set(pinned.values()) | held
    # Largest overlaps first; ties by position then golden id, so a rerun keeps the same ids.
    for (position, golden_id), _ in sorted(overlap.items(), key=lambda i: (-i[1], i[0])):
        if position not in kept and golden_id not in used:
            kept[position] = golden_id
            used.add(golden_id)
    return kept


def _redirect_emptied(
    session: Session, stored_golden: dict[int, int], placement: dict[int, int]
) -> int:
    """Stored patients left without records: redirect each to where most of its records went."""
    went: defaultdict[int, Counter[int]] = defaultdict(Counter)
    for record_id, golden_id in stored_golden.items():
        went[golden_id].update([placement[record_id]])
    live = set(placement.values())
    goldens = GoldenRecordRepository(session)
    redirected = 0
    for golden_id, targets in sorted(went.items()):
        if golden_id in live:
            continue
        survivor = max(sorted(targets), key=lambda target: targets[target])
        # Its records went where the new clustering put them, not as one: no unmerge restores
        # them (`link_ids` empty), a steward splits or decides instead.
        goldens.redirect(goldens.get(golden_id), survivor=goldens.get(survivor), link_ids=[])
        redirected += 1
    return redirected


def _requeue(
    session: Session, records: Sequence[StoredRecord], decided: Decided, placement: dict[int, int]
) -> int:
    """Drop the old model's pending pairs; queue the new gray pairs, one outbox row per record."""
    session.execute(delete(Adjudication).where(Adjudication.state == AdjudicationState.PENDING))
    existing = {
        (a.record_id, a.candidate_record_id): a for a in session.scalars(select(Adjudication))
    }
    adjudications = AdjudicationRepository(session)
    outbox = OutboxRepository(session)
    count = 0
    for record, outcome in zip(records, decided.outcomes, strict=True):
        ids, new = [], []
        for pair in outcome.gray_pairs:
            queued = NewAdjudication(
                record_id=record.id,
                candidate_record_id=pair.candidate_record_id,
                candidate_golden_record_id=placement[pair.candidate_record_id],
                probability=pair.probability,
                match_weight=pair.match_weight,
                comparison_weights=pair.comparison_weights,
                model_version=decided.model_version,
                accept_alone_threshold=decided.accept_alone,
            )
            stored = existing.get((record.id, pair.candidate_record_id))
            if stored is None:
                new.append(queued)
            else:
                adjudications.reset(stored, queued)
                ids.append(stored.id)
        ids += adjudications.add_many(new)
        if ids:
            outbox.add(
                service.ADJUDICATION_TOPIC, {"record_id": record.id, "adjudication_ids": ids}
            )
            count += len(ids)
    return count
