"""The demographic error types: each proposes the field changes it would make to one record."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import itertools
import random
import re
from collections.abc import Callable

from mpi_training.corruption.lexicon import (
    ADJACENT_KEYS,
    FORMAL_NAMES,
    NICKNAMES,
    STREET_ABBREVIATIONS,
    STREET_NAMES,
    STREET_TYPES,
    SURNAMES,
)

Record = dict[str, str | None]


@dataclasses.dataclass(frozen=True)
class Change:
    field: str
    before: str | None
    after: str | None


@dataclasses.dataclass(frozen=True)
class Context:
    """What an error may know beyond the record: the person's maiden name and 'today'."""

    maiden_name: str | None
    reference_date: dt.date


# An error returns the changes it makes, or [] when it cannot apply (a no-op, never logged).
Apply = Callable[[Record, str, random.Random, Context], list[Change]]


@dataclasses.dataclass(frozen=True)
class ErrorType:
    """One kind of error; `weight` is its share within its category (ClinFuse: all equal)."""

    name: str
    category: str
    fields: tuple[str, ...]
    apply: Apply
    weight: float = 1.0


def _set(record: Record, field: str, after: str | None) -> list[Change]:
    before = record.get(field)
    return [] if before == after else [Change(field, before, after)]


def _match_case(template: str, text: str) -> str:
    if template.isupper() and len(template) > 1:
        return text.upper()
    if template.islower():
        return text.lower()
    return text


# --- names -------------------------------------------------------------------------------


def nickname_substitution(
    record: Record, field: str, rng: random.Random, _: Context
) -> list[Change]:
    value = record.get(field)
    if not value:
        return []
    name = value.strip().title()
    # Formal -> nickname as in ClinFuse, and the reverse when the record holds the nickname.
    options = NICKNAMES.get(name) or FORMAL_NAMES.get(name)
    if not options:
        return []
    return _set(record, field, _match_case(value, rng.choice(options)))


def _replacement(ch: str, rng: random.Random) -> str:
    lower = ch.lower()
    if lower in ADJACENT_KEYS and rng.random() < 0.5:
        new = rng.choice(ADJACENT_KEYS[lower])
    else:
        new = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != lower])
    return new.upper() if ch.isupper() else new


def _one_typo(text: str, rng: random.Random) -> str:
    # The first letter is kept: clerks rarely get it wrong, and blocking keys depend on it.
    pos = rng.randrange(1, len(text))
    kind = rng.choice(("substitute", "delete", "insert", "transpose"))
    if kind == "delete" and len(text) > 2:
        return text[:pos] + text[pos + 1 :]
    if kind == "insert":
        return text[:pos] + _replacement(text[pos], rng) + text[pos:]
    if kind == "transpose" and pos + 1 < len(text) and text[pos] != text[pos + 1]:
        return text[:pos] + text[pos + 1] + text[pos] + text[pos + 2 :]
    return text[:pos] + _replacement(text[pos], rng) + text[pos + 1 :]


def name_typo(record: Record, field: str, rng: random.Random, _: Context) -> list[Change]:
    value = record.get(field)
    if not value or len(value) < 2:
        return []
    return _set(record, field, _one_typo(value, rng))


def multi_character_name_typo(
    record: Record, field: str, rng: random.Random, _: Context
) -> list[Change]:
    value = record.get(field)
    if not value or len(value) < 4:
        return []
    chars = list(value)
    for pos in rng.sample(range(1, len(chars)), k=min(rng.randint(2, 3), len(chars) - 1)):
        if chars[pos].isalpha():
            chars[pos] = _replacement(chars[pos], rng)
    return _set(record, field, "".join(chars))


def maiden_name_usage(
    record: Record, field: str, _rng: random.Random, ctx: Context
) -> list[Change]:
    if not ctx.maiden_name or not record.get(field):
        return []
    return _set(record, field, ctx.maiden_name)


def given_family_swap(record: Record, _field: str, _rng: random.Random, _: Context) -> list[Change]:
    given, family = record.get("given_name"), record.get("family_name")
    if not given or not family or given == family:
        return []
    return [Change("given_name", given, family), Change("family_name", family, given)]


