"""Writers drill: concurrent writers post the same patients from many sources (identical bodies
twice at once, updates racing merges) while faults kill the stack's processes; afterwards no
record is duplicated, unlinked or lost, and every adjudication is done."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from mpi_devtools.drill.report import Check
from mpi_devtools.drill.stack import Stack
from mpi_store.db import make_engine

SOURCES = tuple(f"DRILL{n}" for n in range(6))
RECOVERY_SECONDS = 120.0
DRAIN_LIMIT_SECONDS = 1200.0


@dataclass
class Tally:
    """What the writers saw; shared by their threads under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    written: set[tuple[str, str]] = field(default_factory=set)
    unavailable_without_retry_after: int = 0
    # Requests that got no answer, by httpx's exception name.
    transport_errors: Counter[str] = field(default_factory=Counter)

    def record(
        self, key: tuple[str, str], answer: httpx.Response | httpx.TransportError, seconds: float
    ) -> None:
        with self.lock:
            if isinstance(answer, httpx.TransportError):
                self.transport_errors[type(answer).__name__] += 1
                return
            self.statuses[answer.status_code] += 1
            self.latencies.append(seconds)
            if answer.is_success:
                self.written.add(key)
            elif answer.status_code == 503 and "retry-after" not in answer.headers:
                self.unavailable_without_retry_after += 1


@dataclass(frozen=True)
class Fault:
    """`at` a fraction of the run: kill -9 one supervised process (it must come back), restart
    a server (`postgres`, `redis`), or take the classifier server down for `seconds` while the
    run goes on (`classifier`)."""

    process: str
    at: float
    seconds: float = 0.0

    @property
    def label(self) -> str:
        if self.process == CLASSIFIER:
            return f"classifier down {self.seconds:.0f} s"
        return f"restart {self.process}" if self.process in SERVERS else f"kill -9 {self.process}"


SERVERS = ("postgres", "redis")
CLASSIFIER = "classifier"


def check_writers(
    stack: Stack,
    *,
    people: list[dict[str, Any]],
    writers: int,
    seconds: float,
    faults: tuple[Fault, ...],
    seed: int,
) -> tuple[Check, Check]:
    tally = Tally()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_write, args=(stack, people, tally, deadline, seed + n))
        for n in range(writers)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    fault_check = Check("faults", scope=", ".join(fault.label for fault in faults))
    outages: list[threading.Timer] = []
    for fault in faults:
        time.sleep(max(0.0, started + fault.at * seconds - time.monotonic()))
        if fault.process == CLASSIFIER:
            outages.append(_classifier_outage(stack, fault))
        elif fault.process in SERVERS:
            _restart_server(stack, fault, fault_check)
        else:
            _kill_and_await_restart(stack, fault, fault_check)
    for thread in [*threads, *outages]:
        thread.join()
    elapsed = time.monotonic() - started
    writer_check = Check("writers", scope=f"{writers} writers for {seconds:.0f} s")
    _judge_writers(stack, tally, elapsed, writer_check)
    _judge_recovery(stack, tally, fault_check)
    if outages:
        classified = stack.classifier.served_since_start
        fault_check.figures["pairs classified after the outage"] = classified
        retried = sum(
            "ClassifierUnavailable; retry" in line
            for line in stack.log.read_text(errors="replace").splitlines()
        )
        fault_check.figures["classifier retries"] = retried
        fault_check.expect(retried > 0, "the classifier outage made no adjudication retry")
        fault_check.expect(classified > 0, "no pair was classified after the classifier outage")
    return writer_check, fault_check


def _write(
    stack: Stack, people: list[dict[str, Any]], tally: Tally, deadline: float, seed: int
) -> None:
    rng = random.Random(seed)
    with (
        httpx.Client(base_url=stack.url, headers=stack.headers, timeout=60) as client,
        ThreadPoolExecutor(2) as pair,
    ):
        while time.monotonic() < deadline:
            n = rng.randrange(len(people))
            body = {**people[n], "source": rng.choice(SOURCES), "source_record_id": f"P{n}"}
            if rng.random() < 0.2:
                # An update of a record that may be merging: a new phone on the same key.
                body["phone"] = f"{body['phone'][:-4]}{rng.randint(1000, 9999)}"
            copies = 2 if rng.random() < 0.25 else 1
            list(pair.map(lambda b: _post(client, tally, b), [body] * copies))


def _post(client: httpx.Client, tally: Tally, body: dict[str, Any]) -> None:
    key = (body["source"], body["source_record_id"])
    started = time.perf_counter()
    try:
        answer: httpx.Response | httpx.TransportError = client.post("/records", json=body)
    except httpx.TransportError as error:
        answer = error
    tally.record(key, answer, time.perf_counter() - started)


