"""Strategy D summaries: sections, determinism, and token budgets that never cut the question."""

from __future__ import annotations

import datetime as dt

import pytest

from mpi_classifier.backends.local import base_model_path
from mpi_classifier.backends.vllm import tokenizer_counter
from mpi_classifier.history import Event, History, from_dataset
from mpi_classifier.summaries import EMPTY, INSTRUCTION, QUESTION, Summarizer, allocate


@pytest.fixture(scope="module")
def count_tokens():
    return tokenizer_counter(str(base_model_path()))


def _history(clinical) -> History:
    rows = []
    dates = {"conditions": ("onset", "abatement"), "medications": ("start", "stop")}
    singles = {"allergies": "onset", "observations": "date", "procedures": "date"}
    types = {
        "conditions": "condition",
        "medications": "medication",
        "allergies": "allergy",
        "observations": "observation",
        "procedures": "procedure",
        "immunizations": "immunization",
        "encounters": "encounter",
    }
    for name, items in clinical.items():
        for item in items:
            start, end = dates.get(name, (singles.get(name, "date"), None))
            value = item.get("value")
            rows.append(
                {
                    "type": types[name],
                    "code": item["code"],
                    "display": item["display"],
                    "code_system": item["code_system"],
                    "start": _date(item.get(start) or item.get("start")),
                    "end": _date(item.get(end)) if end else None,
                    "value": value if isinstance(value, float) else None,
                    "value_text": value if isinstance(value, str) else None,
                    "unit": item.get("unit"),
                }
            )
    return from_dataset(rows)


def _date(value):
    return dt.date.fromisoformat(value) if value else None


def test_real_history_has_every_section_in_order(clinical, same_patient, count_tokens):
    history = _history(clinical(same_patient[0]))

    text = Summarizer(count_tokens, max_tokens=10_000).summary(history, 10_000)

    headers = [line for line in text.splitlines() if line.endswith(":") and line.isupper()]
    assert headers == ["CONDITIONS:", "MEDICATIONS:", "OBSERVATIONS:", "PROCEDURES:"]
    assert "- Body Height: " in text
    assert "(disorder)" not in text
    assert "(+" not in text


def test_summaries_are_deterministic(clinical, same_patient, count_tokens):
    history = _history(clinical(same_patient[0]))
    shuffled = History(tuple(reversed(history.events)))
    summarizer = Summarizer(count_tokens, max_tokens=256)

    assert summarizer.summary(history, 120) == summarizer.summary(shuffled, 120)


def test_empty_history_says_so(count_tokens):
    pair = Summarizer(count_tokens, max_tokens=256).pair(History(()), History(()))

    assert pair.first == pair.second == EMPTY
    assert pair.prompt.startswith(INSTRUCTION)
    assert pair.prompt.endswith(QUESTION)


def test_very_long_history_keeps_record_b_and_the_question(count_tokens):
    long = History(
        tuple(
            Event(
                type=kind,
                code=f"{kind}-{i}",
                display=f"{kind} number {i} with a long descriptive name (disorder)",
                start=dt.date(2000 + i % 25, 1 + i % 12, 1),
                value_number=float(i) if kind == "observation" else None,
            )
            for i in range(3000)
            for kind in ("condition", "medication", "procedure", "allergy")
        )
    )
    short = History((Event(type="allergy", code="1", display="Peanut", start=None),))
    summarizer = Summarizer(count_tokens, max_tokens=512, reserved=1)

    pair = summarizer.pair(long, short)

    assert count_tokens([pair.prompt])[0] + 1 <= 512
    assert pair.prompt.endswith(f"Record B:\n{pair.second}\n\n{QUESTION}")
    assert pair.second == "ALLERGIES:\n- Peanut"
    assert "more)" in pair.first
    # Every section of the long record kept some lines.
    for header in ("CONDITIONS:", "MEDICATIONS:", "ALLERGIES:", "PROCEDURES:"):
        assert header in pair.first


def test_a_short_record_leaves_its_budget_to_the_other():
    assert allocate([10, 500], 300) == [10, 290]
    assert allocate([400, 500], 300) == [150, 150]
    assert allocate([400, 400], 300, [1, 2]) == [100, 200]


def test_a_pair_encoder_gets_the_whole_budget_for_the_records(count_tokens):
    long = History(
        tuple(
            Event(type="procedure", code=str(i), display=f"procedure {i}", start=None)
            for i in range(400)
        )
    )
    with_prompt = Summarizer(count_tokens, max_tokens=256, reserved=3).pair(long, long)
    without = Summarizer(count_tokens, max_tokens=256, reserved=3, with_prompt=False).pair(
        long, long
    )

    assert without.prompt == ""
    assert sum(count_tokens([without.first, without.second])) + 3 <= 256
    assert len(without.first) > len(with_prompt.first)
