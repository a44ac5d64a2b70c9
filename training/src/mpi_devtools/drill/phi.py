"""PHI scan: no log line of any process and no broker message holds a value the drill posted."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import redis

from mpi_devtools.drill.report import Check
from mpi_devtools.drill.stack import Stack


def check_phi(stack: Stack, *, values: list[str]) -> Check:
    check = Check("PHI scan", scope="stack log (every process), every Redis key")
    log = stack.log.read_bytes()
    broker = b"\n".join(_broker_payloads(stack.redis_port))
    needles = [v.encode() for v in values]
    log_hits = sum(log.count(n) for n in needles)
    broker_hits = sum(broker.count(n) for n in needles)
    check.figures |= {
        "values": len(values),
        "log lines": log.count(b"\n"),
        "broker bytes": len(broker),
        "log hits": log_hits,
        "broker hits": broker_hits,
    }
    check.expect(log_hits == 0, f"{log_hits} PHI values in the log")
    check.expect(broker_hits == 0, f"{broker_hits} PHI values in broker messages")
    return check


def _broker_payloads(port: int) -> Iterator[bytes]:
    """Every value under every key, Celery's base64 message bodies decoded."""
    client = redis.Redis(port=port)
    for key in client.scan_iter(count=500):
        for value in _values(client, key):
            item = value if isinstance(value, bytes) else str(value).encode()
            yield item
            yield from _decoded_body(item)
    client.close()


def _values(client: redis.Redis, key: bytes) -> list[Any]:
    kind = client.type(key)
    if kind == b"string":
        return [client.get(key)]
    if kind == b"list":
        return list(client.lrange(key, 0, -1))
    if kind == b"hash":
        return list(client.hgetall(key).values())
    if kind == b"set":
        return list(client.smembers(key))
    if kind == b"zset":
        return list(client.zrange(key, 0, -1))
    return []


def _decoded_body(item: bytes) -> Iterator[bytes]:
    try:
        message = json.loads(item)
    except ValueError:
        return
    if isinstance(message, dict) and isinstance(message.get("body"), str):
        try:
            yield base64.b64decode(message["body"], validate=True)
        except ValueError:
            return
