"""Golden records: creation, lookup by mpi_id, redirects."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mpi_store.bulk_writes import copy_rows, reserve_ids
from mpi_store.domain.enums import EventType, GoldenStatus
from mpi_store.models import Event, GoldenRecord
from mpi_store.repositories.events import EventRepository, NewEvent

_MAX_REDIRECT_HOPS = 100
_NO_KEY_UPDATE = {"key_share": True}


def new_mpi_id() -> str:
    """Opaque, stable and unguessable: no meaning leaks from the id."""
    return "mpi_" + secrets.token_hex(12)


class GoldenRecordRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self) -> GoldenRecord:
        """A new patient (`create_many` of one); its attributes are set by survivorship once
        its first record is linked, as part of its creation."""
        (golden_id,) = self.create_many([new_mpi_id()], [{}])
        return self.get(golden_id)

    def create_many(
        self, mpi_ids: Sequence[str], attributes: Iterable[Mapping[str, Any]]
    ) -> list[int]:
        """New active patients at version 1 (one per `mpi_ids`, with its `attributes`) and
        their `patient.created` events, by COPY: the one way patients are created, online
        and in bulk. Their ids, in the same order."""
        golden_ids = reserve_ids(self.session, GoldenRecord, len(mpi_ids))
        copy_rows(
            self.session,
            GoldenRecord,
            ("id", "mpi_id", "status", "attributes", "version"),
            (
                (golden_id, mpi_id, GoldenStatus.ACTIVE, json.dumps(dict(attrs)), 1)
                for golden_id, mpi_id, attrs in zip(golden_ids, mpi_ids, attributes, strict=True)
            ),
        )
        EventRepository(self.session).append_many(
            NewEvent(EventType.PATIENT_CREATED, mpi_id, {}) for mpi_id in mpi_ids
        )
        return golden_ids

    def get(self, golden_id: int) -> GoldenRecord:
        return self.session.get_one(GoldenRecord, golden_id)

    def lock_active(self, golden_id: int) -> GoldenRecord:
        """Lock a golden record's row (waiting for a merge in flight) and return the active
        record it resolves to, locked too: what links to it stays linked to a live patient.

        `FOR NO KEY UPDATE`: lockers still serialise, but a row that merely references a locked
        patient (an adjudication's candidate, a link) does not wait for it, so two transactions
        that each lock one patient and reference the other cannot deadlock."""
        golden = self.session.get_one(
            GoldenRecord, golden_id, with_for_update=_NO_KEY_UPDATE, populate_existing=True
        )
        while golden.redirect_to is not None:
            golden = self.session.get_one(
                GoldenRecord,
                golden.redirect_to,
                with_for_update=_NO_KEY_UPDATE,
                populate_existing=True,
            )
        return golden

    def get_by_mpi_id(self, mpi_id: str) -> GoldenRecord | None:
        return self.session.scalar(select(GoldenRecord).where(GoldenRecord.mpi_id == mpi_id))

    def by_mpi_ids(self, mpi_ids: list[str]) -> list[GoldenRecord]:
        return list(
            self.session.scalars(select(GoldenRecord).where(GoldenRecord.mpi_id.in_(mpi_ids)))
        )

    def by_ids(self, golden_ids: list[int]) -> list[GoldenRecord]:
        return list(
            self.session.scalars(select(GoldenRecord).where(GoldenRecord.id.in_(golden_ids)))
        )

    def survivor(self, golden: GoldenRecord) -> GoldenRecord:
        """Follow redirects to the active golden record that absorbed this one."""
        current = golden
        for _ in range(_MAX_REDIRECT_HOPS):
            if current.redirect_to is None:
                return current
            current = self.get(current.redirect_to)
        raise RuntimeError(f"redirect chain too long from golden record {golden.id}")

    def redirect(
        self, absorbed: GoldenRecord, *, survivor: GoldenRecord, link_ids: list[int], **data: Any
    ) -> Event:
        """The absorbed `mpi_id` becomes a redirect to the survivor; its `patient.merged` event
        names the links it held (`link_ids`), what an unmerge gives back."""
        absorbed.status = GoldenStatus.REDIRECTED
        absorbed.redirect_to = survivor.id
        absorbed.version += 1
        self.session.flush()
        event = EventRepository(self.session).append(
            EventType.PATIENT_MERGED,
            absorbed,
            redirect_to=survivor.mpi_id,
            link_ids=sorted(link_ids),
            **data,
        )
        self.session.flush()
        return event

    def restore(self, absorbed: GoldenRecord) -> None:
        """An unmerge: the redirected `mpi_id` is an active patient again."""
        absorbed.status = GoldenStatus.ACTIVE
        absorbed.redirect_to = None
        absorbed.version += 1
        self.session.flush()

    def set_attributes(self, golden: GoldenRecord, attributes: dict[str, Any]) -> None:
        if golden.attributes != attributes:
            # A new patient's first attributes are part of its creation (version 1, as a bulk
            # load writes it), not an update.
            first_fill = not golden.attributes
            golden.attributes = attributes
            if not first_fill:
                golden.version += 1
                EventRepository(self.session).append(
                    EventType.PATIENT_UPDATED, golden, version=golden.version
                )