def compound_family_name(
    record: Record, field: str, rng: random.Random, ctx: Context
) -> list[Change]:
    value = record.get(field)
    if not value or " " in value or "-" in value:
        return []
    other = ctx.maiden_name if ctx.maiden_name and ctx.maiden_name != value else None
    other = other or rng.choice([s for s in SURNAMES if s != value])
    joiner = rng.choice(("-", " "))
    parts = (value, other) if rng.random() < 0.5 else (other, value)
    return _set(record, field, joiner.join(parts))


# --- addresses ---------------------------------------------------------------------------

_UNIT = re.compile(r"\b(?:Apt\.?|Apartment|Unit|Suite|Ste\.?|No\.)\s*(\w+)$|#\s*(\w+)$", re.I)
_UNIT_FORMATS = ("Apt {}", "Apt. {}", "Apartment {}", "Unit {}", "#{}", "No. {}", "Suite {}")
_EXPANSIONS = {abbr.lower(): full for full, abbrs in STREET_ABBREVIATIONS.items() for abbr in abbrs}


def address_abbreviation(
    record: Record, field: str, rng: random.Random, _: Context
) -> list[Change]:
    value = record.get(field)
    if not value:
        return []
    unit = _UNIT.search(value)
    street = value[: unit.start()].rstrip() if unit else value
    words = street.split(" ")
    # Only a whole word counts, and the last street-type word wins: "Street" inside
    # "Streeter" or a street named "Park" in "Park Avenue" stays as it is.
    for i in range(len(words) - 1, 0, -1):
        word = words[i].rstrip(".")
        if word.title() in STREET_ABBREVIATIONS:
            new = rng.choice(STREET_ABBREVIATIONS[word.title()])
            words[i] = _match_case(word, new) + ("." if rng.random() < 0.3 else "")
            break
        if word.lower() in _EXPANSIONS:
            words[i] = _match_case(word, _EXPANSIONS[word.lower()])
            break
    else:
        return []
    rebuilt = " ".join(words) + (value[len(street) :] if unit else "")
    return _set(record, field, rebuilt)


def apartment_format_variation(
    record: Record, field: str, rng: random.Random, _: Context
) -> list[Change]:
    value = record.get(field)
    unit = _UNIT.search(value) if value else None
    if not value or not unit:
        return []
    number = unit.group(1) or unit.group(2)
    current = value[unit.start() :]
    options = [f.format(number) for f in _UNIT_FORMATS if f.format(number) != current]
    return _set(record, field, value[: unit.start()] + rng.choice(options))


def full_address_change(record: Record, field: str, rng: random.Random, _: Context) -> list[Change]:
    # Same city and postcode, new street: a move the facility recorded and others did not.
    if not record.get(field):
        return []
    line = f"{rng.randint(1, 9998)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
    changes = _set(record, field, line)
    if field == "address_line1":
        changes += _set(record, "address_line2", None)
    return changes


# --- dates -------------------------------------------------------------------------------


def _shift_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _date_shift(unit: str) -> Apply:
    def apply(record: Record, field: str, rng: random.Random, ctx: Context) -> list[Change]:
        value = record.get(field)
        if not value:
            return []
        day = dt.date.fromisoformat(value)
        signs = [1, -1] if rng.random() < 0.5 else [-1, 1]
        for sign in signs:
            if unit == "day":
                new = day + dt.timedelta(days=sign)
            else:
                new = _shift_months(day, sign * (1 if unit == "month" else 12))
            # A future birth date is rejected at the door, so it would not be a realistic typo.
            if new <= ctx.reference_date:
                return _set(record, field, new.isoformat())
        return []

    return apply


def day_month_transposition(
    record: Record, field: str, _rng: random.Random, ctx: Context
) -> list[Change]:
    value = record.get(field)
    if not value:
        return []
    day = dt.date.fromisoformat(value)
    if day.day > 12 or day.day == day.month:
        return []
    new = dt.date(day.year, day.day, day.month)
    if new > ctx.reference_date:
        return []
    return _set(record, field, new.isoformat())


# --- identifiers and phone -----------------------------------------------------------------


def _digit_positions(value: str) -> list[int]:
    return [i for i, ch in enumerate(value) if ch.isdigit()]


def digit_transposition(record: Record, field: str, rng: random.Random, _: Context) -> list[Change]:
    value = record.get(field)
    if not value:
        return []
    digits = _digit_positions(value)
    pairs = [(a, b) for a, b in itertools.pairwise(digits) if value[a] != value[b]]
    if not pairs:
        return []
    a, b = rng.choice(pairs)
    chars = list(value)
    chars[a], chars[b] = chars[b], chars[a]
    return _set(record, field, "".join(chars))


