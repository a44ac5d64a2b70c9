"""Decision tiers and guards on a linker answer (DESIGN §1.3, §4)."""

from __future__ import annotations

import datetime as dt

import pytest

from mpi_linker.decision import MAX_GRAY_PAIRS, decide
from mpi_linker.score.schemas import ScoreResponse
from mpi_store.models import SourceRecord


def _record(record_id, source="FAC1", **fields):
    defaults = {
        "norm_given_name": "maria",
        "norm_family_name": "gonzalez",
        "birth_date": dt.date(1984, 3, 12),
        "norm_ssn": None,
        "identifiers": [],
    }
    return SourceRecord(id=record_id, source=source, **{**defaults, **fields})


NAMES_AND_BIRTH_DATE = {
    "given_name": {"level": 4, "label": "Exact", "match_weight": 3.0},
    "birth_date": {"level": 5, "label": "Exact", "match_weight": 10.0},
}


def _candidate(record_id, golden_id, probability, tier, comparisons=NAMES_AND_BIRTH_DATE):
    return {
        "record_id": record_id,
        "golden_record_id": golden_id,
        "mpi_id": f"mpi_{golden_id}",
        "match_probability": probability,
        "match_weight": 10.0 if tier == "auto" else 0.0,
        "tier": tier,
        "comparisons": comparisons,
        "blocking_key_kinds": ["dob_fam"],
    }


def _scored(*candidates):
    return ScoreResponse.model_validate(
        {
            "model_version": "m1",
            "prior_probability": 0.001,
            "prior_match_weight": -9.97,
            "auto_threshold": 0.99,
            "reject_threshold": 0.001,
            "accept_alone_threshold": 0.5,
            "candidates_found": len(candidates),
            "capped": False,
            "generic_key_kinds": [],
            "candidates": list(candidates),
        }
    )


NEW = _record(100, source="FAC9")


def test_one_patient_above_auto_is_a_final_match():
    decision = decide(NEW, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [_record(1)]})

    assert decision.golden_record_id == 10
    assert decision.match_result == "MATCH"
    assert decision.link_state == "final"
    assert decision.reason["best"]["comparisons"]["given_name"]["level"] == "Exact"
    assert not decision.gray_pairs


def test_an_auto_match_still_adjudicates_gray_candidates_of_other_patients():
    scored = _scored(
        _candidate(1, 10, 0.9999, "auto"),
        _candidate(2, 10, 0.6, "gray"),
        _candidate(3, 11, 0.4, "gray"),
        _candidate(4, 12, 0.0001, "reject"),
    )

    decision = decide(NEW, scored, {10: [_record(1), _record(2)]})

    assert (decision.golden_record_id, decision.match_result) == (10, "MATCH")
    assert [(p.candidate_record_id, p.candidate_golden_record_id) for p in decision.gray_pairs] == [
        (3, 11)
    ]


def test_gray_pairs_reach_every_patient_before_a_second_record_of_one():
    scored = _scored(
        *[_candidate(i, 10, 0.6 - i / 100, "gray") for i in range(MAX_GRAY_PAIRS)],
        _candidate(99, 11, 0.2, "gray"),
    )

    decision = decide(NEW, scored, {})

    assert [p.candidate_golden_record_id for p in decision.gray_pairs] == [10, 11] + [10] * (
        MAX_GRAY_PAIRS - 2
    )


def test_an_auto_score_on_names_against_a_birth_date_is_gray_not_a_link():
    names_only = {
        "given_name": {"level": 4, "label": "Exact", "match_weight": 10.0},
        "family_name": {"level": 5, "label": "Exact", "match_weight": 10.0},
        "birth_date": {"level": 1, "label": "Else", "match_weight": -3.8},
    }
    scored = _scored(_candidate(1, 10, 0.995, "auto", names_only))

    decision = decide(NEW, scored, {})

    assert decision.match_result == "POSSIBLE_MATCH"
    assert [p.candidate_record_id for p in decision.gray_pairs] == [1]


def test_no_candidates_is_no_match():
    decision = decide(NEW, _scored(), {})

    assert decision.golden_record_id is None
    assert decision.match_result == "NO_MATCH"
    assert decision.link_state == "final"


def test_only_rejected_candidates_is_no_match():
    decision = decide(NEW, _scored(_candidate(1, 10, 0.001, "reject")), {10: [_record(1)]})

    assert decision.match_result == "NO_MATCH"


def test_gray_candidates_are_provisional_with_one_adjudication_each():
    scored = _scored(
        *[_candidate(i, 10 + i, 0.5 - i / 100, "gray") for i in range(MAX_GRAY_PAIRS + 2)]
    )
    members = {10 + i: [_record(i)] for i in range(MAX_GRAY_PAIRS + 2)}

    decision = decide(NEW, scored, members)

    assert decision.match_result == "POSSIBLE_MATCH"
    assert decision.link_state == "provisional"
    assert decision.golden_record_id is None
    assert len(decision.gray_pairs) == MAX_GRAY_PAIRS
    assert decision.gray_pairs[0].candidate_record_id == 0


