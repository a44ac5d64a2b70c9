"""Guards: pairs that must be reviewed even when their score clears the auto threshold.

DESIGN §4. Each side is a mapping with normalised `source`, `ssn`, `birth_date`,
`family_name`, `given_name` and optional `identifiers` (`[{system, value}]`). Used by the api
for every decision, by training (thresholds are chosen on the pairs that can auto-link) and by
the classifier before it merges two golden records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpi_store.names import name_aliases


def pair_guards(a: Mapping[str, Any], b: Mapping[str, Any]) -> set[str]:
    guards = set()
    if a.get("source") and a.get("source") == b.get("source"):
        guards.add("same_source_different_id")
    if a.get("ssn") and b.get("ssn") and a["ssn"] != b["ssn"]:
        guards.add("conflicting_ssn")
    if _twins(a, b):
        guards.add("possible_twin")
    if _conflicting_identifiers(a, b):
        guards.add("conflicting_identifier")
    return guards


def _twins(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same birth date and family name, given names that are not the same name."""
    if not (a.get("birth_date") and a.get("birth_date") == b.get("birth_date")):
        return False
    if not (a.get("family_name") and a.get("family_name") == b.get("family_name")):
        return False
    given_a, given_b = a.get("given_name"), b.get("given_name")
    if not (given_a and given_b) or given_a == given_b:
        return False
    aliases_a = set(name_aliases(given_a) or ())
    return not aliases_a & set(name_aliases(given_b) or ())


def _conflicting_identifiers(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    values_a = {i["system"]: i["value"] for i in a.get("identifiers") or []}
    return any(
        i["system"] in values_a and values_a[i["system"]] != i["value"]
        for i in b.get("identifiers") or []
    )
