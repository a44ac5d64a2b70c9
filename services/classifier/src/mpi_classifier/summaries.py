"""Strategy D clinical summaries: the text a classifier reads about a pair of records.

ClinFuse's summary (reference/clinfuse.md §3) with three changes: every section has a token
budget measured with the serving model's tokenizer, so a long history can never push the second
record or the question past the model's context; empty sections are left out; Synthea's
semantic tags ("(disorder)") are dropped because they spend tokens and carry no evidence.
The instruction comes first so a decoder server can cache the shared prefix.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mpi_classifier.history import Event, History

INSTRUCTION = (
    "You are a medical record matching expert. Compare these two patient medical records and "
    "determine if they belong to the same patient based only on their clinical history."
)
QUESTION = "Are these the same patient? Answer only 'True' or 'False'."
EMPTY = "No clinical records available."

# Token counts of texts, without special tokens: `len(tokenizer(text).input_ids)` per text.
TokenCounter = Callable[[Sequence[str]], list[int]]

# ClinFuse's eight key metrics, matched by LOINC code (display text as a fallback).
KEY_OBSERVATIONS: tuple[tuple[str, str, str], ...] = (
    ("Body Height", "8302-2", "body height"),
    ("Body Weight", "29463-7", "body weight"),
    ("BMI", "39156-5", "body mass index"),
    ("Systolic BP", "8480-6", "systolic blood pressure"),
    ("Diastolic BP", "8462-4", "diastolic blood pressure"),
    ("HbA1c", "4548-4", "hemoglobin a1c"),
    ("Glucose", "2339-0", "glucose"),
    ("Total Cholesterol", "2093-3", "cholesterol [mass/volume]"),
)
LATEST_VALUES = 2
CONDITIONS_PER_LINE = 4

_SEMANTIC_TAG = re.compile(r"\s*\([a-z /]+\)$")


def clean(display: str | None) -> str:
    text = (display or "unnamed").strip()
    return _SEMANTIC_TAG.sub("", text) or text


@dataclass(frozen=True)
class Section:
    header: str
    lines: tuple[str, ...]
    # Share of a tight budget: vitals carry across facilities best (an adult's height repeats).
    weight: float = 1.0


def sections(history: History) -> list[Section]:
    """The summary's sections in reading order; a section with nothing to say is left out."""
    built = [
        Section("CONDITIONS:", _conditions(history.of("condition"))),
        Section("MEDICATIONS:", _medications(history.of("medication"))),
        Section("ALLERGIES:", tuple(f"- {d}" for d in sorted(_displays(history.of("allergy"))))),
        Section("OBSERVATIONS:", _observations(history.of("observation")), weight=2.0),
        Section("PROCEDURES:", _procedures(history.of("procedure"))),
    ]
    return [section for section in built if section.lines]


def _displays(events: list[Event]) -> set[str]:
    return {clean(e.display) for e in events}


def _conditions(events: list[Event]) -> tuple[str, ...]:
    by_year: dict[str, set[str]] = defaultdict(set)
    for event in events:
        year = str(event.start.year) if event.start else "unknown"
        by_year[year].add(clean(event.display) + (" *" if event.end is None else ""))
    lines = []
    for year, items in sorted(by_year.items()):
        ordered = sorted(items)
        # A busy year continues on further lines: budgets drop whole lines, never half of one.
        for start in range(0, len(ordered), CONDITIONS_PER_LINE):
            lines.append(f"  {year}: {'; '.join(ordered[start : start + CONDITIONS_PER_LINE])}")
    return tuple(lines)


def _medications(events: list[Event]) -> tuple[str, ...]:
    spans: dict[str, list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: (e.start is None, e.start, clean(e.display))):
        spans[clean(event.display)].append(event)
    lines = []
    for name, rows in spans.items():
        starts = [e.start.year for e in rows if e.start]
        if not starts:
            lines.append(f"- {name} (unknown)")
            continue
        ongoing = any(e.end is None for e in rows)
        end = "ongoing" if ongoing else str(max(e.end.year for e in rows if e.end))
        lines.append(f"- {name} ({min(starts)}-{end})")
    return tuple(lines)


def _observations(events: list[Event]) -> tuple[str, ...]:
    lines = []
    for label, code, text in KEY_OBSERVATIONS:
        rows = [
            e
            for e in events
            if (e.code == code or text in (e.display or "").lower())
            and (e.value_number is not None or e.value_text)
            and e.start is not None
        ]
        rows.sort(key=lambda e: (e.start, e.value_number or 0.0), reverse=True)
        values = [
            f"{_value(e)}{' ' + e.unit if e.unit else ''} ({e.start.isoformat()})"
            for e in rows[:LATEST_VALUES]
            if e.start is not None
        ]
        if values:
            lines.append(f"- {label}: {', '.join(values)}")
    return tuple(lines)


def _value(event: Event) -> str:
    if event.value_number is not None:
        return f"{round(event.value_number, 1):g}"
    return event.value_text or ""


def _procedures(events: list[Event]) -> tuple[str, ...]:
    years: dict[str, set[int]] = defaultdict(set)
    for event in events:
        years[clean(event.display)].update([event.start.year] if event.start else [])
    ordered = sorted(years.items(), key=lambda item: (min(item[1], default=0), item[0]))
    return tuple(
        f"- {name} ({', '.join(str(y) for y in sorted(ys))})" if ys else f"- {name}"
        for name, ys in ordered
    )


@dataclass(frozen=True)
class PairText:
    """`first`/`second` for a pair encoder; `prompt` (instruction, A, B, question) for a
    decoder that reads one text (empty when the summarizer builds no prompt)."""

    first: str
    second: str
    prompt: str