def test_same_source_guard_sends_an_auto_match_to_review():
    same_source = _record(100, source="FAC1")

    decision = decide(same_source, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [_record(1)]})

    assert decision.match_result == "POSSIBLE_MATCH"
    assert decision.reason["guards"] == ["same_source_different_id"]
    assert [p.candidate_record_id for p in decision.gray_pairs] == [1]


def test_conflicting_ssn_guard():
    record = _record(100, source="FAC9", norm_ssn="512449087")
    member = _record(1, norm_ssn="512449810")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert decision.reason["guards"] == ["conflicting_ssn"]


@pytest.mark.parametrize("typo", ["512449088", "512449078", "512440987"])
def test_an_ssn_one_typo_or_swap_apart_is_not_a_conflict(typo):
    record = _record(100, source="FAC9", norm_ssn="512449087")
    member = _record(1, norm_ssn=typo)

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert decision.match_result == "MATCH"


def test_twin_guard_same_birth_date_and_family_different_given():
    record = _record(100, source="FAC9", norm_given_name="lucia")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [_record(1)]})

    assert decision.reason["guards"] == ["possible_twin"]


def test_nickname_is_not_a_twin():
    record = _record(100, source="FAC9", norm_given_name="bill")
    member = _record(1, norm_given_name="william")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert decision.match_result == "MATCH"


def test_conflicting_identifier_guard():
    record = _record(100, source="FAC9", identifiers=[{"system": "dl", "value": "A"}])
    member = _record(1, identifiers=[{"system": "dl", "value": "B"}])

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert decision.reason["guards"] == ["conflicting_identifier"]


def test_two_patients_above_auto_go_to_review():
    scored = _scored(_candidate(1, 10, 0.9999, "auto"), _candidate(2, 20, 0.999, "auto"))

    decision = decide(NEW, scored, {10: [_record(1)], 20: [_record(2)]})

    assert decision.match_result == "POSSIBLE_MATCH"
    assert decision.reason["guards"] == ["several_patients_above_auto"]
    assert len(decision.gray_pairs) == 2


def test_a_typo_in_the_given_name_is_not_a_twin():
    record = _record(100, source="FAC9", norm_given_name="marla")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [_record(1)]})

    assert decision.match_result == "MATCH"


def test_given_and_family_names_swapped_are_not_a_household():
    """FEBRL's commonest corruption after typos: one person's names keyed the other way round
    (and with a typo), at the same address."""
    record = _record(
        100,
        source="FAC9",
        norm_given_name="gonzales",
        norm_family_name="maria",
        birth_date=dt.date(1990, 1, 1),
        phone="413-555-0101",
    )
    member = _record(1, phone="(413) 555 0101")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert "possible_household_member" not in decision.reason.get("guards", [])


def test_household_member_guard():
    record = _record(
        100,
        source="FAC9",
        norm_given_name="lucia",
        birth_date=dt.date(1990, 1, 1),
        phone="413-555-0101",
    )
    member = _record(1, phone="(413) 555 0101")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert decision.reason["guards"] == ["possible_household_member"]


@pytest.mark.parametrize(
    "birth_date",
    [dt.date(1984, 3, 13), dt.date(1948, 3, 12), dt.date(1984, 12, 3), dt.date(1994, 3, 12)],
    ids=["day typo", "year transposed", "day and month swapped", "year digit typo"],
)
def test_a_birth_date_one_keying_error_apart_is_not_a_household_member(birth_date):
    """Relatives are born years apart; a birth date one keystroke off is the same person's."""
    record = _record(
        100, source="FAC9", norm_given_name="lucia", birth_date=birth_date, phone="413-555-0101"
    )
    member = _record(1, phone="(413) 555 0101")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert "possible_household_member" not in decision.reason.get("guards", [])


@pytest.mark.parametrize(
    "birth_date", [dt.date(1987, 6, 2), dt.date(1984, 5, 21), None], ids=["sibling", "far", "none"]
)
def test_a_household_member_born_on_another_day_is_guarded(birth_date):
    record = _record(
        100, source="FAC9", norm_given_name="lucia", birth_date=birth_date, phone="413-555-0101"
    )
    member = _record(1, phone="(413) 555 0101")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert "possible_household_member" in decision.reason.get("guards", [])


def test_a_shared_ssn_does_not_make_relatives_one_person():
    """Registration copies a parent's (the guarantor's) SSN onto a child's record: at one
    address, with another given name and a birth date years away, it is still a relative."""
    record = _record(
        100,
        source="FAC9",
        norm_given_name="ana",
        birth_date=dt.date(2001, 7, 7),
        norm_ssn="512449087",
        phone="413-555-0101",
    )
    member = _record(1, norm_ssn="512449087", phone="(413) 555 0101")

    decision = decide(record, _scored(_candidate(1, 10, 0.9999, "auto")), {10: [member]})

    assert decision.reason["guards"] == ["possible_household_member"]
