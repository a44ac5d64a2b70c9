"""Auth drill: no key, wrong key, wrong scope, wrong source and revoked key get 401 / 403 and
no data."""

from __future__ import annotations

from typing import Any

import httpx

from mpi_api.auth.service import create_key
from mpi_api.drill.population import phi_values
from mpi_api.drill.report import Check
from mpi_api.drill.stack import Stack
from mpi_store.db import make_engine, make_sessionmaker, unit_of_work
from mpi_store.domain.enums import Scope
from mpi_store.repositories import ApiKeyRepository


def check_auth(stack: Stack, *, record: dict[str, Any]) -> Check:
    check = Check("auth", scope="no key, wrong key, wrong scope, wrong source, revoked key")
    seeded = httpx.post(f"{stack.url}/records", json=record, headers=stack.headers, timeout=30)
    check.expect(seeded.status_code == 201, f"seed record answered {seeded.status_code}")
    read_path = f"/patients/{seeded.json().get('mpi_id', 'none')}"
    keys = _keys(stack)
    attempts: list[tuple[str, str, str | None, int]] = [
        ("no key", read_path, None, 401),
        ("wrong key", read_path, "mpik_" + "x" * 43, 401),
        ("wrong scope", "/records", keys["reader"], 403),
        ("wrong source", "/records", keys["other_source"], 403),
        ("revoked key", read_path, keys["revoked"], 401),
    ]
    secrets = phi_values([record])
    for name, path, key, expected in attempts:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        answer = (
            httpx.post(f"{stack.url}{path}", json=record, headers=headers, timeout=30)
            if path == "/records"
            else httpx.get(f"{stack.url}{path}", headers=headers, timeout=30)
        )
        check.figures[name] = answer.status_code
        check.expect(answer.status_code == expected, f"{name}: {answer.status_code}")
        leaked = [s for s in secrets if s in answer.text]
        check.expect(not leaked, f"{name}: the answer carries record data")
    return check


def _keys(stack: Stack) -> dict[str, str]:
    engine = make_engine(stack.database_url, pool_size=1)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            _, reader = create_key(
                session, name="drill-reader", scopes=[Scope.PATIENTS_READ], allowed_sources=None
            )
            _, other = create_key(
                session,
                name="drill-other-source",
                scopes=[Scope.RECORDS_WRITE],
                allowed_sources=["DRILL-ELSEWHERE"],
            )
            revoked_id, revoked = create_key(
                session, name="drill-revoked", scopes=list(Scope), allowed_sources=None
            )
            ApiKeyRepository(session).revoke(revoked_id)
    finally:
        engine.dispose()
    return {"reader": reader, "other_source": other, "revoked": revoked}
