"""Corroboration: names alone never outweigh a disagreement (DESIGN §4).

Strangers share names, and how much a name agreement is worth depends on the population: a
model trained where names are diverse overweighs them where a few names are common (FEBRL's
given names agree by chance 6 times as often as our training population's). So a link made
without a clinical history — the auto tier, or a gray pair Splink decides alone — needs a
person-level field beyond the names (birth date, SSN, phone or street address) to agree at a
level worth at least `CORROBORATION_BITS` (8 to 1 for a match) whenever one of them disagrees.
Where none disagrees (each agrees or is missing on one side), nothing contradicts the names
and Splink decides.
Postcode, city and sex are shared by neighbours and half the population: they neither
corroborate nor contradict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PERSON_FIELDS = ("birth_date", "ssn", "phone", "address")
CORROBORATION_BITS = 3.0


def corroborated(comparisons: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a scored pair's comparisons (by name, each with its `match_weight`, as the
    linker answers them and adjudications store them) let it link without a history."""
    weights = [(comparisons.get(name) or {}).get("match_weight", 0.0) for name in PERSON_FIELDS]
    return any(w >= CORROBORATION_BITS for w in weights) or all(w >= 0 for w in weights)
