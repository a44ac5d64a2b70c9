"""ORM models, one module per table."""

from mpi_store.models.adjudication import Adjudication
from mpi_store.models.api_key import ApiKey
from mpi_store.models.base import Base
from mpi_store.models.clinical_event import ClinicalEvent
from mpi_store.models.event import Event
from mpi_store.models.golden_record import GoldenRecord
from mpi_store.models.link import Link
from mpi_store.models.link_history import LinkHistory
from mpi_store.models.linker_index import BlockingKey, LinkerRecord, TermFrequency
from mpi_store.models.outbox import Outbox
from mpi_store.models.read_audit import ReadAudit
from mpi_store.models.source_record import SourceRecord

__all__ = [
    "Adjudication",
    "ApiKey",
    "Base",
    "BlockingKey",
    "ClinicalEvent",
    "Event",
    "GoldenRecord",
    "Link",
    "LinkHistory",
    "LinkerRecord",
    "Outbox",
    "ReadAudit",
    "SourceRecord",
    "TermFrequency",
]
