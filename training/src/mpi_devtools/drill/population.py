"""The drill's patients: deterministic facility records, and the PHI values they carry."""

from __future__ import annotations

import random
from typing import Any

_GIVEN = ("Amelia", "Bartholomew", "Cressida", "Dmitri", "Evangeline", "Fitzgerald", "Gwendolyn")
_FAMILY = ("Quennell", "Ravensworth", "Stroudley", "Tillinghast", "Umberfield", "Vandermeer")
_STREETS = ("Larkspur Lane", "Juniper Court", "Mulberry Row", "Thistle Way")
# SNOMED CT findings: every person has two, so their gray pairs reach the classifier.
_CONDITIONS = (
    ("44054006", "Diabetes mellitus type 2"),
    ("38341003", "Hypertensive disorder"),
    ("195967001", "Asthma"),
    ("55822004", "Hyperlipidemia"),
    ("35489007", "Depressive disorder"),
    ("69896004", "Rheumatoid arthritis"),
)
PHI_FIELDS = ("given_name", "family_name", "birth_date", "ssn", "phone", "address_line1")


def patients(count: int, *, seed: int) -> list[dict[str, Any]]:
    """`count` distinct people's demographics (no source or id yet)."""
    rng = random.Random(seed)
    people = []
    for n in range(count):
        people.append(
            {
                "given_name": f"{rng.choice(_GIVEN)}{_suffix(n)}",
                "family_name": f"{rng.choice(_FAMILY)}{_suffix(n // 7)}",
                "birth_date": f"{rng.randint(1930, 2015)}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d}",
                "sex": rng.choice(("female", "male")),
                "ssn": f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
                "phone": f"617-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                "address_line1": f"{rng.randint(10, 9999)} {rng.choice(_STREETS)}",
                "city": "Boston",
                "postcode": f"02{rng.randint(100, 299)}",
                "clinical": {
                    "conditions": [
                        {"code_system": "http://snomed.info/sct", "code": code, "display": display}
                        for code, display in rng.sample(_CONDITIONS, 2)
                    ]
                },
            }
        )
    return people


def _suffix(n: int) -> str:
    # Letters, not digits: names normalise to letters only, so a digit would not tell them apart.
    letters = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(ord("a") + r) + letters
    return letters


def phi_values(records: list[dict[str, Any]]) -> list[str]:
    """Every distinct PHI value in `records`, for the scans that must not find them."""
    return sorted({str(r[f]) for r in records for f in PHI_FIELDS if r.get(f)})
