"""Client of a vLLM server's `POST /classify` (OpenAI-compatible, `--runner pooling`).

A decoder classifier (MedGemma with a sequence-classification head, stack.md §2) reads the
whole Strategy D prompt as one text. Prompts go in batches (`input` is a list; vLLM's
continuous batching fills the GPU). The match probability is picked by label: vLLM names each
item's argmax class from the model's `id2label`, so a binary head needs no index convention.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from mpi_classifier.backends import Pair
from mpi_classifier.fusion import Fusion
from mpi_classifier.settings import Settings
from mpi_classifier.summaries import Summarizer, TokenCounter, approximate_counter
from mpi_store.domain.errors import ClassifierUnavailable

log = logging.getLogger(__name__)

BACKEND = "vllm"
MATCH_LABEL = "match"
# Until a fitted card is supplied: no prior correction, one vote, and a high bar to merge.
UNFITTED_FUSION = Fusion(weight=1.0, threshold=0.9, training_prior=0.5)
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class VllmClassifier:
    name = BACKEND

    def __init__(
        self,
        client: httpx.Client,
        *,
        model: str,
        summarizer: Summarizer,
        model_id: str | None = None,
        fusion: Fusion = UNFITTED_FUSION,
        batch_size: int = 32,
        retries: int = 2,
        match_label: str = MATCH_LABEL,
    ) -> None:
        self.client = client
        self.model = model
        self.summarizer = summarizer
        self.model_id = model_id or f"{BACKEND}:{model}"
        self.fusion = fusion
        self.batch_size = batch_size
        self.retries = retries
        self.match_label = match_label

    @classmethod
    def from_settings(cls, settings: Settings) -> VllmClassifier:
        if settings.url is None:
            raise ValueError("MPI_CLASSIFIER_URL is required for the vllm backend")
        card: dict[str, Any] = (
            json.loads(Path(settings.model_card).read_text()) if settings.model_card else {}
        )
        counter = tokenizer_counter(settings.tokenizer) if settings.tokenizer else None
        if counter is None:
            log.warning("no MPI_CLASSIFIER_TOKENIZER: token budgets use a character estimate")
        return cls(
            httpx.Client(base_url=settings.url, timeout=settings.timeout_seconds),
            model=settings.model or "cls",
            summarizer=Summarizer(
                counter or approximate_counter, max_tokens=settings.max_tokens, reserved=1
            ),
            model_id=card.get("version"),
            fusion=Fusion.from_dict(card["fusion"]) if "fusion" in card else UNFITTED_FUSION,
            batch_size=settings.batch_size,
            retries=settings.http_retries,
        )

    def classify(self, pairs: Sequence[Pair]) -> list[float]:
        prompts = [self.summarizer.pair(p.first, p.second).prompt for p in pairs]
        probabilities: list[float] = []
        for start in range(0, len(prompts), self.batch_size):
            probabilities += self._classify(prompts[start : start + self.batch_size])
        return probabilities

    def _classify(self, prompts: list[str]) -> list[float]:
        body = {"model": self.model, "input": prompts}
        problem = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(0.5 * 2**attempt, 5.0))
            try:
                response = self.client.post("/classify", json=body)
            except httpx.TransportError as error:
                problem = type(error).__name__
                continue
            if response.status_code in _RETRY_STATUS:
                problem = f"HTTP {response.status_code}"
                continue
            if response.is_error:
                raise ClassifierUnavailable(f"vLLM answered HTTP {response.status_code}")
            return self._parse(response.json(), len(prompts))
        raise ClassifierUnavailable(f"vLLM /classify failed: {problem}")

    def _parse(self, body: dict[str, Any], expected: int) -> list[float]:
        try:
            items = sorted(body["data"], key=lambda item: item["index"])
            if len(items) != expected:
                raise ValueError(f"{len(items)} results for {expected} inputs")
            return [self._match_probability(item) for item in items]
        except (KeyError, TypeError, ValueError) as error:
            raise ClassifierUnavailable(f"unexpected /classify response: {error}") from error

    def _match_probability(self, item: dict[str, Any]) -> float:
        probs = [float(p) for p in item["probs"]]
        if len(probs) != 2:
            raise ValueError(f"a binary classifier was expected, got {len(probs)} classes")
        top = max(range(2), key=lambda i: probs[i])
        match_index = top if item["label"] == self.match_label else 1 - top
        return probs[match_index]

    def close(self) -> None:
        self.client.close()


def tokenizer_counter(path: str) -> TokenCounter:
    """Token counts with the served model's own tokenizer (`tokenizer.json` or its folder)."""
    from tokenizers import Tokenizer  # the `ml` extra; deferred so the client stays light

    location = Path(path)
    tokenizer = Tokenizer.from_file(
        str(location / "tokenizer.json" if location.is_dir() else location)
    )
    # tokenizer.json may carry padding or truncation settings; counts must see neither.
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    return count
