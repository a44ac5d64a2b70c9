"""HTTP client of the linker service, with timeouts and retries."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from mpi_linker.score.schemas import ScoreResponse
from mpi_store.domain.errors import LinkerUnavailable

log = logging.getLogger(__name__)


class LinkerClient:
    def __init__(
        self, http: httpx.Client, *, retries: int = 2, backoff_seconds: float = 0.05
    ) -> None:
        self.http = http
        self.retries = retries
        self.backoff_seconds = backoff_seconds

    def healthy(self) -> bool:
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def score(
        self, *, features: dict[str, Any], blocking_keys: list[str], exclude_record_id: int | None
    ) -> ScoreResponse:
        body = {
            "features": features,
            "blocking_keys": blocking_keys,
            "exclude_record_id": exclude_record_id,
        }
        for attempt in range(self.retries + 1):
            try:
                response = self.http.post("/score", json=body)
                if response.status_code < 500:
                    response.raise_for_status()
                    return ScoreResponse.model_validate_json(response.content)
                log.warning("linker answered %d (attempt %d)", response.status_code, attempt + 1)
            except httpx.TransportError as error:
                log.warning(
                    "linker unreachable: %s (attempt %d)", type(error).__name__, attempt + 1
                )
            if attempt < self.retries:
                time.sleep(self.backoff_seconds * 2**attempt)
        raise LinkerUnavailable("the linker is unavailable; nothing was stored, retry later")