def allocate(
    needs: Sequence[int], budget: int, weights: Sequence[float] | None = None
) -> list[int]:
    """Split `budget` in proportion to `weights` (equal by default); no part gets more than it
    needs, and what a part does not need goes to the others."""
    shares = list(weights) if weights is not None else [1.0] * len(needs)
    alloc = [0] * len(needs)
    remaining = max(budget, 0)
    open_parts = list(range(len(needs)))
    while open_parts and remaining > 0:
        total = sum(shares[i] for i in open_parts)
        offer = {i: int(remaining * shares[i] / total) for i in open_parts}
        satisfied = [i for i in open_parts if needs[i] - alloc[i] <= offer[i]]
        if not satisfied:
            for i in open_parts:
                alloc[i] += offer[i]
            break
        for i in satisfied:
            remaining -= needs[i] - alloc[i]
            alloc[i] = needs[i]
        open_parts = [i for i in open_parts if i not in satisfied]
    return alloc


class Summarizer:
    """Summaries and pair texts within `max_tokens` of one tokenizer.

    `reserved` is what the tokenizer adds around the text (BOS for Gemma; [CLS] and two [SEP]
    for a BERT pair). Lines are kept whole: a section over its budget loses lines from its end
    and says how many.
    """

    def __init__(
        self,
        count_tokens: TokenCounter,
        *,
        max_tokens: int,
        reserved: int = 1,
        with_prompt: bool = True,
    ) -> None:
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.reserved = reserved
        # A pair encoder reads the two summaries as its two segments: no instruction, no
        # question, and their tokens go to the records instead.
        self.with_prompt = with_prompt

    def summary(self, history: History, budget: int) -> str:
        return self._render(self._measure(history), budget)

    def pair(self, first: History, second: History) -> PairText:
        """Both summaries within budget, and the decoder prompt that holds them."""
        fixed = self._total(_prompt("", "")) if self.with_prompt else 0
        budget = self.max_tokens - self.reserved - fixed
        measured = [self._measure(h) for h in (first, second)]
        full = [self._render(m, None) for m in measured]
        needs = self.count_tokens(full)
        # Per-line counts can differ from the count of the joined text by a few tokens; shrink
        # until the whole prompt fits, so the tokenizer never has to truncate the question.
        for _ in range(8):
            budget_a, budget_b = allocate(needs, budget)
            text_a = full[0] if budget_a >= needs[0] else self._render(measured[0], budget_a)
            text_b = full[1] if budget_b >= needs[1] else self._render(measured[1], budget_b)
            prompt = _prompt(text_a, text_b) if self.with_prompt else ""
            used = (
                self._total(prompt)
                if self.with_prompt
                else sum(self.count_tokens([text_a, text_b]))
            )
            excess = used + self.reserved - self.max_tokens
            if excess <= 0:
                return PairText(text_a, text_b, prompt)
            budget -= excess
        raise ValueError(f"cannot fit a pair into {self.max_tokens} tokens")

    def _measure(self, history: History) -> list[_Measured]:
        """Sections with the token cost of their header, lines and "more" marker (one
        tokenizer call per history)."""
        parts = sections(history)
        texts = [
            text
            for section in parts
            for text in (
                section.header + "\n",
                _more(len(section.lines)) + "\n",
                *(f"{line}\n" for line in section.lines),
            )
        ]
        counts = self.count_tokens(texts) if texts else []
        measured, start = [], 0
        for section in parts:
            size = len(section.lines) + 2
            header, marker, *lines = counts[start : start + size]
            measured.append(_Measured(section, header, marker, lines))
            start += size
        return measured

    def _render(self, measured: list[_Measured], budget: int | None) -> str:
        """The summary, whole (`budget=None`) or cut to `budget` tokens section by section."""
        if not measured:
            return EMPTY
        needs = [m.need for m in measured]
        if budget is None or sum(needs) <= budget:
            return "\n".join(_lines(m.section, len(m.section.lines)) for m in measured)
        shares = allocate(needs, budget, [m.section.weight for m in measured])
        rendered = [
            _lines(m.section, kept)
            for m, allowed in zip(measured, shares, strict=True)
            if (kept := m.fit(allowed))
        ]
        return "\n".join(rendered) or EMPTY

    def _total(self, text: str) -> int:
        return self.count_tokens([text])[0]


@dataclass(frozen=True)
class _Measured:
    section: Section
    header: int
    marker: int
    lines: list[int]

    @property
    def need(self) -> int:
        return self.header + sum(self.lines)

    def fit(self, allowed: int) -> int:
        """How many lines fit beside the header and the "more" marker (0: none)."""
        used = self.header + self.marker
        kept = 0
        for cost in self.lines:
            if used + cost > allowed:
                break
            used += cost
            kept += 1
        return kept


def _lines(section: Section, kept: int) -> str:
    lines = [section.header, *section.lines[:kept]]
    if kept < len(section.lines):
        lines.append(_more(len(section.lines) - kept))
    return "\n".join(lines)


def _more(count: int) -> str:
    return f"  (+{count} more)"


def _prompt(first: str, second: str) -> str:
    return f"{INSTRUCTION}\n\nRecord A:\n{first}\n\nRecord B:\n{second}\n\n{QUESTION}"


def approximate_counter(texts: Sequence[str]) -> list[int]:
    """A tokenizer-free upper bound (one token per 3 characters, as a fallback only)."""
    return [len(text) // 3 + 1 for text in texts]
