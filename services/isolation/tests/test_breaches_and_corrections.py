"""Breaches and corrected positives as plain Python: one breach per report id or gate scan,
a staff report matched to the gate's breach, and the orders of a corrected positive ended
or sent to the office as the policy says."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cordon_contracts.gate import ExitDenied
from cordon_contracts.isolation import (
    IsolationEnded,
    IsolationReviewRequested,
    IsolationReviewSettled,
)
from cordon_isolation.domain.breaches import BreachReport, denied_exit_breach, report_breach
from cordon_isolation.domain.corrections import (
    Correction,
    positives_before,
    review_after_correction,
    settle_review,
)
from cordon_isolation.domain.errors import NoActiveOrder, NotFound
from cordon_isolation.domain.orders import IsolationRequest, PersonIsolation
from cordon_isolation.domain.policy import IsolationPolicy

NOW = datetime(2022, 4, 15, 8, 0, tzinfo=UTC)
POLICY = IsolationPolicy("d", version=2)
POSITIVE = str(uuid.uuid4())


def placed(*causes: str | None) -> PersonIsolation:
    """p1 under home isolation for the reasons of ``causes`` (None: a staff order)."""
    record = PersonIsolation("p1")
    for days, cause in enumerate(causes, start=1):
        request = IsolationRequest(
            person_id="p1", level="home", community_id="maple", reason="r", starts_at=NOW,
            planned_end_at=NOW + timedelta(days=days), order_id="o1", source_event_id=cause,
        )  # fmt: skip
        for event in record.place_under(request):
            record.apply(event)
    return record


def denial(at: datetime = NOW, reasons: tuple[str, ...] = ("isolated",)) -> ExitDenied:
    return ExitDenied.model_validate(
        {"scan_id": "s1", "checkpoint_id": "east", "community_id": "maple",
         "compound_id": "c1", "direction": "out", "scanned_at": at, "subject_kind": "resident",
         "person_id": "p1", "temperature_c": 36.5, "health_code": "green",
         "itinerary_risk": False, "policy_version": 0, "status_as_of": at,
         "reasons": list(reasons), "alerts": ["isolated_exit_attempt"]}
    )  # fmt: skip


def recorded(record: PersonIsolation, events: list[object]) -> PersonIsolation:
    for event in events:
        record.apply(event)  # type: ignore[arg-type]
    return record


def test_a_denied_exit_is_one_breach_escalated_as_the_policy_says() -> None:
    record = placed(None)
    first = denied_exit_breach(record, denial(), "g1", POLICY)
    recorded(record, list(first.events))

    again = denied_exit_breach(record, denial(), "g1", POLICY)
    [breach] = first.events

    assert (breach.breach_id, breach.kind, breach.gate_event_id) == (
        "gate:g1",
        "exit_denied_at_gate",
        "g1",
    )
    assert (breach.escalated_to, breach.policy_version) == ("sub_district", 2)
    assert again.events == [] and again.same_as == "gate:g1"


def test_a_denied_exit_for_another_reason_or_without_an_order_is_no_breach() -> None:
    assert denied_exit_breach(placed(None), denial(reasons=("fever",)), "g1", POLICY).events == []
    assert denied_exit_breach(PersonIsolation("p1"), denial(), "g1", POLICY).events == []


def test_the_same_breach_id_reported_three_times_is_one_breach() -> None:
    record = placed(None)
    report = BreachReport("b1", "received_visitor", NOW, "cadre-1", "sub_district")
    decisions = []
    for _ in range(3):
        decision = report_breach(record, report, POLICY)
        recorded(record, list(decision.events))
        decisions.append(decision)

    assert [len(d.events) for d in decisions] == [1, 0, 0]
    assert [d.same_as for d in decisions] == [None, "b1", "b1"]


@pytest.mark.parametrize("minutes", [-29, 0, 29])
def test_a_staff_report_of_leaving_near_a_gate_denial_is_that_breach(minutes: int) -> None:
    record = placed(None)
    recorded(record, list(denied_exit_breach(record, denial(), "g1", POLICY).events))
    report = BreachReport("b2", "left_home", NOW + timedelta(minutes=minutes), "cadre-1")

    decision = report_breach(record, report, POLICY)

    assert decision.events == [] and decision.same_as == "gate:g1"


def test_a_gate_denial_after_a_staff_report_of_leaving_is_that_breach() -> None:
    record = placed(None)
    report = BreachReport("b2", "left_home", NOW, "cadre-1", "police")
    recorded(record, list(report_breach(record, report, POLICY).events))

    decision = denied_exit_breach(record, denial(NOW + timedelta(minutes=10)), "g1", POLICY)

    assert decision.events == [] and decision.same_as == "b2"


def test_reports_outside_the_window_or_of_another_kind_are_new_breaches() -> None:
    record = placed(None)
    recorded(record, list(denied_exit_breach(record, denial(), "g1", POLICY).events))
    later = BreachReport("b3", "left_home", NOW + timedelta(minutes=31), "cadre-1")
    visitor = BreachReport("b4", "received_visitor", NOW, "cadre-1")

    assert len(report_breach(record, later, POLICY).events) == 1
    assert len(report_breach(record, visitor, POLICY).events) == 1
    with pytest.raises(NoActiveOrder):
        report_breach(PersonIsolation("p9"), visitor, POLICY)


def correction(*positives: str) -> Correction:
    return Correction("c1", "s1", "negative", frozenset(positives))


def test_by_policy_end_an_order_only_the_corrected_positive_caused_ends_with_the_reason() -> None:
    policy = replace(POLICY, corrected_positive="end")

    [ended] = review_after_correction(placed(POSITIVE), correction(POSITIVE), "r1", policy, NOW)

    assert isinstance(ended, IsolationEnded)
    assert (ended.reason_code, ended.source_event_id, ended.policy_version) == (
        "positive_corrected",
        "c1",
        2,
    )
    assert "sample s1 corrected to negative" in ended.rule


def test_an_order_other_reasons_also_hold_goes_to_review_even_when_the_policy_ends() -> None:
    policy = replace(POLICY, corrected_positive="end")
    travel = str(uuid.uuid4())

    [review] = review_after_correction(
        placed(POSITIVE, travel), correction(POSITIVE), "r1", policy, NOW
    )

    assert isinstance(review, IsolationReviewRequested)
    assert (review.review_id, review.reason_code, review.sample_id) == (
        "r1",
        "positive_corrected",
        "s1",
    )


def test_by_policy_review_the_office_settles_once_ending_or_keeping() -> None:
    record = placed(POSITIVE)
    recorded(record, review_after_correction(record, correction(POSITIVE), "r1", POLICY, NOW))
    again = review_after_correction(record, correction(POSITIVE), "r1", POLICY, NOW)
    kept_record = placed(POSITIVE)
    to_keep = review_after_correction(kept_record, correction(POSITIVE), "r1", POLICY, NOW)
    recorded(kept_record, to_keep)

    settled, ended = settle_review(record, "r1", "ended", "office-1", NOW)
    recorded(record, [settled, ended])
    [kept] = settle_review(kept_record, "r1", "kept", "office-1", NOW)
    recorded(kept_record, [kept])

    assert again == []
    assert isinstance(settled, IsolationReviewSettled) and isinstance(ended, IsolationEnded)
    assert (ended.reason_code, ended.review_id, ended.source_event_id) == (
        "positive_corrected",
        "r1",
        "c1",
    )
    assert record.active is None
    assert settle_review(record, "r1", "ended", "office-1", NOW) == []
    assert kept_record.active is not None and kept_record.active.open_reviews == {}
    with pytest.raises(NotFound):
        settle_review(record, "r9", "ended", "office-1", NOW)


def test_an_order_of_another_cause_is_not_reviewed() -> None:
    assert review_after_correction(placed(None), correction(POSITIVE), "r1", POLICY, NOW) == []


def test_only_positives_before_the_correction_count() -> None:
    stream = [("a", "positive"), ("b", "negative"), ("c", "positive"), ("d", "negative")]

    assert positives_before(stream, "b") == {"a"}
    assert positives_before(stream, "d") == {"a", "c"}
