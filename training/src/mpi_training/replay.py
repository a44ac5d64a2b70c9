"""Replays a generated dataset into a running MPI over HTTP and exports its clusters."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from mpi_store.datasets import RecordKey, iter_payloads

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
CLUSTER_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_record_id", pa.string(), nullable=False),
        pa.field("mpi_id", pa.string()),
        pa.field("link_source", pa.string()),
    ]
)


@dataclasses.dataclass
class ReplayResult:
    posted: int = 0
    rejected: dict[RecordKey, str] = dataclasses.field(default_factory=dict)
    failed: dict[RecordKey, str] = dataclasses.field(default_factory=dict)
    clusters: dict[RecordKey, tuple[str | None, str | None]] = dataclasses.field(
        default_factory=dict
    )


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    attempts: int,
    backoff: float,
    json: dict[str, Any] | None = None,
) -> httpx.Response:
    """The response, retrying 5xx and connection errors with exponential backoff."""
    for attempt in range(attempts):
        try:
            response = await client.request(method, url, json=json)
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
        else:
            if response.status_code not in RETRY_STATUSES or attempt == attempts - 1:
                return response
        await asyncio.sleep(backoff * 2**attempt)
    raise AssertionError("unreachable")


async def replay(
    data_dir: Path,
    *,
    url: str,
    api_key: str,
    concurrency: int = 8,
    attempts: int = 5,
    backoff: float = 0.5,
    transport: httpx.AsyncBaseTransport | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> ReplayResult:
    """POST every record, then re-read each accepted record's current `mpi_id`.

    The POST answer is provisional: later records can merge golden records, so the cluster of
    a record is only known after the whole replay.
    """
    _, payloads = iter_payloads(data_dir)
    result = ReplayResult()
    tick = on_progress or (lambda _phase: None)
    headers = {"Authorization": f"Bearer {api_key}"}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, transport=transport, timeout=60.0
    ) as client:

        async def post(payload: dict[str, Any]) -> None:
            key = (payload["source"], payload["source_record_id"])
            async with gate:
                try:
                    response = await _send(
                        client, "POST", "/records", json=payload, attempts=attempts, backoff=backoff
                    )
                except httpx.TransportError as exc:
                    result.failed[key] = type(exc).__name__
                else:
                    if response.is_success:
                        result.posted += 1
                        body = response.json()
                        result.clusters[key] = (body.get("mpi_id"), body.get("link_source"))
                    elif response.is_client_error:
                        result.rejected[key] = f"{response.status_code} {_error(response)}"
                        log.warning("record %s/%s rejected: %s", *key, response.status_code)
                    else:
                        result.failed[key] = str(response.status_code)
            tick("post")

        await _bounded(post(p) for p in payloads)

        async def reread(key: RecordKey) -> None:
            path = f"/records/{quote(key[0], safe='')}/{quote(key[1], safe='')}"
            async with gate:
                try:
                    response = await _send(client, "GET", path, attempts=attempts, backoff=backoff)
                except httpx.TransportError:
                    response = None
                if response is not None and response.is_success:
                    body = response.json()
                    result.clusters[key] = (
                        body.get("mpi_id"),
                        body.get("link_source") or result.clusters[key][1],
                    )
                else:
                    log.warning("could not re-read %s/%s; keeping the POST answer", *key)
            tick("get")

        await _bounded(reread(key) for key in list(result.clusters))
    return result


async def _bounded(coroutines: Iterator[Any], window: int = 256) -> None:
    # A window of tasks, not one per record up front: 100k pending tasks would hold every
    # payload in memory at once.
    pending: set[asyncio.Task[Any]] = set()
    for coroutine in coroutines:
        pending.add(asyncio.ensure_future(coroutine))
        if len(pending) >= window:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
    if pending:
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def write_clusters(result: ReplayResult, path: Path) -> None:
    rows = sorted(result.clusters.items())
    table = pa.Table.from_pydict(
        {
            "source": [k[0] for k, _ in rows],
            "source_record_id": [k[1] for k, _ in rows],
            "mpi_id": [v[0] for _, v in rows],
            "link_source": [v[1] for _, v in rows],
        },
        schema=CLUSTER_SCHEMA,
    )
    pq.write_table(table, path, compression="zstd")
