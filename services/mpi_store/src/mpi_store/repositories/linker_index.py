"""The linker's index in Postgres: features, blocking keys, term frequencies, candidates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, insert as pg_insert
from sqlalchemy.orm import Session

from mpi_store.models import BlockingKey, GoldenRecord, Link, LinkerRecord, TermFrequency


@dataclass(frozen=True)
class Candidate:
    record_id: int
    golden_record_id: int
    mpi_id: str
    features: dict[str, Any]
    # The record's blocking keys this candidate shares with it: what found it.
    shared_keys: list[str]


class LinkerIndexRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record_id: int, *, features: dict[str, Any], keys: Sequence[str]) -> None:
        """Index a new record."""
        self.session.execute(insert(LinkerRecord).values(record_id=record_id, features=features))
        self._add_keys(record_id, keys)

    def put(self, record_id: int, *, features: dict[str, Any], keys: Sequence[str]) -> None:
        """Index (or re-index) a record."""
        self.session.execute(
            pg_insert(LinkerRecord)
            .values(record_id=record_id, features=features)
            .on_conflict_do_update(
                index_elements=[LinkerRecord.record_id],
                set_={"features": features, "updated_at": func.now()},
            )
        )
        self.session.execute(delete(BlockingKey).where(BlockingKey.record_id == record_id))
        self._add_keys(record_id, keys)

    def _add_keys(self, record_id: int, keys: Sequence[str]) -> None:
        if keys:
            self.session.execute(
                insert(BlockingKey), [{"key": k, "record_id": record_id} for k in keys]
            )

    def all_indexed(self) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
        """Every indexed record's comparison features and blocking keys, by record id."""
        keys = (
            select(BlockingKey.record_id, func.array_agg(BlockingKey.key).label("keys"))
            .group_by(BlockingKey.record_id)
            .subquery()
        )
        query = (
            select(LinkerRecord.record_id, LinkerRecord.features, keys.c["keys"])
            .outerjoin(keys, keys.c.record_id == LinkerRecord.record_id)
            .order_by(LinkerRecord.record_id)
        )
        for row in self.session.execute(query.execution_options(yield_per=5000)):
            yield row.record_id, row.features, sorted(row[2] or [])

    def generic_keys(
        self, keys: Sequence[str], *, bound: int, exclude_record_id: int | None = None
    ) -> list[str]:
        """The keys held by at least `bound` indexed records (other than the excluded one):
        generic for their value, as a common family-name code with a sex is among a million.
        Each key's postings are counted only up to the bound, so a key held by a hundred
        thousand records costs no more than one held by `bound`."""
        if not keys:
            return []
        wanted = (
            func.unnest(bindparam("generic_keys", list(keys), type_=ARRAY(String)))
            .table_valued("key")
            .render_derived()
        )
        postings = select(literal(1).label("one")).where(BlockingKey.key == wanted.c.key)
        if exclude_record_id is not None:
            postings = postings.where(BlockingKey.record_id != exclude_record_id)
        held = (
            select(func.count())
            .select_from(postings.limit(bound).correlate(wanted).subquery())
            .scalar_subquery()
        )
        return sorted(self.session.scalars(select(wanted.c.key).where(held >= bound)))

    def candidates(
        self, keys: Sequence[str], *, limit: int, exclude_record_id: int | None = None
    ) -> list[Candidate]:
        """Linked records sharing at least one blocking key (indexed); at most `limit`, those
        sharing the most keys first."""
        if not keys:
            return []
        shared = func.count().label("shared")
        matching = (
            select(
                BlockingKey.record_id, shared, func.array_agg(BlockingKey.key).label("shared_keys")
            )
            .where(BlockingKey.key.in_(list(keys)))
            .group_by(BlockingKey.record_id)
            .order_by(shared.desc(), BlockingKey.record_id)
            .limit(limit)
            .subquery()
        )
        query = (
            select(
                LinkerRecord.record_id,
                Link.golden_record_id,
                GoldenRecord.mpi_id,
                LinkerRecord.features,
                matching.c.shared_keys,
            )
            .join(matching, matching.c.record_id == LinkerRecord.record_id)
            .join(Link, Link.record_id == LinkerRecord.record_id)
            .join(GoldenRecord, GoldenRecord.id == Link.golden_record_id)
            # Still most shared keys first: a caller keeping fewer than `limit` (the linker
            # keeps its cap of the cap + 1 it asks for) drops the least alike.
            .order_by(matching.c.shared.desc(), LinkerRecord.record_id)
        )
        if exclude_record_id is not None:
            query = query.where(LinkerRecord.record_id != exclude_record_id)
        return [
            Candidate(r.record_id, r.golden_record_id, r.mpi_id, r.features, sorted(r.shared_keys))
            for r in self.session.execute(query)
        ]

    def term_frequencies(self, wanted: Mapping[str, Sequence[str]]) -> dict[str, dict[str, float]]:
        """Frequencies of the given values, per column, in one query."""
        found: dict[str, dict[str, float]] = {column: {} for column in wanted}
        pairs = [(column, value) for column, values in wanted.items() for value in values]
        if not pairs:
            return found
        # A join with two unnested arrays: one statement text for any number of values (so it is
        # prepared once) and an index lookup per value; a row-value IN list is planned as a
        # sequential scan testing every pair against every row.
        wanted_rows = (
            func.unnest(
                bindparam("columns", [c for c, _ in pairs], type_=ARRAY(String)),
                bindparam("values", [v for _, v in pairs], type_=ARRAY(String)),
            )
            .table_valued("column_name", "value")
            .render_derived()
        )
        rows = self.session.execute(
            select(TermFrequency.column_name, TermFrequency.value, TermFrequency.frequency).join(
                wanted_rows,
                (TermFrequency.column_name == wanted_rows.c.column_name)
                & (TermFrequency.value == wanted_rows.c.value),
            )
        )
        for row in rows:
            found[row.column_name][row.value] = row.frequency
        return found

    def indexed_count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(LinkerRecord)) or 0)

    def refresh_term_frequencies(self, priors: Mapping[str, float], pseudo_records: float) -> int:
        """Recompute each column's value frequencies from the index, shrunk towards the
        column's prior (`priors`: column → the model's u for an exact match) as if
        `pseudo_records` more records held values at the prior's frequency:
        `(count + pseudo_records * prior) / (non-null count + pseudo_records)`. Splink's
        definition (count over non-null count) is the limit of a large index; a small one
        cannot tell a rare name from one it has seen twice by chance."""
        self.session.execute(delete(TermFrequency))
        for column, prior in priors.items():
            value = LinkerRecord.features[column].astext
            counts = (
                select(
                    literal(column).label("column_name"),
                    value.label("value"),
                    (
                        (func.count() + pseudo_records * prior)
                        / (func.sum(func.count()).over() + pseudo_records)
                    ).label("frequency"),
                )
                .where(value.is_not(None))
                .group_by(value)
            )
            self.session.execute(
                insert(TermFrequency).from_select(["column_name", "value", "frequency"], counts)
            )
        return int(self.session.scalar(select(func.count()).select_from(TermFrequency)) or 0)
