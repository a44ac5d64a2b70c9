"""The matching interface the linker implements, and its exact-key placeholder.

A matcher names the keys whose transactions must be serialised (so two copies of one new
patient cannot found two golden records) and decides where a stored record belongs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from mpi_store.enums import LinkSource, LinkState, MatchResult
from mpi_store.models import Link, SourceRecord
from mpi_store.repositories import (
    GoldenRecordRepository,
    LinkRepository,
    SourceRecordRepository,
)


@dataclass(frozen=True)
class Decision:
    """Where a record goes; `golden_record_id=None` founds a new golden record."""

    golden_record_id: int | None
    match_result: MatchResult
    link_state: LinkState
    link_source: LinkSource = LinkSource.AUTO
    probability: float | None = None
    match_weight: float | None = None
    model_version: str | None = None
    reason: dict[str, Any] = field(default_factory=dict)


class Matcher(Protocol):
    def lock_keys(self, record: SourceRecord) -> list[str]: ...

    def decide(self, session: Session, record: SourceRecord) -> Decision: ...


class ExactMatcher:
    """Placeholder until the Splink linker: same SSN, or same given + family name + birth date.

    Guards (DESIGN §4) turn a would-be match into POSSIBLE_MATCH with its own golden record:
    the golden record already holds another record of the same source, or both SSNs are
    present and differ.
    """

    model_version = "exact-keys-v1"

    def lock_keys(self, record: SourceRecord) -> list[str]:
        keys = []
        if record.norm_ssn:
            keys.append(f"ssn:{record.norm_ssn}")
        if record.norm_given_name and record.norm_family_name and record.birth_date:
            keys.append(
                f"nd:{record.norm_family_name}|{record.norm_given_name}|{record.birth_date}"
            )
        return keys

    def decide(self, session: Session, record: SourceRecord) -> Decision:
        candidates = SourceRecordRepository(session).exact_candidates(
            exclude_record_id=record.id,
            norm_ssn=record.norm_ssn,
            norm_given_name=record.norm_given_name,
            norm_family_name=record.norm_family_name,
            birth_date=record.birth_date,
        )
        if not candidates:
            return Decision(
                None,
                MatchResult.NO_MATCH,
                LinkState.FINAL,
                probability=0.0,
                model_version=self.model_version,
                reason={"rule": "no_candidate"},
            )
        by_golden: dict[int, list[tuple[SourceRecord, Link]]] = {}
        for candidate, link in candidates:
            by_golden.setdefault(link.golden_record_id, []).append((candidate, link))
        goldens = GoldenRecordRepository(session).by_ids(sorted(by_golden))
        mpi_ids = sorted(g.mpi_id for g in goldens)
        links = LinkRepository(session)
        guards = sorted(
            {
                guard
                for golden_id in by_golden
                for guard in _guards(record, [r for r, _ in links.records_of_golden(golden_id)])
            }
        )
        rules = sorted({_rule(record, c) for members in by_golden.values() for c, _ in members})
        if len(by_golden) == 1 and not guards:
            (golden_id,) = by_golden
            return Decision(
                golden_id,
                MatchResult.MATCH,
                LinkState.FINAL,
                probability=1.0,
                model_version=self.model_version,
                reason={"rule": rules, "candidates": mpi_ids},
            )
        if len(by_golden) > 1:
            guards.append("several_golden_records")
        return Decision(
            None,
            MatchResult.POSSIBLE_MATCH,
            LinkState.PROVISIONAL,
            probability=1.0,
            model_version=self.model_version,
            reason={"rule": rules, "candidates": mpi_ids, "guards": guards},
        )


def _rule(record: SourceRecord, candidate: SourceRecord) -> str:
    if record.norm_ssn is not None and record.norm_ssn == candidate.norm_ssn:
        return "same_ssn"
    return "same_name_and_birth_date"


def _guards(record: SourceRecord, golden_members: list[SourceRecord]) -> list[str]:
    guards = []
    for candidate in golden_members:
        if candidate.source == record.source:
            guards.append("same_source_different_id")
        if record.norm_ssn and candidate.norm_ssn and record.norm_ssn != candidate.norm_ssn:
            guards.append("conflicting_ssn")
    return guards
