"""Synthetic background populations for benchmarks: realistic names, fast loading into Postgres.

Names come from the committed evaluation set's records (about 1,500 given and family names), so
blocking keys are as selective as on generated patients; the other fields are random.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import Engine, insert, text

from mpi_linker.features import blocking_keys, features
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS
from mpi_store.models import BlockingKey, GoldenRecord, Link, LinkerRecord, SourceRecord

EVAL_RECORDS = Path(__file__).parents[1] / "data" / "eval" / "records.parquet"
STREETS = ("Main St", "Oak Ave", "Elm St", "Park Rd", "Maple Dr", "Cedar Ln", "Pine Ct", "Lake Way")


def name_pools() -> tuple[list[str], list[str]]:
    table = pq.read_table(EVAL_RECORDS, columns=["given_name", "family_name"]).to_pylist()
    given = sorted({r["given_name"] for r in table if r["given_name"]})
    family = sorted({r["family_name"] for r in table if r["family_name"]})
    return given, family


def person(
    rng: random.Random, given: list[str], family: list[str], source: str, rid: str
) -> dict[str, Any]:
    return {
        "source": source,
        "source_record_id": rid,
        "given_name": rng.choice(given),
        "family_name": rng.choice(family),
        "birth_date": dt.date(rng.randint(1925, 2024), rng.randint(1, 12), rng.randint(1, 28)),
        "sex": rng.choice(("female", "male")),
        "address_line1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "city": rng.choice(("Boston", "Worcester", "Springfield", "Lowell", "Cambridge")),
        "postcode": f"0{rng.randint(1000, 2799)}",
        "phone": f"{rng.randint(201, 989)}-555-{rng.randint(0, 9999):04d}",
        "ssn": f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
    }


def _survivorship(person: dict[str, Any]) -> dict[str, Any]:
    """A one-record patient's golden attributes, as `mpi_store.domain.survivorship.survive`
    gives them."""
    fields = {
        k: v.isoformat() if isinstance(v, dt.date) else v
        for k, v in person.items()
        if k in DEMOGRAPHIC_FIELDS and v
    }
    return {**fields, "identifiers": []}


def seed(engine: Engine, count: int, *, rng_seed: int = 1, batch: int = 5000) -> None:
    """Insert `count` linked single-record patients (golden attributes as survivorship gives
    them) with their linker index, in batches."""
    rng = random.Random(rng_seed)
    given, family = name_pools()
    demographic = (
        "given_name",
        "family_name",
        "sex",
        "address_line1",
        "city",
        "postcode",
        "phone",
        "ssn",
    )
    with engine.begin() as connection:
        next_id = connection.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM source_record"))
        for start in range(0, count, batch):
            people = [
                person(rng, given, family, "SEED", f"S{start + i}")
                for i in range(min(batch, count - start))
            ]
            ids = list(range(next_id + start, next_id + start + len(people)))
            connection.execute(
                insert(SourceRecord),
                [
                    {
                        "id": rid,
                        "source": p["source"],
                        "source_record_id": p["source_record_id"],
                        "birth_date": p["birth_date"],
                        "identifiers": [],
                        "content_hash": "seed",
                        "version": 1,
                        **{f: p[f] for f in demographic},
                    }
                    for rid, p in zip(ids, people, strict=True)
                ],
            )
            connection.execute(
                insert(GoldenRecord),
                [
                    {
                        "id": rid,
                        "mpi_id": f"mpi_seed{rid}",
                        "status": "active",
                        "attributes": _survivorship(p),
                        "version": 1,
                    }
                    for rid, p in zip(ids, people, strict=True)
                ],
            )
            connection.execute(
                insert(Link),
                [
                    {
                        "record_id": rid,
                        "golden_record_id": rid,
                        "match_result": "NO_MATCH",
                        "link_source": "AUTO",
                        "link_state": "final",
                        "decision_id": uuid.uuid4(),
                        "version": 1,
                    }
                    for rid in ids
                ],
            )
            rows = [features(p) for p in people]
            connection.execute(
                insert(LinkerRecord),
                [{"record_id": rid, "features": f} for rid, f in zip(ids, rows, strict=True)],
            )
            connection.execute(
                insert(BlockingKey),
                [
                    {"key": key, "record_id": rid}
                    for rid, f in zip(ids, rows, strict=True)
                    for key in blocking_keys(f)
                ],
            )
        for table in ("source_record", "golden_record"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )
            )
        connection.execute(text("ANALYZE"))
