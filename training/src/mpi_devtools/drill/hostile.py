"""Hostile-input drill: each payload gets a 4xx naming the field, or is stored and read back
exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from mpi_devtools.drill.report import Check
from mpi_devtools.drill.stack import Stack

Record = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    # The field a refusal must name (None: refused as a whole body, 400 / 413).
    field: str | None
    build: Callable[[Record], bytes | Record]
    # The field read back exactly when the payload is accepted.
    echo: str | None = None


def _with(**overrides: Any) -> Callable[[Record], Record]:
    return lambda base: {**base, **overrides}


def _deep(_: Record) -> bytes:
    return (
        b'{"source":"DRILL","source_record_id":"deep","clinical":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}"
    )


def _events(count: int) -> Callable[[Record], Record]:
    return lambda base: {
        **base,
        "clinical": {"observations": [{"code": "8867-4", "value": i} for i in range(count)]},
    }


CASES = (
    Case("NUL byte", "given_name", _with(given_name="Ab\u0000c")),
    Case(
        "lone surrogate",
        "family_name",
        lambda b: json.dumps({**b, "family_name": "x\ud800"}).encode(),
    ),
    Case("10k-char string", "given_name", _with(given_name="a" * 10_000)),
    Case("deep JSON", None, _deep),
    Case("non-UTF-8 body", None, lambda b: json.dumps(b).encode().replace(b"DRILL", b"DR\xffLL")),
    Case(
        "huge number",
        "clinical.observations.0.value",
        lambda b: json.dumps(b).encode()[:-1] + b',"clinical":{"observations":[{"value":1e999}]}}',
    ),
    Case(
        "NaN",
        "clinical.observations.0.value",
        lambda b: json.dumps(b).encode()[:-1] + b',"clinical":{"observations":[{"value":NaN}]}}',
    ),
    Case("10k events in one record", "clinical.observations", _events(10_000)),
    Case(
        "oversize body",
        None,
        lambda b: {**b, "clinical": {"observations": [{"display": "x" * 400}] * 4000}},
    ),
    Case("unicode in ids", None, _with(source_record_id="Ü/ß?#&-ид-标识"), echo="source_record_id"),
)


def check_hostile(stack: Stack, *, record: Record) -> Check:
    check = Check("hostile input", scope=", ".join(case.name for case in CASES))
    with httpx.Client(base_url=stack.url, headers=stack.headers, timeout=60) as client:
        for n, case in enumerate(CASES):
            base = {**record, "source": "DRILL", "source_record_id": f"hostile-{n}"}
            payload = case.build(base)
            content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            answer = client.post(
                "/records", content=content, headers={"Content-Type": "application/json"}
            )
            check.figures[case.name] = answer.status_code
            check.expect(answer.status_code < 500, f"{case.name}: {answer.status_code}")
            if answer.is_success:
                check.expect(case.echo is not None, f"{case.name}: accepted")
                if case.echo is not None and isinstance(payload, dict):
                    _expect_read_back(check, client, case, payload)
            elif answer.status_code == 422 and case.field is not None:
                named = [p.get("field", "") for p in answer.json().get("detail", [])]
                check.expect(
                    any(f.startswith(case.field) for f in named),
                    f"{case.name}: 422 names {named}, not {case.field}",
                )
            else:
                check.expect(
                    case.field is None and answer.status_code in {400, 413},
                    f"{case.name}: {answer.status_code}",
                )
    return check


def _expect_read_back(check: Check, client: httpx.Client, case: Case, payload: Record) -> None:
    source, record_id = (quote(payload[k], safe="") for k in ("source", "source_record_id"))
    stored = client.get(f"/records/{source}/{record_id}")
    field = case.echo or ""
    check.expect(
        stored.status_code == 200 and stored.json().get(field) == payload.get(field),
        f"{case.name}: read back {stored.status_code}",
    )
