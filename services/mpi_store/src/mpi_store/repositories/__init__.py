"""Repositories: every query, bound to a session; callers never commit inside them."""

from mpi_store.repositories.adjudications import AdjudicationRepository, NewAdjudication
from mpi_store.repositories.api_keys import ApiKeyRepository
from mpi_store.repositories.events import EventRepository, NewEvent
from mpi_store.repositories.golden_records import GoldenRecordRepository
from mpi_store.repositories.linker_index import Candidate, LinkerIndexRepository
from mpi_store.repositories.links import LinkRepository, NewLink
from mpi_store.repositories.outbox import OutboxRepository
from mpi_store.repositories.read_audit import AuditFilters, ReadAuditRepository
from mpi_store.repositories.review_queue import (
    PairRow,
    QueueFilters,
    QueueRow,
    QueueSort,
    ReviewQueueRepository,
)
from mpi_store.repositories.source_records import SourceRecordRepository

__all__ = [
    "AdjudicationRepository",
    "ApiKeyRepository",
    "AuditFilters",
    "Candidate",
    "EventRepository",
    "GoldenRecordRepository",
    "LinkRepository",
    "LinkerIndexRepository",
    "NewAdjudication",
    "NewEvent",
    "NewLink",
    "OutboxRepository",
    "PairRow",
    "QueueFilters",
    "QueueRow",
    "QueueSort",
    "ReadAuditRepository",
    "ReviewQueueRepository",
    "SourceRecordRepository",
]
