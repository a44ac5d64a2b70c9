"""Life over the history window: moves, phone changes and marriages as dated demographic changes.

Synthea hands us each person as they are on the reference date. A timeline walks back from
there: every event records the values its fields held before it, so the demographics as of any
day (a facility's last encounter) are the current ones with the later events undone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from mpi_training.corruption.lexicon import STREET_NAMES, STREET_TYPES
from mpi_training.geography import Place, ZipTable

# Share of people who moved house in the past year, by age (lower bound of the band).
# Source: U.S. Census Bureau, Current Population Survey ASEC 2019, "Geographic Mobility: 2018
# to 2019", Table 1 (movers within the U.S. by age; rounded). All ages together: 9.8%.
MOVE_RATE_BY_AGE: tuple[tuple[int, float], ...] = (
    (0, 0.13),
    (5, 0.10),
    (18, 0.16),
    (20, 0.22),
    (25, 0.20),
    (30, 0.15),
    (35, 0.10),
    (45, 0.065),
    (55, 0.05),
    (65, 0.038),
    (75, 0.032),
)
# Same source: about 60% of movers stay in their county, 20% go to another county of the same
# state, 17% to another state. We simulate one state, so out-of-state moves become moves to
# another ZIP3 area of it: 0.60 / (0.60 + 0.20 + 0.17) stay in their area.
SAME_AREA_SHARE = 0.62
# No published figure for moves within one ZIP code; an assumption (a ZIP holds ~10k homes).
SAME_ZIP_SHARE = 0.30
# Number portability (FCC, since 2003 for landlines and 2004 for mobiles) keeps most numbers
# across moves, so no national statistic of number changes exists. Assumed: a new number in
# about 5% of years, and at 40% of moves (a landline left behind).
PHONE_CHANGE_RATE = 0.05
PHONE_CHANGE_AT_MOVE = 0.40
# Median age at first marriage of women, 28.4 in 2023: U.S. Census Bureau, "Estimated Median
# Age at First Marriage, by Sex: 1890 to the present" (Table MS-2). The spread is an assumption.
MARRIAGE_AGE_MEAN = 28.4
MARRIAGE_AGE_SD = 5.5
MARRIAGE_MIN_AGE = 18
# Synthea writes about a quarter of its street lines with a unit.
UNIT_SHARE = 0.25

MOVE_KINDS = ("move_same_zip", "move_same_area", "move_other_area")
EVENT_KINDS = (*MOVE_KINDS, "phone_change", "marriage")
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "postcode")


@dataclasses.dataclass(frozen=True)
class LifeEventRates:
    """How often life changes a record; the defaults and their sources are above."""

    move_rate_by_age: tuple[tuple[int, float], ...] = MOVE_RATE_BY_AGE
    same_area_share: float = SAME_AREA_SHARE
    same_zip_share: float = SAME_ZIP_SHARE
    phone_change_rate: float = PHONE_CHANGE_RATE
    phone_change_at_move: float = PHONE_CHANGE_AT_MOVE
    marriage_age_mean: float = MARRIAGE_AGE_MEAN
    marriage_age_sd: float = MARRIAGE_AGE_SD

    def move_rate(self, age: int) -> float:
        rate = 0.0
        for lowest, value in self.move_rate_by_age:
            if age >= lowest:
                rate = value
        return rate

    def as_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["move_rate_by_age"] = {str(age): rate for age, rate in self.move_rate_by_age}
        return out


@dataclasses.dataclass(frozen=True)
class LifeEvent:
    date: dt.date
    kind: str
    before: Mapping[str, str | None]


@dataclasses.dataclass(frozen=True)
class Timeline:
    """One person's demographics on the reference date and the events that led there."""

    current: Mapping[str, Any]
    events: tuple[LifeEvent, ...]

    def as_of(self, day: dt.date) -> dict[str, Any]:
        """What a facility whose last contact was `day` holds (that day's events included)."""
        out = dict(self.current)
        for event in reversed(self.events):
            if event.date <= day:
                break
            out.update(event.before)
        return out


def _years_later(day: dt.date, years: int) -> dt.date:
    return day.replace(year=day.year + years, day=min(day.day, 28))


