"""Applying verdicts: merges with redirects and history, guards, MANUAL links, no-match."""

from __future__ import annotations

from sqlalchemy import select

from mpi_classifier import apply
from mpi_classifier.tasks import adjudicate_once
from mpi_store.models import GoldenRecord, LinkHistory
from mpi_store.repositories import AdjudicationRepository, LinkRepository

DEMOGRAPHICS = {"given_name": "Ana", "family_name": "Silva", "birth_date": "1980-02-03"}


def _run(session_factory, classifier, adjudication):
    return adjudicate_once(
        session_factory=session_factory, classifier=classifier, adjudication_id=adjudication.id
    )


def test_a_match_merges_the_provisional_patient_into_the_candidate(
    session, session_factory, store, fixed_classifier
):
    candidate, kept = store.record(source="FAC1", ssn="512-44-9087", **DEMOGRAPHICS)
    record, provisional, (adjudication,) = store.gray_record([candidate], source="FAC2")

    verdict = _run(session_factory, fixed_classifier(0.99), adjudication)

    session.expire_all()
    link = LinkRepository(session).get_for_record(record.id)
    absorbed = session.get(GoldenRecord, provisional.id)
    assert verdict == "match"
    assert (link.golden_record_id, link.match_result, link.link_source, link.link_state) == (
        kept.id,
        "MATCH",
        "LLM",
        "final",
    )
    assert (absorbed.status, absorbed.redirect_to) == ("redirected", kept.id)
    assert session.get(GoldenRecord, kept.id).attributes["ssn"] == "512-44-9087"
    last = LinkRepository(session).history(record.id)[-1]
    assert last.previous_golden_record_id == provisional.id
    assert last.reason["adjudication_id"] == adjudication.id
    assert last.reason["merged"] == {"survivor": kept.mpi_id, "absorbed": provisional.mpi_id}
    stored = AdjudicationRepository(session).get(adjudication.id)
    assert (stored.state, stored.verdict, stored.classifier_backend) == ("done", "match", "fixed")
    assert stored.classifier_probability == 0.99
    assert stored.fused_probability > 0.3


def test_a_bridge_match_merges_two_patients_and_keeps_the_records_auto_link(
    session, session_factory, store, fixed_classifier
):
    """A record linked at once to one patient, whose gray candidate on another patient is the
    same person split earlier: the patients merge, the record's own link stays the auto one."""
    candidate, kept = store.record(source="FAC1", **DEMOGRAPHICS)
    record, linked_to, (adjudication,) = store.gray_record(
        [candidate], source="FAC2", link={"match_result": "MATCH", "link_state": "final"}
    )
    sibling, _ = store.record(source="FAC3", link={"golden": linked_to})

    assert _run(session_factory, fixed_classifier(0.99), adjudication) == "match"

    session.expire_all()
    links = LinkRepository(session)
    mine, theirs = links.get_for_record(record.id), links.get_for_record(sibling.id)
    assert mine.golden_record_id == theirs.golden_record_id == kept.id
    assert (mine.match_result, mine.link_source, mine.link_state) == ("MATCH", "AUTO", "final")
    assert links.history(record.id)[-1].reason["merged"]["absorbed"] == linked_to.mpi_id
    assert session.get(GoldenRecord, linked_to.id).redirect_to == kept.id


def test_every_link_of_the_absorbed_patient_moves_with_history(
    session, session_factory, store, fixed_classifier
):
    candidate, kept = store.record(source="FAC1")
    _, provisional, (adjudication,) = store.gray_record([candidate], source="FAC2")
    sibling, _ = store.record(source="FAC3", link={"golden": provisional})

    _run(session_factory, fixed_classifier(0.99), adjudication)

    session.expire_all()
    moved = LinkRepository(session).get_for_record(sibling.id)
    assert moved.golden_record_id == kept.id
    assert moved.link_source == "AUTO"
    history = LinkRepository(session).history(sibling.id)
    assert history[-1].previous_golden_record_id == provisional.id
    assert history[-1].reason["rule"] == "classifier_merge"


def test_a_no_match_finalises_the_record_on_its_own_patient(
    session, session_factory, store, fixed_classifier
):
    candidate, kept = store.record(source="FAC1")
    record, provisional, (adjudication,) = store.gray_record([candidate], source="FAC2")

    verdict = _run(session_factory, fixed_classifier(0.01), adjudication)

    session.expire_all()
    link = LinkRepository(session).get_for_record(record.id)
    assert verdict == "no_match"
    assert (link.golden_record_id, link.match_result, link.link_source, link.link_state) == (
        provisional.id,
        "NO_MATCH",
        "LLM",
        "final",
    )
    assert session.get(GoldenRecord, kept.id).status == "active"


def test_no_match_waits_until_every_adjudication_is_decided(
    session, session_factory, store, fixed_classifier
):
    first, _ = store.record(source="FAC1")
    second, _ = store.record(source="FAC3")
    record, _, (one, two) = store.gray_record([first, second], source="FAC2")
    classifier = fixed_classifier(0.01)

    _run(session_factory, classifier, one)
    session.expire_all()
    assert LinkRepository(session).get_for_record(record.id).link_state == "provisional"

    _run(session_factory, classifier, two)
    session.expire_all()
    assert LinkRepository(session).get_for_record(record.id).match_result == "NO_MATCH"


