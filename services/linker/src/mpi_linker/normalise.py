"""Normalisation of demographic values into the comparable forms matching and blocking use."""

from __future__ import annotations

import re
import unicodedata

from doublemetaphone import doublemetaphone

from mpi_store.domain.names import name_aliases as name_aliases

_SPACES = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"\D+")

# Placeholders integrations send when the SSN is unknown; they must never agree as evidence.
_PLACEHOLDER_SSNS = frozenset({"123456789", "987654321", "078051120"})


def name(value: str | None) -> str | None:
    """Case-fold, strip accents and punctuation: "O'Brien-Smith " -> "obrien smith".

    Letters and digits of every script are kept ("王" stays "王"): dropping what is not a-z
    once left Chinese or Arabic names empty, with no blocking key to find their copies.
    """
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value)
    unaccented = "".join(c for c in decomposed if not unicodedata.combining(c))
    # NFKC puts back what NFKD split apart without an accent (Hangul syllables, ligatures).
    folded = unicodedata.normalize("NFKC", unaccented).casefold().replace("-", " ")
    kept = "".join(c for c in folded if c.isalnum() or c.isspace())
    cleaned = _SPACES.sub(" ", kept).strip()
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


def phonetic(value: str | None) -> str | None:
    """Primary Double Metaphone code of a normalised name (spaces removed)."""
    if value is None:
        return None
    code: str = doublemetaphone(value.replace(" ", ""))[0]
    return code or None


def phone(value: str | None) -> str | None:
    """The last ten digits (a leading US country code dropped); None below seven digits."""
    if value is None:
        return None
    digits = _NON_DIGIT.sub("", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) < 7 or len(set(digits)) == 1:
        return None
    return digits[-10:]


def postcode(value: str | None) -> str | None:
    """The five-digit ZIP as a zero-padded string ("02115-1234" -> "02115")."""
    if value is None:
        return None
    digits = _NON_DIGIT.sub("", value)
    if len(digits) == 4:
        # A ZIP that lost its leading zero on a numeric round trip (ClinFuse's float ZIPs).
        digits = "0" + digits
    return digits[:5] if len(digits) >= 5 else None


# USPS Publication 28 standard suffix and unit abbreviations (the common ones).
_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "boulevard": "blvd",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "circle": "cir",
    "parkway": "pkwy",
    "highway": "hwy",
    "square": "sq",
    "trail": "trl",
    "way": "way",
    "port": "prt",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "apt",
    "unit": "apt",
    "suite": "apt",
    "ste": "apt",
    "number": "apt",
}


def street(value: str | None) -> str | None:
    """Case-folded, punctuation-free, street types and units canonicalised word by word."""
    cleaned = name(value.replace("#", " apt ") if value else value)
    if cleaned is None:
        return None
    words = [_STREET_WORDS.get(word, word) for word in cleaned.split(" ")]
    # "Apt. #4" gives "apt apt 4": keep one of each repeated word.
    return " ".join(w for i, w in enumerate(words) if i == 0 or w != words[i - 1])


def email(value: str | None) -> str | None:
    if value is None or "@" not in value:
        return None
    return value.strip().casefold()
