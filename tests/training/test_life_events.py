"""Life events: dated moves, phone changes and marriages, and the snapshot a facility holds."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from mpi_training.geography import Place, zip_table
from mpi_training.life_events import LifeEventRates, draw_timeline

START, END = dt.date(2015, 1, 1), dt.date(2025, 1, 1)
PLACES = zip_table("Massachusetts")
PERSON = {
    "given_name": "Ann",
    "family_name": "Okafor",
    "maiden_name": "Brennan",
    "birth_date": "1990-06-01",
    "sex": "female",
    "address_line1": "12 Elm Street",
    "address_line2": None,
    "city": "Boston",
    "state": "Massachusetts",
    "postcode": "02108",
    "phone": "555-222-3333",
}
EVERY_YEAR = LifeEventRates(move_rate_by_age=((0, 1.0),), phone_change_rate=0.0)
NO_MOVES = LifeEventRates(move_rate_by_age=((0, 0.0),), phone_change_rate=0.0)


def _timeline(person=PERSON, rates=EVERY_YEAR, seed=1):
    return draw_timeline(
        person, start=START, end=END, rates=rates, places=PLACES, rng=random.Random(seed)
    )


def _day_before(day):
    return day - dt.timedelta(days=1)


def test_snapshots_follow_the_moves():
    timeline = _timeline()
    moves = [e for e in timeline.events if e.kind.startswith("move_")]
    assert len(moves) == 10, "one move in each year of the window"
    assert timeline.as_of(END) == PERSON
    for move in moves:
        before, after = timeline.as_of(_day_before(move.date)), timeline.as_of(move.date)
        assert before["address_line1"] != after["address_line1"], "a new street line always"
        for field, value in move.before.items():
            assert before[field] == value
    early, late = timeline.as_of(moves[0].date), timeline.as_of(moves[-1].date)
    assert early["address_line1"] != late["address_line1"]
    assert late["address_line1"] == PERSON["address_line1"]


def test_moves_stay_in_their_kind_and_in_the_states_real_zips():
    kinds = set()
    for seed in range(40):
        timeline = _timeline(seed=seed)
        for move in (e for e in timeline.events if e.kind.startswith("move_")):
            before, after = timeline.as_of(_day_before(move.date)), timeline.as_of(move.date)
            kinds.add(move.kind)
            assert Place(before["postcode"], before["city"]) in PLACES.places
            assert before["state"] == "Massachusetts"
            if move.kind == "move_same_zip":
                assert (before["postcode"], before["city"]) == (after["postcode"], after["city"])
            elif move.kind == "move_same_area":
                assert before["postcode"] != after["postcode"]
                assert before["postcode"][:3] == after["postcode"][:3]
            else:
                assert before["postcode"][:3] != after["postcode"][:3]
    assert kinds == {"move_same_zip", "move_same_area", "move_other_area"}


def test_nobody_moves_before_birth():
    baby = {**PERSON, "birth_date": "2021-03-10", "maiden_name": None}
    timeline = _timeline(baby)
    assert timeline.events
    assert min(e.date for e in timeline.events) >= dt.date(2021, 3, 10)


def test_phone_changes_give_new_numbers():
    rates = LifeEventRates(move_rate_by_age=((0, 0.0),), phone_change_rate=1.0)
    timeline = _timeline(rates=rates)
    changes = [e for e in timeline.events if e.kind == "phone_change"]
    assert len(changes) == 10
    for change in changes:
        assert (
            timeline.as_of(_day_before(change.date))["phone"]
            != timeline.as_of(change.date)["phone"]
        )
    assert {e.kind for e in timeline.events} == {"phone_change"}


def test_a_marriage_in_the_window_gives_earlier_records_the_maiden_name():
    rates = LifeEventRates(
        move_rate_by_age=((0, 0.0),), phone_change_rate=0.0, marriage_age_mean=30, marriage_age_sd=0
    )
    timeline = _timeline(rates=rates)
    (marriage,) = timeline.events
    assert marriage.kind == "marriage"
    assert dt.date(2020, 5, 25) <= marriage.date <= dt.date(2020, 6, 5)
    assert timeline.as_of(_day_before(marriage.date))["family_name"] == "Brennan"
    assert timeline.as_of(marriage.date)["family_name"] == "Okafor"


@pytest.mark.parametrize(
    "person",
    [
        {**PERSON, "sex": "male"},
        {**PERSON, "maiden_name": None},
        {**PERSON, "maiden_name": "Okafor"},
        {**PERSON, "birth_date": "1950-01-01"},  # married at 30, long before the window
    ],
)
def test_no_marriage_without_a_married_woman_in_the_window(person):
    rates = LifeEventRates(
        move_rate_by_age=((0, 0.0),), phone_change_rate=0.0, marriage_age_mean=30, marriage_age_sd=0
    )
    assert _timeline(person, rates=rates).events == ()


def test_default_rates_move_about_a_tenth_of_people_a_year():
    moves = person_years = 0
    rng = random.Random(7)
    for seed in range(1500):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(80 * 365))
        person = {**PERSON, "birth_date": born.isoformat(), "maiden_name": None}
        timeline = _timeline(person, LifeEventRates(), seed)
        moves += sum(e.kind.startswith("move_") for e in timeline.events)
        person_years += (END - max(START, born)).days / 365.25
    assert 0.07 < moves / person_years < 0.12


def test_same_seed_same_life():
    assert _timeline(seed=5) == _timeline(seed=5)
    assert _timeline(seed=5) != _timeline(seed=6)
    assert _timeline({**PERSON, "maiden_name": None}, rates=NO_MOVES).events == ()
