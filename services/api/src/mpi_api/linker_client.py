"""HTTP client of the linker service, with timeouts and retries."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from mpi_linker.score.schemas import FeaturesAndScoreResponse, ScoreResponse
from mpi_store.domain.contracts import DEMOGRAPHIC_FIELDS, Demographics
from mpi_store.domain.errors import LinkerUnavailable

Answer = TypeVar("Answer", bound=BaseModel)

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

    def features_and_score(
        self,
        *,
        demographics: Demographics,
        events: Iterable[Mapping[str, Any]],
        exclude_record_id: int | None,
    ) -> FeaturesAndScoreResponse:
        """The linker's comparison columns, keys and scored candidates of a record in one call
        (`POST /features/score`); `events` as `clinical_event` rows (only the distinct type and
        code of each coded one are sent)."""
        body = {**_record_body(demographics, events), "exclude_record_id": exclude_record_id}
        return self._post("/features/score", body, FeaturesAndScoreResponse)

    def score(
        self, *, features: dict[str, Any], blocking_keys: list[str], exclude_record_id: int | None
    ) -> ScoreResponse:
        body = {
            "features": features,
            "blocking_keys": blocking_keys,
            "exclude_record_id": exclude_record_id,
        }
        return self._post("/score", body, ScoreResponse)

    def _post(self, path: str, body: dict[str, Any], answer: type[Answer]) -> Answer:
        for attempt in range(self.retries + 1):
            try:
                response = self.http.post(path, json=body)
                if response.status_code < 500:
                    response.raise_for_status()
                    return answer.model_validate_json(response.content)
                log.warning(
                    "linker answered %d to %s (attempt %d)", response.status_code, path, attempt + 1
                )
            except httpx.TransportError as error:
                log.warning(
                    "linker unreachable: %s (attempt %d)", type(error).__name__, attempt + 1
                )
            if attempt < self.retries:
                time.sleep(self.backoff_seconds * 2**attempt)
        raise LinkerUnavailable("the linker is unavailable; nothing was stored, retry later")


def _record_body(demographics: Demographics, events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    codes = sorted(
        {(e["type"], e.get("code_system"), e["code"]) for e in events if e.get("code")}, key=str
    )
    return {
        "demographics": demographics.model_dump(mode="json", include=set(DEMOGRAPHIC_FIELDS)),
        "events": [{"type": t, "code_system": s, "code": c} for t, s, c in codes],
    }
