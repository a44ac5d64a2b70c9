"""Golden records ranked by the linker's dry run over query demographics; writes nothing.

What `Patient/$match` and `POST /patients/search` answer. Grades
(http://hl7.org/fhir/StructureDefinition/match-grade) from our decision tiers: `certain` is the
one patient `POST /records` would auto-link the query to (the only patient in the auto tier, no
guard firing); `probable` is any other patient in the auto tier (several, or a guard fired);
`possible` the gray zone (what adjudication reviews); `certainly-not` below it. A patient's
probability and match weight are those of its best-scoring record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from mpi_api.records.matching import LinkerMatcher
from mpi_api.records.service import event_rows, record_row
from mpi_linker.model.artifact import Tier
from mpi_linker.score.schemas import CandidateScore
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, Demographics, RecordCreate
from mpi_store.domain.enums import MatchResult
from mpi_store.models import GoldenRecord, Link, SourceRecord
from mpi_store.repositories import GoldenRecordRepository, LinkRepository

# A query is no facility's record: a key no source uses keeps the guards' same-source rule out.
QUERY_KEY = ("$match", "query")

Grade = Literal["certain", "probable", "possible", "certainly-not"]


@dataclass(frozen=True)
class RankedPatient:
    golden: GoldenRecord
    members: list[tuple[SourceRecord, Link]]
    grade: Grade
    tier: Tier
    probability: float
    match_weight: float


def query_record(demographics: Demographics) -> RecordCreate:
    """The query as a record of no facility, for the linker to score."""
    return RecordCreate(
        source=QUERY_KEY[0],
        source_record_id=QUERY_KEY[1],
        **demographics.model_dump(include=set(DEMOGRAPHIC_FIELDS)),
    )


def rank_patients(
    session: Session,
    *,
    record: RecordCreate,
    matcher: LinkerMatcher,
    count: int,
    only_certain: bool = False,
    min_probability: float | None = None,
) -> list[RankedPatient]:
    """At most `count` patients the linker finds for `record`, best first: each patient once,
    by its best-scoring record (`only_certain`: at most the one certain patient)."""
    first = matcher.first_look(record, event_rows(record), stored_as=None)
    scored, decision = matcher.score(
        session, record=record_row(record, first.answer.features), first=first
    )
    certain = decision.golden_record_id if decision.match_result == MatchResult.MATCH else None
    best: dict[int, CandidateScore] = {}
    for candidate in scored.candidates:  # best first
        best.setdefault(candidate.golden_record_id, candidate)
    graded = [(grade(candidate, certain), candidate) for candidate in best.values()]
    if only_certain:
        graded = [g for g in graded if g[0] == "certain"][:1]
    if min_probability is not None:
        graded = [g for g in graded if g[1].match_probability >= min_probability]
    goldens = GoldenRecordRepository(session)
    links = LinkRepository(session)
    ranked = []
    for match_grade, candidate in graded[:count]:
        golden = goldens.survivor(goldens.get(candidate.golden_record_id))
        ranked.append(
            RankedPatient(
                golden=golden,
                members=links.records_of_golden(golden.id),
                grade=match_grade,
                tier=candidate.tier,
                probability=candidate.match_probability,
                match_weight=candidate.match_weight,
            )
        )
    return ranked


def grade(candidate: CandidateScore, certain: int | None) -> Grade:
    if candidate.golden_record_id == certain:
        return "certain"
    if candidate.tier == "auto":
        return "probable"
    return "possible" if candidate.tier == "gray" else "certainly-not"
