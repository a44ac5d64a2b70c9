"""The adjudicate task: one attempt, retries with backoff, `failed` after the last retry."""

from __future__ import annotations

import pytest

from mpi_classifier import tasks
from mpi_classifier.backends.overlap import OverlapClassifier
from mpi_store.domain.errors import ClassifierUnavailable
from mpi_store.repositories import AdjudicationRepository, LinkRepository


@pytest.fixture
def runtime(monkeypatch, classifier_settings, session_factory, fixed_classifier):
    """The worker's runtime on the test transaction, with a switchable backend."""
    current = tasks.Runtime(
        classifier_settings.model_copy(update={"max_retries": 3}),
        session_factory,
        fixed_classifier(0.99),
    )
    monkeypatch.setattr(tasks, "runtime", lambda: current)
    return current


def _run_task(adjudication_id: int, *, retries: int) -> str:
    tasks.adjudicate.push_request(retries=retries)
    try:
        return tasks.adjudicate.run(adjudication_id)
    finally:
        tasks.adjudicate.pop_request()


def test_histories_from_the_store_reach_the_classifier(
    session, session_factory, store, clinical, same_patient, different_people
):
    candidate, _ = store.record(source="FAC1", clinical=clinical(same_patient[0]))
    _, _, (same,) = store.gray_record([candidate], clinical=clinical(same_patient[1]))
    other, _ = store.record(source="FAC3", clinical=clinical(different_people[0]))
    _, _, (different,) = store.gray_record([other], clinical=clinical(different_people[1]))
    classifier = OverlapClassifier.load()

    verdicts = [
        tasks.adjudicate_once(
            session_factory=session_factory, classifier=classifier, adjudication_id=a.id
        )
        for a in (same, different)
    ]

    assert verdicts == ["match", "no_match"]
    probabilities = [
        AdjudicationRepository(session).get(a.id).classifier_probability for a in (same, different)
    ]
    assert probabilities[0] > 0.9 > 0.1 > probabilities[1]


def test_backend_down_writes_nothing_and_asks_for_a_retry(session, store, runtime):
    candidate, _ = store.record(source="FAC1")
    record, _, (adjudication,) = store.gray_record([candidate], source="FAC2")
    runtime.classifier.down = True

    with pytest.raises(ClassifierUnavailable):
        _run_task(adjudication.id, retries=0)

    assert AdjudicationRepository(session).get(adjudication.id).state == "pending"
    assert LinkRepository(session).get_for_record(record.id).link_state == "provisional"


def test_after_the_last_retry_the_adjudication_is_failed(session, store, runtime):
    candidate, _ = store.record(source="FAC1")
    _, _, (adjudication,) = store.gray_record([candidate], source="FAC2")
    runtime.classifier.down = True

    outcome = _run_task(adjudication.id, retries=3)

    assert outcome == "failed"
    assert AdjudicationRepository(session).get(adjudication.id).state == "failed"


def test_when_the_backend_returns_the_retry_decides(session, store, runtime):
    candidate, _ = store.record(source="FAC1")
    _, _, (adjudication,) = store.gray_record([candidate], source="FAC2")
    runtime.classifier.down = True
    with pytest.raises(ClassifierUnavailable):
        _run_task(adjudication.id, retries=0)
    runtime.classifier.down = False

    assert _run_task(adjudication.id, retries=1) == "match"
    assert _run_task(adjudication.id, retries=0) == "skipped"
    assert runtime.classifier.calls == 2


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap():
    delays = [tasks.backoff_seconds(n, base=2.0, cap=60.0) for n in range(8)]

    assert 1.0 <= delays[0] <= 2.0
    assert 8.0 <= delays[3] <= 16.0
    assert all(30.0 <= d <= 60.0 for d in delays[5:])
    assert len({tasks.backoff_seconds(4, base=2.0, cap=60.0) for _ in range(20)}) > 1


# What an adjudication stores of a pair whose birth dates agree (corroborating the names).
BIRTH_DATE_AGREES = {"birth_date": {"level": "Exact match on birth_date", "match_weight": 10.1}}

ENCOUNTERS_ONLY = {
    "encounters": [
        {"code_system": "SNOMED", "code": "185349003", "display": "Check up", "start": "2020-01-02"}
    ]
}


@pytest.mark.parametrize(
    ("record_history", "candidate_history", "reason"),
    [
        (None, "some", "record_has_no_comparable_events"),
        ("some", None, "candidate_has_no_comparable_events"),
        (ENCOUNTERS_ONLY, "some", "record_has_no_comparable_events"),
    ],
)
def test_without_comparable_history_the_classifier_abstains(
    session, store, runtime, record_history, candidate_history, reason
):
    candidate, _ = store.record(
        source="FAC1", **({} if candidate_history == "some" else {"clinical": candidate_history})
    )
    record, _, (adjudication,) = store.gray_record(
        [candidate],
        source="FAC2",
        probability=0.3,
        **({} if record_history == "some" else {"clinical": record_history}),
    )

    assert _run_task(adjudication.id, retries=0) == "no_match"

    assert runtime.classifier.calls == 0
    stored = AdjudicationRepository(session).get(adjudication.id)
    assert stored.abstain_reason == reason
    assert stored.classifier_probability is None
    assert stored.fused_probability == 0.3
    link = LinkRepository(session).get_for_record(record.id)
    assert (link.match_result, link.link_source, link.link_state) == ("NO_MATCH", "AUTO", "final")
    assert LinkRepository(session).history(record.id)[-1].reason["rule"] == "splink_alone_no_match"


