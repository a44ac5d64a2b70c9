"""The facility record contract: what `POST /records` accepts and the data generator emits."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    field_validator,
)

Sex = Literal["female", "male", "other", "unknown"]

# Generous bounds: they stop junk and oversized payloads, not real-world values.
ShortText = Annotated[str, Field(max_length=200)]
Code = Annotated[str, Field(max_length=100)]
Key = Annotated[str, Field(min_length=1, max_length=100)]
MAX_EVENTS_PER_LIST = 5000


def storable_text(value: str) -> str:
    """Refuse text Postgres cannot store: NUL bytes, and lone surrogates (not UTF-8)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must not contain lone surrogates") from None
    return value


# For path and query parameters: the same refusal as every string field of a contract.
StorableText = Annotated[str, AfterValidator(storable_text)]


def date_text(value: object) -> object:
    """Refuse a number for a date: pydantic would read it as seconds since 1970, which the
    OpenAPI document (an ISO date string) does not allow."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO date (YYYY-MM-DD), not a number")
    return value


Date = Annotated[dt.date, BeforeValidator(date_text)]


def timestamp_text(value: object) -> object:
    """Refuse a number for a date-time, also as query text (`0.5`): pydantic would read it as
    seconds since 1970, which the OpenAPI document (an ISO date-time) does not allow."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and not re.match(r"\s*\d{4}-\d{2}-\d{2}", value)
    ):
        raise ValueError("must be an ISO date-time (YYYY-MM-DDTHH:MM:SSZ)")
    return value


Timestamp = Annotated[dt.datetime, BeforeValidator(timestamp_text)]
# Ids are Postgres bigints: a larger number names no row and must be refused, not sent.
MAX_ID = 2**63 - 1


class Contract(BaseModel):
    """Base for every inbound model: unknown fields are errors, strings are trimmed and must be
    storable, numbers finite (NaN is not JSON, and Infinity reads back as null)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, allow_inf_nan=False
    )

    @field_validator("*")
    @classmethod
    def _storable(cls, value: object) -> object:
        return storable_text(value) if isinstance(value, str) else value


class Identifier(Contract):
    system: Key
    value: Key


class CodedItem(Contract):
    code_system: Code | None = None
    code: Code | None = None
    display: Annotated[str, Field(max_length=500)] | None = None


class Condition(CodedItem):
    onset: Date | None = None
    abatement: Date | None = None


class Medication(CodedItem):
    start: Date | None = None
    stop: Date | None = None


class Allergy(CodedItem):
    onset: Date | None = None


class Observation(CodedItem):
    date: Date | None = None
    # Strict: in lax mode a numeric string over ShortText's length was taken as a float.
    value: Annotated[float, Strict()] | ShortText | None = None
    unit: Code | None = None


class Procedure(CodedItem):
    date: Date | None = None


class Encounter(CodedItem):
    start: Date | None = None
    end: Date | None = None
    type: Code | None = None


class Immunization(CodedItem):
    date: Date | None = None


class Clinical(Contract):
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_EVENTS_PER_LIST)
    medications: list[Medication] = Field(default_factory=list, max_length=MAX_EVENTS_PER_LIST)
    allergies: list[Allergy] = Field(default_factory=list, max_length=MAX_EVENTS_PER_LIST)
    observations: list[Observation] = Field(default_factory=list, max_length=MAX_EVENTS_PER_LIST)
    procedures: list[Procedure] = Field(default_factory=list, max_length=MAX_EVENTS_PER_LIST)
    encounters: list[Encounter] = Field(default_factory=list, max_length=MAX_EVENTS_PER_LIST)
    immunizations: list[Immunization] = Field(default_factory=list, max_length=MAX_EVENTS_PER_LIST)


class Demographics(Contract):
    """A patient's demographic fields, all optional: what a record says of its patient, and
    what a search looks for. Blank strings mean unknown."""

    given_name: ShortText | None = None
    middle_name: ShortText | None = None
    family_name: ShortText | None = None
    # Blank means unknown (`_blank_is_missing`), so the document must allow it too.
    birth_date: (
        Annotated[
            Date,
            WithJsonSchema(
                {
                    "anyOf": [
                        {"type": "string", "format": "date"},
                        {"type": "string", "pattern": r"^\s*$"},
                    ]
                }
            ),
        ]
        | None
    ) = None
    sex: Sex | None = None
    address_line1: ShortText | None = None
    address_line2: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postcode: Annotated[str, Field(max_length=20)] | None = None
    country: ShortText | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    email: ShortText | None = None
    ssn: Annotated[str, Field(max_length=20)] | None = None

    @field_validator("birth_date")
    @classmethod
    def _birth_date_not_in_future(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value > dt.datetime.now(dt.UTC).date():
            raise ValueError("birth date is in the future")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        # Integrations send "" for unknown; missing must stay a real null end to end.
        if isinstance(value, str) and not value.strip():
            return None
        return value


class _RecordKey(Contract):
    source: Key
    source_record_id: Key


# Bases listed this way round put the key first: field order is the document's and the
# content hash's (`model_dump_json`), which must not change for stored records.
class RecordCreate(Demographics, _RecordKey):
    """One facility's record of one patient; `(source, source_record_id)` identifies it."""

    identifiers: list[Identifier] = Field(default_factory=list, max_length=50)
    clinical: Clinical | None = None


DEMOGRAPHIC_FIELDS: tuple[str, ...] = tuple(Demographics.model_fields)


_CLINICAL: dict[str, tuple[str, dict[str, str]]] = {
    "condition": ("conditions", {"start": "onset", "end": "abatement"}),
    "medication": ("medications", {"start": "start", "end": "stop"}),
    "allergy": ("allergies", {"start": "onset"}),
    "observation": ("observations", {"date": "date"}),
    "procedure": ("procedures", {"date": "date"}),
    "encounter": ("encounters", {"start": "start", "end": "end"}),
    "immunization": ("immunizations", {"date": "date"}),
}


def iso_date(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def clinical_payload(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Event rows as the contract's `clinical` object."""
    clinical: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in _CLINICAL.values()}
    for event in events:
        name, dates = _CLINICAL[event["type"]]
        item: dict[str, Any] = {
            "code_system": event["code_system"],
            "code": event["code"],
            "display": event["display"],
        }
        for column, field in dates.items():
            item[field] = iso_date(event[column])
        if name == "observations":
            item["value"] = event["value"] if event["value"] is not None else event["value_text"]
            item["unit"] = event["unit"]
        if name == "encounters":
            item["type"] = event["encounter_class"]
        clinical[name].append(item)
    # The contract caps each list; the most recent events are the ones a summary shows.
    return {name: items[-MAX_EVENTS_PER_LIST:] for name, items in clinical.items()}
