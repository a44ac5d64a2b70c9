"""Guards: pairs that must be reviewed even when their score clears the auto threshold.

DESIGN §4. Each side is a `GuardSubject`, built once per record in normalised forms (the
linker's `mpi_linker.decision.guard_subject` for a stored record, `guard_subject_of_row` for a
feature row); two SSNs conflict when more than one digit typo or swap apart. Used for every
decision, by training (thresholds are chosen on the pairs that can auto-link) and by the
classifier before it merges two golden records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jellyfish import damerau_levenshtein_distance, jaro_winkler_similarity

from mpi_store.domain.names import name_aliases


@dataclass(frozen=True, slots=True)
class GuardSubject:
    """What the guards read of one record, normalised; any field may be missing."""

    source: str | None = None
    ssn: str | None = None
    birth_date: dt.date | str | None = None
    family_name: str | None = None
    given_name: str | None = None
    phone: str | None = None
    address: str | None = None
    identifiers: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def pair_guards(a: GuardSubject, b: GuardSubject) -> set[str]:
    guards = set()
    if a.source and a.source == b.source:
        guards.add("same_source_different_id")
    if a.ssn and b.ssn and _ssns_conflict(a.ssn, b.ssn):
        guards.add("conflicting_ssn")
    if _twins(a, b):
        guards.add("possible_twin")
    elif _household(a, b):
        guards.add("possible_household_member")
    if _conflicting_identifiers(a, b):
        guards.add("conflicting_identifier")
    return guards


def _ssns_conflict(first: str, second: str) -> bool:
    """Two SSNs of two people: more than one digit typo or swap apart. One keying error is
    the commonest SSN corruption (the model weighs that level as strong evidence of a match);
    two people's SSNs that close are rare."""
    return damerau_levenshtein_distance(first, second) > 1


# Given names this similar are one name with a typo, not two siblings' names.
_SAME_NAME_SIMILARITY = 0.9


def _twins(a: GuardSubject, b: GuardSubject) -> bool:
    """Same birth date, a family name in common (compound and hyphenated names included), and
    given names that are not the same name (nor a nickname or a typo of it)."""
    if not (a.birth_date and a.birth_date == b.birth_date):
        return False
    family_a, family_b = a.family_name, b.family_name
    if not (family_a and family_b) or not set(family_a.split(" ")) & set(family_b.split(" ")):
        return False
    return _different_given_names(a, b)


def _different_given_names(a: GuardSubject, b: GuardSubject) -> bool:
    """Both given names present and not one name (equal, a nickname of it, or a typo of it),
    nor one person's names keyed in each other's field (given and family swapped)."""
    given_a, given_b = a.given_name, b.given_name
    if not (given_a and given_b) or given_a == given_b:
        return False
    if jaro_winkler_similarity(given_a, given_b) >= _SAME_NAME_SIMILARITY:
        return False
    if _swapped(a, b):
        return False
    aliases_a = set(name_aliases(given_a) or ())
    return not aliases_a & set(name_aliases(given_b) or ())


def _swapped(a: GuardSubject, b: GuardSubject) -> bool:
    """Each side's given name is (a typo of) the other's family name and vice versa."""
    given_a, family_a = a.given_name, a.family_name
    given_b, family_b = b.given_name, b.family_name
    if not (given_a and family_a and given_b and family_b):
        return False
    return (
        jaro_winkler_similarity(given_a, family_b) >= _SAME_NAME_SIMILARITY
        and jaro_winkler_similarity(family_a, given_b) >= _SAME_NAME_SIMILARITY
    )


def _household(a: GuardSubject, b: GuardSubject) -> bool:
    """Same phone or street address (normalised `phone`, `address`), given names that are not
    the same name: family members, the classic false merge of an MPI. Not when the birth dates
    are one keying error apart: relatives are born years apart (twins on the same day, which
    `_twins` guards); a birth date one digit typo, transposition or day-month swap from the
    other is one person's, keyed badly like the given name."""
    shared = bool(a.phone and a.phone == b.phone) or bool(a.address and a.address == b.address)
    return shared and _different_given_names(a, b) and not _birth_date_typo(a, b)


def _birth_date_typo(a: GuardSubject, b: GuardSubject) -> bool:
    """Two different birth dates one keying error apart (YYYYMMDD digits)."""
    if not (a.birth_date and b.birth_date):
        return False
    first, second = (str(side.birth_date).replace("-", "") for side in (a, b))
    if first == second:
        return False
    day_month_swapped = first[:4] == second[:4] and first[4:] == second[6:] + second[4:6]
    return day_month_swapped or damerau_levenshtein_distance(first, second) == 1


def _conflicting_identifiers(a: GuardSubject, b: GuardSubject) -> bool:
    values_a = {i["system"]: i["value"] for i in a.identifiers or []}
    return any(
        i["system"] in values_a and values_a[i["system"]] != i["value"] for i in b.identifiers or []
    )
