"""Normalisation of demographic values into the comparable forms matching and blocking use."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"\D+")

# Placeholders integrations send when the SSN is unknown; they must never agree as evidence.
_PLACEHOLDER_SSNS = frozenset({"123456789", "987654321", "078051120"})


def name(value: str | None) -> str | None:
    """Case-fold, strip accents and punctuation: "O'Brien-Smith " -> "obrien smith"."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    cleaned = _SPACES.sub(" ", _NON_ALNUM.sub("", ascii_only.replace("-", " "))).strip()
    return cleaned or None


def ssn(value: str | None) -> str | None:
    """Nine digits, or None for malformed and placeholder values."""
    if value is None:
        return None
    digits = _NON_DIGIT.sub("", value)
    if len(digits) != 9 or digits in _PLACEHOLDER_SSNS or len(set(digits)) == 1:
        return None
    # No SSN has area 000, group 00 or serial 0000. Area 9xx is kept: synthetic data (Synthea)
    # and some test feeds use it for real, distinct people.
    if digits[:3] == "000" or digits[3:5] == "00" or digits[5:] == "0000":
        return None
    return digits
