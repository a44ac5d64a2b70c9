"""When the classifier abstains: a pair whose clinical histories cannot be compared.

A history with no coded clinical events (a registration-only feed, a first visit) gives a
classifier nothing to read; whatever it answered would be its training prior dressed up as
evidence. Such a pair gets no classifier term: Splink decides it alone (DESIGN §4).
Encounters do not count: their codes are visit types most patients share.
"""

from __future__ import annotations

from mpi_classifier.backends import Pair
from mpi_classifier.history import History

COMPARABLE_TYPES = frozenset(
    {"condition", "medication", "allergy", "observation", "procedure", "immunization"}
)


def abstain_reason(pair: Pair) -> str | None:
    """Why the pair cannot be classified, or None when both sides have comparable events."""
    if not _comparable(pair.first):
        return "record_has_no_comparable_events"
    if not _comparable(pair.second):
        return "candidate_has_no_comparable_events"
    return None


def _comparable(history: History) -> bool:
    return any(event.type in COMPARABLE_TYPES for event in history.events)
