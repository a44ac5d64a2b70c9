"""The linker's index in Postgres: features, blocking keys, term frequencies, candidates."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert as pg_insert
from sqlalchemy.orm import Session

from mpi_store.models import BlockingKey, LinkerRecord, TermFrequency


@dataclass(frozen=True)
class Candidate:
    record_id: int
    golden_record_id: int
    mpi_id: str
    features: dict[str, Any]
    # The record's blocking keys this candidate shares with it: what found it.
    shared_keys: list[str]


@dataclass(frozen=True)
class Search:
    candidates: list[Candidate]
    generic_keys: list[str]


# Ids are positive: -1 excludes no record. The one-row `generic` side keeps the generic keys
# when no candidate is found.
_SEARCH = text(
    """
WITH wanted AS (SELECT DISTINCT key FROM unnest(CAST(:keys AS varchar[])) AS w (key)),
postings AS (
    SELECT wanted.key, p.record_id FROM wanted
    CROSS JOIN LATERAL (
        SELECT b.record_id FROM blocking_key b
        WHERE b.key = wanted.key AND b.record_id <> :exclude
        LIMIT :bound
    ) AS p
),
held AS (SELECT key, count(*) AS n FROM postings GROUP BY key),
matching AS (
    SELECT p.record_id, count(*) AS shared, array_agg(p.key) AS shared_keys
    FROM postings p JOIN held h ON h.key = p.key
    WHERE h.n < :bound
    GROUP BY p.record_id
    ORDER BY shared DESC, p.record_id
    LIMIT :limit
),
found AS (
    SELECT m.record_id, l.golden_record_id, g.mpi_id, r.features, m.shared_keys, m.shared
    FROM matching m
    JOIN linker_record r ON r.record_id = m.record_id
    JOIN link l ON l.record_id = m.record_id
    JOIN golden_record g ON g.id = l.golden_record_id
)
SELECT found.*, generic.keys AS generic
FROM (
    SELECT coalesce(array_agg(key ORDER BY key), '{}') AS keys FROM held WHERE n >= :bound
) AS generic
LEFT JOIN found ON true
ORDER BY found.shared DESC, found.record_id
"""
)


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

    def search(
        self,
        keys: Sequence[str],
        *,
        bound: int,
        limit: int,
        exclude_record_id: int | None = None,
    ) -> Search:
        """The linked records sharing at least one of `keys` that is not generic, at most
        `limit`, those sharing the most keys first; and the generic keys, held by at least
        `bound` indexed records (other than the excluded one), as a common family-name code
        with a sex is among a million. One statement: each key's postings are read once and
        only up to the bound, so a key held by a hundred thousand records costs no more than
        one held by `bound`."""
        if not keys:
            return Search([], [])
        rows = self.session.execute(
            _SEARCH,
            {
                "keys": list(keys),
                "bound": bound,
                "limit": limit,
                "exclude": -1 if exclude_record_id is None else exclude_record_id,
            },
        ).all()
        return Search(
            [
                Candidate(
                    r.record_id, r.golden_record_id, r.mpi_id, r.features, sorted(r.shared_keys)
                )
                for r in rows
                if r.record_id is not None
            ],
            sorted(rows[0].generic),
        )

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

    def holds_others(self, keys: Sequence[str], *, besides: Collection[int]) -> bool:
        """Whether a record not in `besides` is indexed under one of `keys` (one statement)."""
        if not keys:
            return False
        others = select(BlockingKey.record_id).where(
            BlockingKey.key == func.any(bindparam("keys", list(keys), type_=ARRAY(String))),
            BlockingKey.record_id
            != func.all(bindparam("besides", sorted(besides), type_=ARRAY(BigInteger))),
        )
        return bool(self.session.scalar(select(others.exists())))

    def all_term_frequencies(self) -> dict[str, dict[str, float]]:
        """The whole table: each column's frequency by value."""
        found: dict[str, dict[str, float]] = {}
        rows = self.session.execute(
            select(TermFrequency.column_name, TermFrequency.value, TermFrequency.frequency)
        )
        for column, value, frequency in rows:
            found.setdefault(column, {})[value] = frequency
        return found

    def term_frequency_fingerprint(self) -> tuple[int, int]:
        """What changes whenever the table does (its rows and their frequencies, summed
        exactly): reading it is one scan and no rows."""
        count, total = self.session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(cast(TermFrequency.frequency * 1e12, BigInteger)), 0),
            )
        ).one()
        return int(count), int(total)

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