def _kill_and_await_restart(stack: Stack, fault: Fault, check: Check) -> None:
    before = stack.child_pid(fault.process)
    if before is None:
        check.failures.append(f"{fault.process}: no such process")
        return
    os.kill(before, signal.SIGKILL)
    restarted_at = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < restarted_at:
        after = stack.child_pid(fault.process)
        if after is not None and after != before:
            check.figures[f"{fault.process} restarted"] = "yes"
            return
        time.sleep(0.2)
    check.failures.append(f"{fault.process} was not restarted")


def _restart_server(stack: Stack, fault: Fault, check: Check) -> None:
    try:
        if fault.process == "postgres":
            stack.restart_postgres()
        else:
            stack.restart_redis()
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        check.failures.append(f"{fault.process} restart failed: {type(error).__name__}")
        return
    check.figures[f"{fault.process} restarted"] = "yes"


def _classifier_outage(stack: Stack, fault: Fault) -> threading.Timer:
    """Close the classifier's port now and open it again `fault.seconds` later (the timer)."""
    stack.classifier.stop()
    back = threading.Timer(fault.seconds, stack.classifier.start)
    back.start()
    return back


def _readiness(stack: Stack) -> str:
    try:
        answer = httpx.get(f"{stack.url}/readyz", timeout=30)
    except httpx.TransportError as error:
        return type(error).__name__
    return f"{answer.status_code} {answer.text[:300]}"


def _judge_writers(stack: Stack, tally: Tally, elapsed: float, check: Check) -> None:
    latencies = sorted(tally.latencies)
    p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0
    server_errors = sum(n for code, n in tally.statuses.items() if code >= 500 and code != 503)
    engine = make_engine(stack.database_url, pool_size=1)
    with engine.connect() as connection:
        duplicates = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM source_record "
                "GROUP BY source, source_record_id HAVING count(*) > 1) d"
            )
        )
        unlinked = connection.scalar(
            text(
                "SELECT count(*) FROM source_record r "
                "WHERE (SELECT count(*) FROM link l WHERE l.record_id = r.id) <> 1"
            )
        )
        stored = {
            (row.source, row.source_record_id)
            for row in connection.execute(
                text("SELECT source, source_record_id FROM source_record")
            )
        }
    engine.dispose()
    lost = len(tally.written - stored)
    check.figures |= {
        "posts": sum(tally.statuses.values()),
        "records/s": round(sum(tally.statuses.values()) / elapsed, 1),
        "p99 ms": round(p99 * 1000),
        "statuses": dict(sorted(tally.statuses.items())),
        "duplicates": duplicates,
        "not linked once": unlinked,
        "lost 2xx": lost,
    }
    check.expect(server_errors == 0, f"{server_errors} server errors")
    failures = sum(tally.transport_errors.values())
    check.expect(
        failures == 0,
        f"{failures} connection failures ("
        + ", ".join(f"{name} {n}" for name, n in sorted(tally.transport_errors.items()))
        + ")",
    )
    check.expect(duplicates == 0, f"{duplicates} duplicate records")
    check.expect(unlinked == 0, f"{unlinked} records not linked exactly once")
    check.expect(lost == 0, f"{lost} acknowledged writes lost")
    check.expect(bool(tally.written), "no write succeeded")


def _judge_recovery(stack: Stack, tally: Tally, check: Check) -> None:
    if not stack.wait_ready(RECOVERY_SECONDS):
        check.failures.append(f"the api did not become ready again: {_readiness(stack)}")
    states: dict[str, int] = {}
    # The backlog drains at the worker's pace: wait while it shrinks, give up when it has not
    # for RECOVERY_SECONDS (or after DRAIN_LIMIT_SECONDS in all).
    limit = time.monotonic() + DRAIN_LIMIT_SECONDS
    stalled_at = time.monotonic() + RECOVERY_SECONDS
    left = None
    engine = make_engine(stack.database_url, pool_size=1)
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT state, count(*) FROM adjudication GROUP BY state")
            )
            states = {row[0]: row[1] for row in rows}
        now = time.monotonic()
        pending = states.get("pending", 0)
        if left is None or pending < left:
            left, stalled_at = pending, now + RECOVERY_SECONDS
        if set(states) <= {"done"} or now > stalled_at or now > limit:
            break
        time.sleep(1)
    engine.dispose()
    check.figures |= {
        "adjudications": states,
        "pairs classified": stack.classifier.served,
        "503 answers": tally.statuses.get(503, 0),
        "503 without Retry-After": tally.unavailable_without_retry_after,
    }
    check.expect(set(states) <= {"done"}, f"adjudications not all done: {states}")
    check.expect(stack.classifier.served > 0, "no pair reached the classifier")
    check.expect(tally.unavailable_without_retry_after == 0, "a 503 lacked Retry-After")
