"""Bulk load: many records at once, linked by Splink's batch predict on DuckDB.

The decisions are the online path's, record by record in input order: each record is decided
against the records before it (the ones a replay through `POST /records` would find), with the
same tiers, guards, adjudication rows and outbox. Scores use the term frequencies of every
record loaded (refreshed in Postgres once the records are stored), where a replay through the
online linker uses them as its background refresh finds them while the index grows; a bulk
load and a replay in the same order give the same clusters up to that and the online linker's
candidate cap.

Four steps, all in the caller's transaction (a failure leaves nothing written): `ingest`
stores the records, their events and linker index by COPY a batch at a time; `predict` scores
the pairs in DuckDB a chunk at a time and streams them back ordered by their later record;
`decide` makes the decisions in memory; `write` stores golden records, links and what goes
with them by COPY. For tens of millions of records the same model runs on Spark (README,
"Scaling").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpi_api.bulk.decide import decide_in_order
from mpi_api.bulk.ingest import ingest_records
from mpi_api.bulk.predict import batch_predict, term_frequencies
from mpi_api.bulk.progress import Progress, Silent, Step
from mpi_api.bulk.write import write_links
from mpi_linker.model.artifact import ModelArtifact
from mpi_linker.scoring import Scorer
from mpi_store.domain.errors import Conflict
from mpi_store.models import SourceRecord
from mpi_store.repositories import LinkerIndexRepository


@dataclass(frozen=True)
class BulkReport:
    records: int
    golden_records: int
    match_results: dict[str, int]
    candidate_pairs: int


def bulk_load(
    session: Session,
    *,
    payloads: Iterable[Mapping[str, Any]],
    artifact: ModelArtifact,
    total: int = 0,
    progress: Progress | None = None,
) -> BulkReport:
    """Load into an empty MPI (a first load or a migration); refuses a populated one.
    `total` (the number of payloads, where known) sizes the `progress` report."""
    if session.scalar(select(func.count()).select_from(SourceRecord)):
        raise Conflict("bulk load needs an empty MPI; send further records to POST /records")
    progress = progress or Silent()
    progress.begin(Step.STORED, total)
    records, features = ingest_records(session, payloads, progress)
    scorer = Scorer(artifact)
    tfs = term_frequencies(LinkerIndexRepository(session), scorer, features)
    with batch_predict(features, artifact, tfs, progress) as predictions:
        decided = decide_in_order(records, predictions.by_record, scorer, artifact, progress)
    progress.begin(Step.WRITTEN, len(records))
    write_links(session, records, decided)
    progress.advance(Step.WRITTEN, len(records))
    return BulkReport(
        records=len(records),
        golden_records=len(decided.mpi_ids),
        match_results=dict(Counter(str(o.match_result) for o in decided.outcomes)),
        candidate_pairs=predictions.count,
    )
