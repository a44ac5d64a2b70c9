"""Bodies of the events resource."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from mpi_store.domain.enums import EventType


class EventRead(BaseModel):
    """One change: ids and states only (fetch `/patients/{mpi_id}` for the golden record)."""

    id: int
    type: EventType
    occurred_at: dt.datetime
    mpi_id: str
    source: str | None = Field(description="The source record's system (link events)")
    source_record_id: str | None = Field(description="Its id in that system (link events)")
    data: dict[str, Any] = Field(
        description="match_result, link_source, link_state, decision_id and previous_mpi_id "
        "for link events (and actor, the API key's name, for a steward's MANUAL decision); "
        "redirect_to and link_ids (the links it held) for patient.merged; survivor, merge_id, "
        "link_ids and moved_since for patient.unmerged; to_mpi_id, link_ids and created for "
        "patient.split (each with actor when a steward acted); version for patient.updated"
    )


class EventPage(BaseModel):
    items: list[EventRead]
    next_after: int | None = Field(
        description="Pass as `after` to poll for what follows (the last id seen; unchanged "
        "when nothing new has committed)"
    )