def test_an_abstained_pair_above_the_splink_alone_bound_is_linked_by_splink(
    session, store, runtime
):
    candidate, candidate_golden = store.record(source="FAC1", clinical=None)
    record, _, (adjudication,) = store.gray_record(
        [candidate],
        source="FAC2",
        probability=0.7,
        accept_alone=0.5,
        comparison_weights=BIRTH_DATE_AGREES,
    )

    assert _run_task(adjudication.id, retries=0) == "match"

    assert runtime.classifier.calls == 0
    link = LinkRepository(session).get_for_record(record.id)
    assert link.golden_record_id == candidate_golden.id
    # Splink decided, not the classifier: the link says so.
    assert (link.match_result, link.link_source) == ("MATCH", "AUTO")
    reason = LinkRepository(session).history(record.id)[-1].reason
    assert reason["rule"] == "splink_alone"
    assert reason["abstain_reason"] == "candidate_has_no_comparable_events"


def test_an_abstained_pair_agreeing_on_names_against_its_birth_dates_is_not_linked(
    session, store, runtime
):
    candidate, candidate_golden = store.record(source="FAC1", clinical=None)
    names_only = {
        "given_name": {"level": "Exact", "match_weight": 10.0},
        "birth_date": {"level": "All other comparisons", "match_weight": -3.8},
    }
    record, _, (adjudication,) = store.gray_record(
        [candidate], source="FAC2", probability=0.9, comparison_weights=names_only
    )

    assert _run_task(adjudication.id, retries=0) == "no_match"
    link = LinkRepository(session).get_for_record(record.id)
    assert link.golden_record_id != candidate_golden.id
    assert link.match_result == "NO_MATCH"


def test_a_pair_stored_without_a_splink_alone_bound_is_never_linked_without_evidence(
    session, store, runtime
):
    candidate, _ = store.record(source="FAC1", clinical=None)
    record, _, (adjudication,) = store.gray_record(
        [candidate],
        source="FAC2",
        probability=0.95,
        accept_alone=None,
        comparison_weights=BIRTH_DATE_AGREES,
    )

    assert _run_task(adjudication.id, retries=0) == "no_match"
    assert LinkRepository(session).get_for_record(record.id).match_result == "NO_MATCH"


TWINS = {"family_name": "Okafor", "birth_date": "1990-04-02", "address_line1": "3 Elm St"}


@pytest.mark.parametrize(
    ("given_weight", "verdict"),
    # Given names Splink finds different: twins, for a person; alike (a typo): one patient.
    [(-4.0, "review"), (3.5, "match")],
)
def test_possible_twins_without_history_go_to_a_person(
    session, store, runtime, given_weight, verdict
):
    candidate, _ = store.record(source="FAC1", clinical=None, given_name="Chidi", **TWINS)
    record, _, (adjudication,) = store.gray_record(
        [candidate],
        source="FAC2",
        probability=0.9,
        comparison_weights={
            "given_name": {"level": "x", "match_weight": given_weight},
            **BIRTH_DATE_AGREES,
        },
        given_name="Amaka",
        **TWINS,
    )

    assert _run_task(adjudication.id, retries=0) == verdict

    link = LinkRepository(session).get_for_record(record.id)
    expected = ("POSSIBLE_MATCH", "provisional") if verdict == "review" else ("MATCH", "final")
    assert (link.match_result, link.link_state) == expected


def test_a_household_written_two_ways_without_history_goes_to_a_person(session, store, runtime):
    """Parent and child at one address, spelt differently by two facilities: the merge checks
    normalise the address as the decision does ("3 Elm Street" is "3 Elm St.")."""
    parent, _ = store.record(
        source="FAC1",
        clinical=None,
        given_name="Chidi",
        family_name="Okafor",
        birth_date="1961-07-19",
        address_line1="3 Elm Street",
    )
    child, _, (adjudication,) = store.gray_record(
        [parent],
        source="FAC2",
        probability=0.9,
        comparison_weights={"given_name": {"level": "x", "match_weight": -4.0}},
        given_name="Amaka",
        family_name="Okafor",
        birth_date="1990-04-02",
        address_line1="3 Elm St.",
    )

    assert _run_task(adjudication.id, retries=0) == "review"
    link = LinkRepository(session).get_for_record(child.id)
    assert (link.match_result, link.link_state) == ("POSSIBLE_MATCH", "provisional")