def test_conflicting_ssns_leave_the_pair_for_review(
    session, session_factory, store, fixed_classifier
):
    candidate, _ = store.record(source="FAC1", ssn="512-44-9087")
    record, provisional, (adjudication,) = store.gray_record(
        [candidate], source="FAC2", ssn="287-65-4301"
    )

    verdict = _run(session_factory, fixed_classifier(0.99), adjudication)

    session.expire_all()
    link = LinkRepository(session).get_for_record(record.id)
    assert verdict == "review"
    assert (link.golden_record_id, link.link_state) == (provisional.id, "provisional")
    assert session.get(GoldenRecord, provisional.id).status == "active"


def test_manual_links_are_never_moved(session, session_factory, store, fixed_classifier):
    candidate, theirs = store.record(source="FAC1")
    record, mine, (adjudication,) = store.gray_record(
        [candidate], source="FAC2", link={"link_source": "MANUAL"}
    )
    before = LinkRepository(session).get_for_record(record.id)
    decision_before = before.decision_id

    verdict = _run(session_factory, fixed_classifier(0.99), adjudication)

    session.expire_all()
    link = LinkRepository(session).get_for_record(record.id)
    assert verdict == "match"
    assert (link.golden_record_id, link.link_source, link.decision_id) == (
        mine.id,
        "MANUAL",
        decision_before,
    )
    # The record's patient survives; the candidate's patient is merged into it.
    assert session.get(GoldenRecord, theirs.id).redirect_to == mine.id
    assert LinkRepository(session).get_for_record(candidate.id).golden_record_id == mine.id


def test_history_reasons_carry_ids_and_scores_only(
    session, session_factory, store, fixed_classifier
):
    candidate, _ = store.record(source="FAC1", **DEMOGRAPHICS)
    _, _, (adjudication,) = store.gray_record([candidate], source="FAC2", **DEMOGRAPHICS)

    _run(session_factory, fixed_classifier(0.99), adjudication)

    reasons = " ".join(str(h.reason) for h in session.scalars(select(LinkHistory)))
    for value in DEMOGRAPHICS.values():
        assert value not in reasons


def test_a_decided_adjudication_is_not_decided_again(session, store):
    candidate, _ = store.record(source="FAC1")
    _, _, (adjudication,) = store.gray_record([candidate], source="FAC2")
    scores = apply.Scores(0.99, 0.99, accept=True, backend="fixed", model_id="fixed-1")

    first = apply.decide(session, adjudication_id=adjudication.id, scores=scores)
    second = apply.decide(session, adjudication_id=adjudication.id, scores=scores)

    assert (first, second) == ("match", None)


def test_a_review_puts_an_auto_link_in_the_stewards_queue_with_the_reason(
    session, session_factory, store, fixed_classifier
):
    """A record linked at once whose gray candidate on another patient holds a conflicting
    SSN: no merge, and the record's link waits for a person (POSSIBLE_MATCH, provisional)."""
    candidate, _ = store.record(source="FAC1", ssn="512-44-9087")
    record, linked_to, (adjudication,) = store.gray_record(
        [candidate],
        source="FAC2",
        ssn="287-65-4301",
        link={"match_result": "MATCH", "link_state": "final"},
    )

    assert _run(session_factory, fixed_classifier(0.99), adjudication) == "review"

    session.expire_all()
    link = LinkRepository(session).get_for_record(record.id)
    assert (link.golden_record_id, link.match_result, link.link_state, link.link_source) == (
        linked_to.id,
        "POSSIBLE_MATCH",
        "provisional",
        "AUTO",
    )
    last = LinkRepository(session).history(record.id)[-1]
    assert (last.reason["rule"], last.reason["guards"]) == ("review", ["conflicting_ssn"])
    assert AdjudicationRepository(session).get(adjudication.id).review_reasons == [
        "conflicting_ssn"
    ]


def test_an_accepted_pair_below_the_merge_floor_waits_for_a_person(session, store):
    """The fitted accept threshold sits below 0.5 (where F1 is best); automation merges only
    what it finds more likely one person than two, the rest goes to review."""
    candidate, _ = store.record(source="FAC1")
    record, provisional, (adjudication,) = store.gray_record([candidate], source="FAC2")
    doubtful = apply.Scores(0.9, apply.MERGE_FLOOR - 0.01, accept=True, backend="f", model_id="f")

    assert apply.decide(session, adjudication_id=adjudication.id, scores=doubtful) == "review"

    session.expire_all()
    link = LinkRepository(session).get_for_record(record.id)
    assert (link.golden_record_id, link.match_result, link.link_state) == (
        provisional.id,
        "POSSIBLE_MATCH",
        "provisional",
    )
    assert session.get(GoldenRecord, provisional.id).status == "active"
    assert AdjudicationRepository(session).get(adjudication.id).review_reasons == [
        "uncertain_match"
    ]


def test_an_accepted_pair_at_the_merge_floor_merges(session, store):
    candidate, kept = store.record(source="FAC1")
    record, _, (adjudication,) = store.gray_record([candidate], source="FAC2")
    sure = apply.Scores(0.9, apply.MERGE_FLOOR, accept=True, backend="f", model_id="f")

    assert apply.decide(session, adjudication_id=adjudication.id, scores=sure) == "match"
    session.expire_all()
    assert LinkRepository(session).get_for_record(record.id).golden_record_id == kept.id
