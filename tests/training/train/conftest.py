"""Fixtures of the fine-tuning tests, all built here in seconds (nothing is downloaded): a small
pair dataset from data/fixture, a tiny random BERT and a tiny random multimodal Gemma3 (the shape
of MedGemma 4B), each with a tokenizer trained on the fixture's summaries."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mpi_linker.features import RECORD_KEY_SEPARATOR
from mpi_linker.frames import read_truth
from mpi_store.datasets import EVENTS_FILE
from mpi_training.train.dataset import CARD_FILE, DatasetPair, PairDataset, write_pairs

FIXTURE = Path(__file__).parents[3] / "data" / "fixture"
# Patients (with two records or more) per split.
PATIENTS = {"train": 14, "val": 8, "test": 4}


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fixture_pairs() -> list[DatasetPair]:
    """Two or three records of a patient make positives, and its first record with the next
    patient's last a negative; patients go to one split each, in a fixed order."""
    records: dict[str, list[str]] = defaultdict(list)
    for key, patient in sorted(read_truth(FIXTURE).items()):
        records[patient].append(key)
    patients = [p for p in sorted(records) if len(records[p]) > 1]
    pairs, start = [], 0
    for split, count in PATIENTS.items():
        chosen = patients[start : start + count]
        start += count
        for patient, other in zip(chosen, chosen[1:] + chosen[:1], strict=True):
            for a, b in pairwise(records[patient][:3]):
                pairs.append(
                    DatasetPair(a, b, patient, patient, 1, "positive", None, "gray", split)
                )
            negative = (records[patient][0], records[other][-1], patient, other, 0, "random")
            pairs.append(DatasetPair(*negative, None, "unblocked", split))
    return pairs


@pytest.fixture(scope="session")
def pair_dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dataset")
    pairs = fixture_pairs()
    keys = pa.array(sorted({key for p in pairs for key in (p.first, p.second)}), pa.string())
    events = pq.read_table(FIXTURE / EVENTS_FILE)
    record_keys = pc.binary_join_element_wise(
        events["source"], events["source_record_id"], RECORD_KEY_SEPARATOR
    )
    write_pairs(path, pairs, events.filter(pc.is_in(record_keys, value_set=keys)))
    population = {"name": "fixture", "patients": 200, "records": 401, "seed": 42}
    card = {"population": population, "parameters": {"seed": 7}, "pairs": len(pairs)}
    (path / CARD_FILE).write_text(json.dumps(card))
    return path


@pytest.fixture(scope="session")
def corpus(pair_dataset) -> list[str]:
    """What the models read: the pairs' whole summaries and prompts."""
    from mpi_classifier.summaries import Summarizer, approximate_counter

    dataset = PairDataset.load(pair_dataset)
    texts = dataset.texts(dataset.pairs, Summarizer(approximate_counter, max_tokens=100_000))
    return [t.prompt for t in texts]


def _tokenizer(corpus, *, model, special, post_processor, **roles):
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(model["model"])
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, model["trainer"](special))
    tok.post_processor = post_processor(tok)
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=2048, **roles)


def _bpe(unk: str):
    from tokenizers import models, pre_tokenizers
    from tokenizers.trainers import BpeTrainer

    return {
        "model": models.BPE(unk_token=unk),
        "trainer": lambda special: BpeTrainer(
            vocab_size=600,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    }


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, corpus) -> Path:
    """A random 2-layer BERT classifier (a stand-in for MiniLM) and its tokenizer."""
    import torch
    from tokenizers import processors
    from transformers import BertConfig, BertForSequenceClassification

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = _tokenizer(
        corpus,
        model=_bpe("[UNK]"),
        special=special,
        post_processor=lambda tok: processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[(t, tok.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
        ),
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_medgemma(tmp_path_factory, corpus) -> Path:
    """A random multimodal Gemma3 (2 text layers, a 1-layer SigLIP tower) and a BPE tokenizer
    with Gemma's special tokens and no pad token, as MedGemma's checkpoint folder looks."""
    import torch
    from tokenizers import processors
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    special = ["<pad>", "<eos>", "<bos>", "<unk>", "<image_soft_token>", "<start_of_image>"]
    special += ["<end_of_image>"]
    tokenizer = _tokenizer(
        corpus,
        model=_bpe("<unk>"),
        special=special,
        post_processor=lambda tok: processors.TemplateProcessing(
            single="<bos> $A", special_tokens=[("<bos>", tok.token_to_id("<bos>"))]
        ),
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
    )
    config = Gemma3Config(
        text_config={
            "vocab_size": tokenizer.vocab_size,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 32,
            "max_position_embeddings": 2048,
            "sliding_window": 64,
            "query_pre_attn_scalar": 32,
            # Else both layers are sliding (stack.md §4).
            "layer_types": ["sliding_attention", "full_attention"],
            "pad_token_id": 0,
            "eos_token_id": 1,
            "bos_token_id": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        mm_tokens_per_image=4,
        image_token_index=4,
        boi_token_index=5,
        eoi_token_index=6,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-medgemma")
    Gemma3ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def gemma3_base(tmp_path_factory, tiny_medgemma) -> Path:
    """`mpi train prepare-base` of the tiny MedGemma: a text-only Gemma3 classifier."""
    from mpi_training.train.base import prepare_base

    folder = tmp_path_factory.mktemp("gemma3-base")
    prepare_base(tiny_medgemma, folder)
    return folder