def digit_error(record: Record, field: str, rng: random.Random, _: Context) -> list[Change]:
    value = record.get(field)
    if not value:
        return []
    digits = _digit_positions(value)
    if not digits:
        return []
    pos = rng.choice(digits)
    chars = list(value)
    chars[pos] = rng.choice([d for d in "0123456789" if d != value[pos]])
    return _set(record, field, "".join(chars))


def ssn_format_variation(
    record: Record, field: str, _rng: random.Random, _: Context
) -> list[Change]:
    value = record.get(field)
    if not value:
        return []
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 9:
        return []
    dashed = f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
    return _set(record, field, digits if value == dashed else dashed)


def phone_format_variation(
    record: Record, field: str, rng: random.Random, _: Context
) -> list[Change]:
    value = record.get(field)
    if not value:
        return []
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 10:
        return []
    a, b, c = digits[:3], digits[3:6], digits[6:]
    formats = [f"({a}) {b}-{c}", f"{a}.{b}.{c}", digits, f"+1 {a} {b} {c}", f"{a}-{b}-{c}"]
    return _set(record, field, rng.choice([f for f in formats if f != value]))


def phone_number_change(record: Record, field: str, rng: random.Random, _: Context) -> list[Change]:
    # A different line (mobile vs home, a new number); kept in the fictional 555 range.
    if not record.get(field):
        return []
    return _set(record, field, f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}")


# --- missing values ----------------------------------------------------------------------


def missing_field_value(
    record: Record, field: str, _rng: random.Random, _: Context
) -> list[Change]:
    return _set(record, field, None)


NAME_FIELDS = ("given_name", "family_name")

ERROR_TYPES: tuple[ErrorType, ...] = (
    ErrorType("nickname_substitution", "name", ("given_name",), nickname_substitution),
    ErrorType("name_typo", "name", (*NAME_FIELDS, "middle_name"), name_typo),
    ErrorType("multi_character_name_typo", "name", NAME_FIELDS, multi_character_name_typo),
    ErrorType("maiden_name_usage", "name", ("family_name",), maiden_name_usage),
    # Swaps and compound names are rarer in real feeds than typos and nicknames.
    ErrorType("given_family_swap", "name", ("given_name",), given_family_swap, 0.1),
    ErrorType("compound_family_name", "name", ("family_name",), compound_family_name, 0.3),
    ErrorType("address_abbreviation", "address", ("address_line1",), address_abbreviation),
    ErrorType(
        "apartment_format_variation", "address", ("address_line1",), apartment_format_variation
    ),
    # Most abbreviation and apartment draws are no-ops (no known street type, no unit) and are
    # redrawn; at equal weight a move would crowd them out.
    ErrorType("full_address_change", "address", ("address_line1",), full_address_change, 0.4),
    ErrorType("date_off_by_one_day", "date", ("birth_date",), _date_shift("day")),
    ErrorType("date_off_by_one_month", "date", ("birth_date",), _date_shift("month")),
    ErrorType("date_off_by_one_year", "date", ("birth_date",), _date_shift("year")),
    ErrorType("day_month_transposition", "date", ("birth_date",), day_month_transposition),
    ErrorType("ssn_transposition", "ssn", ("ssn",), digit_transposition),
    ErrorType("ssn_digit_error", "ssn", ("ssn",), digit_error),
    ErrorType("ssn_format_variation", "ssn", ("ssn",), ssn_format_variation),
    ErrorType("phone_digit_error", "phone", ("phone",), digit_error),
    ErrorType("phone_transposition", "phone", ("phone",), digit_transposition),
    ErrorType("phone_format_variation", "phone", ("phone",), phone_format_variation),
    ErrorType("phone_number_change", "phone", ("phone",), phone_number_change),
    ErrorType(
        "missing_field_value",
        "missing",
        ("ssn", "birth_date", "address_line1", "city", "postcode", "phone"),
        missing_field_value,
    ),
)

ERROR_TYPES_BY_NAME: dict[str, ErrorType] = {e.name: e for e in ERROR_TYPES}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(e.category for e in ERROR_TYPES))
