"""Confusable families: how many, which relations, and what they share."""

from __future__ import annotations

import datetime as dt
import random

from mpi_training.confusables import Candidate, apply_relation, pick_groups


def _candidates(n):
    rng = random.Random(3)
    return [
        Candidate(
            birth_date=dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 80 * 365)),
            sex=rng.choice(["female", "male"]),
            facilities=frozenset(rng.sample(["a", "b", "c"], rng.randint(1, 2))),
            first_event=dt.date(2016, 1, 1),
        )
        for _ in range(n)
    ]


def test_groups_are_disjoint_share_a_facility_and_fit_their_relation():
    candidates = _candidates(400)
    groups = pick_groups(candidates, 0.05, random.Random(1))
    assert len(groups) == 20
    people = [p for g in groups for p in (g.source, g.target)]
    assert len(people) == len(set(people))
    for g in groups:
        src, tgt = candidates[g.source], candidates[g.target]
        assert src.facilities & tgt.facilities
        gap = abs((src.birth_date - tgt.birth_date).days) / 365
        if g.relation == "twin":
            assert gap <= 2
        elif g.relation == "sibling":
            assert 1 <= gap <= 10
        else:
            assert 18 <= gap <= 45
    assert {g.relation for g in groups} == {"twin", "sibling", "parent_child"}


def test_same_seed_same_groups():
    candidates = _candidates(200)
    assert pick_groups(candidates, 0.05, random.Random(9)) == pick_groups(
        candidates, 0.05, random.Random(9)
    )


def test_relations_share_household_but_not_identity(make_history):
    source = make_history(0)["demographics"]
    target = make_history(1)["demographics"]
    twin = apply_relation(source, target, "twin")
    for field in ("family_name", "address_line1", "city", "postcode", "phone", "birth_date"):
        assert twin[field] == source[field]
    assert twin["ssn"] == target["ssn"]
    assert twin["given_name"] == target["given_name"]
    sibling = apply_relation(source, target, "sibling")
    assert sibling["birth_date"] == target["birth_date"]
    assert sibling["family_name"] == source["family_name"]
