"""Which stays a visit reports: inside the window, in an area listed at the time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cordon_contracts.registry import HouseholdVisited, TravelHistoryReported
from cordon_registry.domain.errors import Conflict, InvalidInput
from cordon_registry.domain.screening import (
    PersonSeen,
    RiskArea,
    ScreeningRound,
    Stay,
    Visit,
    designation,
    risky_stays,
    visit_findings,
)

AREAS = {
    "wuhan-jh": RiskArea("wuhan-jh", "Jianghan", "high", date(2022, 3, 20), date(2022, 4, 20)),
    "xian-yt": RiskArea("xian-yt", "Yanta", "medium", date(2022, 1, 1), date(2022, 1, 31)),
}
VISIT_DAY = date(2022, 4, 10)


def test_a_stay_in_a_listed_area_inside_the_window_is_reported() -> None:
    stay = Stay("wuhan-jh", date(2022, 4, 1), date(2022, 4, 3))
    assert risky_stays([stay], AREAS, visit_day=VISIT_DAY, window_days=14) == [
        (stay, AREAS["wuhan-jh"])
    ]


def test_a_stay_that_ended_before_the_window_is_not_reported() -> None:
    stay = Stay("wuhan-jh", date(2022, 3, 21), date(2022, 3, 26))
    assert risky_stays([stay], AREAS, visit_day=VISIT_DAY, window_days=14) == []


def test_a_stay_when_the_area_was_not_listed_is_not_reported() -> None:
    stay = Stay("xian-yt", date(2022, 4, 1), date(2022, 4, 5))
    assert risky_stays([stay], AREAS, visit_day=VISIT_DAY, window_days=14) == []


def test_a_stay_in_an_unlisted_area_is_not_reported() -> None:
    stay = Stay("beijing-dc", date(2022, 4, 1), date(2022, 4, 5))
    assert risky_stays([stay], AREAS, visit_day=VISIT_DAY, window_days=14) == []


def visit(*persons: PersonSeen) -> Visit:
    return Visit("v1", "h1", "g1", "gw1", datetime(2022, 4, 10, 10, tzinfo=UTC), persons)


def test_a_visit_names_present_absent_and_symptomatic_residents_and_reports_travel() -> None:
    screening = ScreeningRound("r1", "heping", 14)
    seen = [
        PersonSeen("p1", True, [Stay("wuhan-jh", date(2022, 4, 2), date(2022, 4, 4))], ["fever"]),
        PersonSeen("p2", True, returnee_contact=True),
    ]
    events = visit_findings(screening, visit(*seen), residents={"p1", "p2", "p3"}, areas=AREAS)

    visited, travel = events
    assert isinstance(visited, HouseholdVisited) and isinstance(travel, TravelHistoryReported)
    assert visited.present_person_ids == ["p1", "p2"]
    assert visited.absent_person_ids == ["p3"]
    assert visited.symptomatic_person_ids == ["p1"]
    assert visited.returnee_contact_person_ids == ["p2"]
    assert (travel.person_id, travel.risk_level, travel.area_name) == ("p1", "high", "Jianghan")


def test_a_visit_naming_someone_who_does_not_live_there_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not residents of h1: stranger"):
        visit_findings(
            ScreeningRound("r1", "heping", 14),
            visit(PersonSeen("stranger", True)),
            residents={"p1"},
            areas=AREAS,
        )


def test_a_closed_round_takes_no_visits() -> None:
    with pytest.raises(Conflict, match="closed"):
        visit_findings(
            ScreeningRound("r1", "heping", 14, closed=True), visit(), residents=set(), areas=AREAS
        )


MAX_DAYS = 180  # the registry's default longest listing (CORDON_REGISTRY_RISK_AREA_MAX_DAYS)


def test_listing_an_area_as_it_is_listed_already_is_nothing_new() -> None:
    area = RiskArea("310115", "浦东新区", "high", date(2022, 4, 1), date(2022, 4, 30))
    at = datetime(2022, 4, 1, tzinfo=UTC)

    assert designation(area, at, MAX_DAYS, current=area) is None
    assert designation(area, at, MAX_DAYS, current=None) is not None
    longer = RiskArea("310115", "浦东新区", "high", date(2022, 4, 1), date(2022, 5, 15))
    assert designation(longer, at, MAX_DAYS, current=area) is not None
