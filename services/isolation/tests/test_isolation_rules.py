"""The isolation rules as plain Python (no infrastructure): upgrade and extend instead of a
second order, the release rule, the policy reactions, and lab rows."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from cordon_contracts.isolation import (
    IsolationEnded,
    IsolationExtended,
    IsolationLevelChanged,
    IsolationStarted,
    ResponsibleTeam,
)
from cordon_contracts.registry import TravelHistoryReported
from cordon_isolation.domain import followup
from cordon_isolation.domain.errors import Conflict, NoActiveOrder, ReleaseRefused
from cordon_isolation.domain.orders import IsolationRequest, PersonIsolation
from cordon_isolation.domain.policy import IsolationPolicy, ReleaseRule
from cordon_isolation.domain.reactions import positive_isolation, travel_isolation
from cordon_isolation.domain.release import RecordedResult, assess_release
from cordon_isolation.domain.results import (
    CollectionWindow,
    ResultRow,
    RowError,
    SampleOnRecord,
    decide_result,
    match,
    parse_row,
)
from cordon_isolation.entrypoints.schemas import CheckInIn

NOW = datetime(2022, 4, 15, 8, 0, tzinfo=UTC)
POLICY = IsolationPolicy("d")
WINDOW = CollectionWindow(future_skew=timedelta(minutes=5), max_age=timedelta(days=30))


def request(level: str = "home", days: int = 14, order_id: str = "o1") -> IsolationRequest:
    return IsolationRequest(
        person_id="p1",
        level=level,  # type: ignore[arg-type]
        community_id="maple",
        reason="test",
        starts_at=NOW,
        planned_end_at=NOW + timedelta(days=days),
        order_id=order_id,
    )


def isolated(level: str = "home", days: int = 14) -> PersonIsolation:
    record = PersonIsolation("p1")
    for event in record.place_under(request(level, days)):
        record.apply(event)
    return record


def negative(hours_ago: float, sample: str = "s") -> RecordedResult:
    return RecordedResult(f"{sample}{hours_ago}", NOW - timedelta(hours=hours_ago), "negative")


def test_a_first_reason_starts_an_order() -> None:
    [started] = PersonIsolation("p1").place_under(request())

    assert isinstance(started, IsolationStarted) and started.level == "home"


def test_a_stronger_level_upgrades_the_active_order_instead_of_opening_a_second() -> None:
    events = isolated("home").place_under(request("centralized", 14, order_id="o2"))

    assert [type(e) for e in events] == [IsolationLevelChanged]
    assert events[0].order_id == "o1"  # type: ignore[attr-defined]


def test_a_later_end_extends_and_a_weaker_covered_reason_changes_nothing() -> None:
    record = isolated("home", 14)

    extended = record.place_under(request("monitoring", 20, order_id="o2"))
    covered = record.place_under(request("monitoring", 7, order_id="o3"))

    assert [type(e) for e in extended] == [IsolationExtended]
    assert covered == []


def test_an_upgrade_with_a_later_end_both_upgrades_and_extends() -> None:
    events = isolated("monitoring", 7).place_under(request("centralized", 14, order_id="o2"))

    assert [type(e) for e in events] == [IsolationLevelChanged, IsolationExtended]


def test_a_replayed_cause_does_not_reopen_an_order_that_ended() -> None:
    record = isolated("home", 0)
    record.apply(followup.cancel(record, "entered_in_error"))

    assert record.place_under(request("home", 14, order_id="o1")) == []
    assert record.place_under(request("home", 14, order_id="o9")) != []


def test_release_needs_two_negatives_24_hours_apart_within_72_hours() -> None:
    rule = ReleaseRule(2, 24, 72)
    ended = NOW - timedelta(hours=1)

    none = assess_release(rule, ended, NOW, [])
    too_close = assess_release(rule, ended, NOW, [negative(2), negative(10)])
    too_old = assess_release(rule, ended, NOW, [negative(2), negative(80)])
    enough = assess_release(rule, ended, NOW, [negative(2), negative(10), negative(30)])

    assert [u.requirement for u in none.unmet] == ["negative_tests"]
    assert "found 0" in none.unmet[0].detail
    assert not too_close.allowed and not too_old.allowed
    assert enough.allowed and enough.negative_sample_ids == ("s30", "s2")


def test_release_before_the_period_ends_or_after_a_positive_names_each_requirement() -> None:
    positive = RecordedResult("sp", NOW - timedelta(hours=5), "positive")

    assessment = assess_release(
        ReleaseRule(), NOW + timedelta(days=1), NOW, [negative(2), negative(30), positive]
    )

    assert [u.requirement for u in assessment.unmet] == ["period_not_over", "positive_result"]


def test_a_refused_release_raises_with_the_unmet_requirements_and_a_release_records_the_rule() -> (
    None
):
    record = isolated("home", 0)

    with pytest.raises(ReleaseRefused) as refused:
        followup.release(record, POLICY, NOW + timedelta(hours=1), [])
    ended = followup.release(record, POLICY, NOW + timedelta(hours=1), [negative(0), negative(25)])

    assert [u.requirement for u in refused.value.unmet] == ["negative_tests"]
    assert isinstance(ended, IsolationEnded) and ended.policy_version == 0
    assert "2 negative test(s) >= 24 h apart within the last 72 h" in ended.rule


def test_commands_need_an_active_order_and_documents_are_signed_after_issue() -> None:
    with pytest.raises(NoActiveOrder):
        followup.cancel(PersonIsolation("p1"), "other")
    record = isolated()
    with pytest.raises(Conflict):
        followup.sign_document(record, "commitment", NOW)
    for event in followup.issue_document(record, "commitment", NOW, "cadre-1"):
        record.apply(event)

    assert followup.issue_document(record, "commitment", NOW, "cadre-1") == []
    assert len(followup.sign_document(record, "commitment", NOW)) == 1


def test_a_missed_check_in_is_only_missed_without_a_check_in_in_its_period() -> None:
    record = isolated()
    order_id = "o1"
    day = timedelta(days=1)

    missed = followup.missed_check_in(record, order_id, NOW + day, NOW + day, day)
    record.apply(
        followup.check_in(
            record, checked_at=NOW + day / 2, temperature_c=36.5, symptoms=[], mood_call="ok",
            recorded_by="doc-1",
        )
    )  # fmt: skip
    met = followup.missed_check_in(record, order_id, NOW + day, NOW + day, day)

    assert missed is not None and met is None


def travel(stayed_until: date, risk: str = "high") -> TravelHistoryReported:
    return TravelHistoryReported(
        round_id="r1", visit_id="v1", person_id="p1", household_id="h1", community_id="maple",
        area_code="A1", area_name="Area", risk_level=risk,
        stayed_from=stayed_until - timedelta(days=3), stayed_until=stayed_until, reported_at=NOW,
    )  # fmt: skip


def test_travel_in_a_high_risk_area_within_the_window_means_home_isolation() -> None:
    cause = uuid.uuid4()

    recent = travel_isolation(POLICY, travel(date(2022, 4, 12)), cause)
    long_ago = travel_isolation(POLICY, travel(date(2022, 3, 1)), cause)
    medium = travel_isolation(POLICY, travel(date(2022, 4, 12), "medium"), cause)

    assert recent is not None and recent.level == "home" and recent.policy_version == 0
    assert recent.planned_end_at == datetime(2022, 4, 27, tzinfo=UTC)
    assert long_ago is None and medium is None
    assert travel_isolation(POLICY, travel(date(2022, 4, 12)), cause) == recent, "deterministic"


def test_a_positive_isolates_the_person_centrally_and_the_household_as_configured() -> None:
    policy = IsolationPolicy("d", version=3, household_level="monitoring")

    requests = positive_isolation(
        policy, "p1", "s1", "maple", ["p1", "p2", "p3"], NOW, uuid.uuid4()
    )

    assert [(r.person_id, r.level) for r in requests] == [
        ("p1", "centralized"),
        ("p2", "monitoring"),
        ("p3", "monitoring"),
    ]
    assert {r.policy_version for r in requests} == {3}


def test_lab_rows_are_refused_with_row_column_and_reason() -> None:
    bad = parse_row(3, {"sample_id": "", "result": "maybe", "collected_at": "yesterday"})
    naive = parse_row(4, {"sample_id": "s1", "result": "阴性", "collected_at": "2022-04-01T08:00"})

    assert bad == [
        RowError(3, "sample_id", "required"),
        RowError(3, "result", "must be negative, positive or invalid"),
        RowError(3, "collected_at", "not an ISO 8601 date-time"),
    ]
    assert naive == [RowError(4, "collected_at", "needs a UTC offset")]


def test_a_result_is_matched_by_sample_and_a_repeat_is_a_duplicate_a_change_a_correction() -> None:
    row = ResultRow(2, "s1", "positive")
    sample = SampleOnRecord("s1", "p1", NOW, None, 1)
    unknown = match(row, None, WINDOW, NOW)
    matched = match(row, sample, WINDOW, NOW)
    assert not isinstance(matched, RowError)

    first = decide_result(row, matched, sample, "lab", "b1")
    again = decide_result(row, matched, SampleOnRecord("s1", "p1", NOW, "positive", 2), "lab", "b")
    fixed = decide_result(
        ResultRow(2, "s1", "negative"), matched, SampleOnRecord("s1", "p1", NOW, "positive", 2),
        "lab", "b",
    )  # fmt: skip

    assert unknown == RowError(2, "sample_id", "unmatched: unknown sample and no person_id")
    assert first is not None and first.event_type == "TestResultReceived"
    assert again is None
    assert fixed is not None and fixed.event_type == "TestResultCorrected"


FUTURE = "in the future (more than 300 s after the time of intake)"


@pytest.mark.parametrize(
    ("collected_at", "reason"),
    [
        (datetime(2099, 1, 1, tzinfo=UTC), FUTURE),
        (NOW + timedelta(minutes=6), FUTURE),
        (NOW - timedelta(days=31), "more than 30 days ago"),
        (datetime(1970, 1, 1, tzinfo=UTC), "more than 30 days ago"),
    ],
)
def test_a_result_collected_outside_the_window_is_refused_naming_collected_at(
    collected_at: datetime, reason: str
) -> None:
    row = ResultRow(5, "s1", "negative", "p1", collected_at)
    from_sample = ResultRow(6, "s2", "negative")

    refused = match(row, None, WINDOW, NOW)
    collected_here = SampleOnRecord("s2", "p1", collected_at, None, 1)
    refused_by_sample = match(from_sample, collected_here, WINDOW, NOW)

    assert refused == RowError(5, "collected_at", reason)
    assert refused_by_sample == RowError(6, "collected_at", reason)


def test_a_result_collected_within_the_skew_or_the_age_limit_is_accepted() -> None:
    for collected_at in (NOW + timedelta(minutes=4), NOW - timedelta(days=29)):
        matched = match(ResultRow(2, "s1", "negative", "p1", collected_at), None, WINDOW, NOW)
        assert not isinstance(matched, RowError)


def test_the_same_team_assigned_again_changes_nothing() -> None:
    record = isolated()
    team = ResponsibleTeam(cadre_id="c1", police_officer_id="po1", doctor_id="d1")
    for event in followup.assign_team(record, team, NOW):
        record.apply(event)

    again = followup.assign_team(record, team, NOW)
    other = followup.assign_team(record, team.model_copy(update={"doctor_id": "d2"}), NOW)

    assert again == [] and len(other) == 1


def test_an_id_card_or_mobile_number_is_refused_as_a_person_id() -> None:
    for number in ("110101199003071234", "13800138000"):
        refused = parse_row(2, {"sample_id": "s1", "result": "negative", "person_id": number})
        assert refused == [
            RowError(
                2,
                "person_id",
                "looks like an ID-card or mobile number: give the pseudonymous person id",
            )
        ]
    with pytest.raises(ValidationError, match="pseudonymous"):
        CheckInIn(recorded_by="13800138000")
    assert CheckInIn(recorded_by="doctor-1").recorded_by == "doctor-1"