def _age(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _day_between(rng: random.Random, low: dt.date, high: dt.date) -> dt.date:
    """A uniform day in [low, high)."""
    return low + dt.timedelta(days=rng.randrange((high - low).days))


def _street_line(rng: random.Random) -> str:
    line = f"{rng.randint(1, 9998)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
    return line + (f" Apt {rng.randint(1, 999)}" if rng.random() < UNIT_SHARE else "")


def _draw_dates(
    rng: random.Random, rates: LifeEventRates, birth: dt.date, start: dt.date, end: dt.date
) -> list[tuple[dt.date, str]]:
    """When moves and phone changes happen: each year of the window, after birth."""
    dated: list[tuple[dt.date, str]] = []
    year = 0
    while (low := _years_later(start, year)) < end:
        high = min(_years_later(start, year + 1), end)
        low = max(low, birth)
        year += 1
        if low >= high:
            continue
        if rng.random() < rates.move_rate(_age(birth, low)):
            dated.append((_day_between(rng, low, high), "move"))
        if rng.random() < rates.phone_change_rate:
            dated.append((_day_between(rng, low, high), "phone_change"))
    return dated


def _marriage_date(
    rng: random.Random, rates: LifeEventRates, person: Mapping[str, Any], birth: dt.date
) -> dt.date | None:
    """When a married woman took her married name: None unless she has a maiden name."""
    maiden, family = person.get("maiden_name"), person.get("family_name")
    if person.get("sex") != "female" or not maiden or not family or maiden == family:
        return None
    age = max(float(MARRIAGE_MIN_AGE), rng.gauss(rates.marriage_age_mean, rates.marriage_age_sd))
    return birth + dt.timedelta(days=round(age * 365.25))


def _move_before(
    rng: random.Random, rates: LifeEventRates, state: Mapping[str, Any], places: ZipTable
) -> tuple[str, dict[str, str | None]]:
    """Where the person lived before a move to `state`'s address, and what kind of move it was."""
    postcode = state.get("postcode") or ""
    area = postcode[:3]
    same_area = rng.random() < rates.same_area_share
    same_zip = same_area and rng.random() < rates.same_zip_share
    others: list[Place] = []
    kind = "move_same_zip"
    if not same_zip:
        if same_area:
            others, kind = (
                [p for p in places.in_area(area) if p.postcode != postcode],
                "move_same_area",
            )
        if not others:
            others, kind = places.outside_area(area), "move_other_area"
    before: dict[str, str | None] = {"address_line1": _street_line(rng), "address_line2": None}
    if kind != "move_same_zip" and others:
        place = rng.choice(others)
        before.update(city=place.city, postcode=place.postcode)
    else:
        kind = "move_same_zip"
    return kind, before


def draw_timeline(
    person: Mapping[str, Any],
    *,
    start: dt.date,
    end: dt.date,
    rates: LifeEventRates,
    places: ZipTable,
    rng: random.Random,
) -> Timeline:
    """Moves, phone changes and a marriage between `start` and `end` (the reference date)."""
    birth_iso = person.get("birth_date")
    birth = dt.date.fromisoformat(birth_iso) if birth_iso else start
    dated = _draw_dates(rng, rates, birth, start, end)
    married = _marriage_date(rng, rates, person, birth)
    if married is not None and start < married <= end:
        dated.append((married, "marriage"))
    dated.sort()
    events: list[LifeEvent] = []
    state = dict(person)
    for day, kind in reversed(dated):
        before: dict[str, str | None]
        if kind == "move":
            kind, before = _move_before(rng, rates, state, places)
            if state.get("phone") and rng.random() < rates.phone_change_at_move:
                earlier = {"phone": _phone(rng, state["phone"])}
                events.append(LifeEvent(day, "phone_change", earlier))
                state.update(earlier)
        elif kind == "phone_change":
            if not state.get("phone"):
                continue
            before = {"phone": _phone(rng, state["phone"])}
        else:
            before = {"family_name": state.get("maiden_name")}
        events.append(LifeEvent(day, kind, before))
        state.update(before)
    return Timeline(current=dict(person), events=tuple(reversed(events)))


def _phone(rng: random.Random, current: str) -> str:
    # Synthea's numbers are in the fictional 555 range; the old one keeps that format.
    while True:
        number = f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        if number != current:
            return number
