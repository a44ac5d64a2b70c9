"""Link vocabulary shared with HAPI MDM (reference/mpi_anchors.md §1)."""

from __future__ import annotations

from enum import StrEnum


class MatchResult(StrEnum):
    MATCH = "MATCH"
    POSSIBLE_MATCH = "POSSIBLE_MATCH"
    NO_MATCH = "NO_MATCH"
    REDIRECT = "REDIRECT"


class LinkSource(StrEnum):
    AUTO = "AUTO"
    LLM = "LLM"
    MANUAL = "MANUAL"


class LinkState(StrEnum):
    FINAL = "final"
    PROVISIONAL = "provisional"


class GoldenStatus(StrEnum):
    ACTIVE = "active"
    REDIRECTED = "redirected"


class Scope(StrEnum):
    RECORDS_WRITE = "records:write"
    PATIENTS_READ = "patients:read"
    # Data stewards: decide links (MANUAL), which automation never overrides.
    LINKS_WRITE = "links:write"
    ADMIN = "admin"


class OutboxTopic(StrEnum):
    ADJUDICATION_REQUESTED = "adjudication.requested"


class EventType(StrEnum):
    """What `GET /events` reports; `data` carries the ids and states of the change."""

    PATIENT_CREATED = "patient.created"
    PATIENT_UPDATED = "patient.updated"
    # The absorbed mpi_id now redirects to `data.redirect_to`.
    PATIENT_MERGED = "patient.merged"
    # A steward undid a merge: the mpi_id is active again with the records it had then.
    PATIENT_UNMERGED = "patient.unmerged"
    # A steward moved records off the patient onto `data.to_mpi_id`, kept apart from it.
    PATIENT_SPLIT = "patient.split"
    LINK_CREATED = "link.created"
    LINK_UPDATED = "link.updated"


class AdjudicationState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Verdict(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    # The classifier said match but a guard or a MANUAL link stops the merge: a person decides.
    REVIEW = "review"


class ReadAction(StrEnum):
    """An audited read: the route's operation id."""

    READ_PATIENT = "read_patient"
    READ_RECORD = "read_record"
    SEARCH_PATIENTS = "search_patients"
    FIND_PATIENTS = "find_patients"
    FHIR_READ_PATIENT = "fhir_read_patient"
    FHIR_SEARCH_PATIENT = "fhir_search_patient"
    FHIR_MATCH_PATIENT = "fhir_match_patient"
    FHIR_PIX_QUERY = "fhir_pix_query"
