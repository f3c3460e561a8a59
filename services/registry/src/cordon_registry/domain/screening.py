"""Door-to-door screening rounds (滚动排查): what a household visit found, and which of it
the rest of the district must hear about."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cordon_contracts.registry import (
    HouseholdVisited,
    RiskAreaDesignated,
    RiskLevel,
    ScreeningRoundClosed,
    ScreeningRoundOpened,
    TravelHistoryReported,
)
from cordon_core.envelope import DomainEvent
from cordon_registry.domain.errors import Conflict, InvalidInput

DEFAULT_WINDOW_DAYS = 14
LONGEST_WINDOW_DAYS = 60
"""How far back a stay counts in a round: 14 days unless the round says otherwise, at most 60."""


def round_stream(round_id: str) -> str:
    return f"round-{round_id}"


def visit_stream(round_id: str, household_id: str) -> str:
    return f"visit-{round_id}-{household_id}"


@dataclass(frozen=True, slots=True)
class RiskArea:
    """A medium- or high-risk area on the district's list, for the dates it is listed."""

    area_code: str
    area_name: str
    level: RiskLevel
    valid_from: date
    valid_until: date

    def listed_during(self, start: date, end: date) -> bool:
        return self.valid_from <= end and start <= self.valid_until


def designation(
    area: RiskArea, at: datetime, max_days: int, current: RiskArea | None = None
) -> RiskAreaDesignated | None:
    """The listing; None when ``current`` already lists the area so (nothing new)."""
    if area.valid_until < area.valid_from:
        raise InvalidInput("valid_until", "the listing ends before it starts")
    if (area.valid_until - area.valid_from).days + 1 > max_days:
        raise InvalidInput(
            "valid_until", f"a listing lasts at most {max_days} days; list the area again then"
        )
    designated = RiskAreaDesignated(
        area_code=area.area_code,
        area_name=area.area_name,
        level=area.level,
        valid_from=area.valid_from,
        valid_until=area.valid_until,
        designated_at=at,
    )
    listed = RiskArea(
        designated.area_code, designated.area_name, designated.level,
        designated.valid_from, designated.valid_until,
    )  # fmt: skip
    return None if listed == current else designated


@dataclass(frozen=True, slots=True)
class Stay:
    """Where a person travelled or stayed, and when (旅居史)."""

    area_code: str
    stayed_from: date
    stayed_until: date


@dataclass(frozen=True, slots=True)
class PersonSeen:
    """What the grid worker learnt about one resident of the household."""

    person_id: str
    present: bool
    stays: Sequence[Stay] = ()
    symptoms: Sequence[str] = ()
    returnee_contact: bool = False


@dataclass
class ScreeningRound:
    round_id: str
    community_id: str
    window_days: int
    closed: bool = False
    version: int = 0

    @classmethod
    def from_events(cls, events: Sequence[DomainEvent]) -> ScreeningRound:
        first = events[0]
        assert isinstance(first, ScreeningRoundOpened)
        screening = cls(first.round_id, first.community_id, first.window_days)
        for event in events:
            screening.version += 1
            if isinstance(event, ScreeningRoundClosed):
                screening.closed = True
        return screening

    def require_open(self) -> None:
        if self.closed:
            raise Conflict("round_id", f"screening round {self.round_id} is closed")

    def close(self, visited: int, registered: int, at: datetime) -> ScreeningRoundClosed:
        self.require_open()
        return ScreeningRoundClosed(
            round_id=self.round_id,
            community_id=self.community_id,
            households_visited=visited,
            households_registered=registered,
            closed_at=at,
        )


def opening(
    round_id: str, community_id: str, name: str, window_days: int, at: datetime
) -> ScreeningRoundOpened:
    if not 1 <= window_days <= LONGEST_WINDOW_DAYS:
        raise InvalidInput("window_days", f"a travel window of 1 to {LONGEST_WINDOW_DAYS} days")
    return ScreeningRoundOpened(
        round_id=round_id,
        community_id=community_id,
        name=name,
        window_days=window_days,
        opened_at=at,
    )


@dataclass(frozen=True, slots=True)
class Visit:
    visit_id: str
    household_id: str
    grid_id: str
    staff_id: str
    visited_at: datetime
    persons: Sequence[PersonSeen] = field(default_factory=tuple)


def risky_stays(
    stays: Iterable[Stay], areas: dict[str, RiskArea], *, visit_day: date, window_days: int
) -> list[tuple[Stay, RiskArea]]:
    """Stays inside the window in an area listed as medium/high risk at the time of the stay."""
    window_start = visit_day - timedelta(days=window_days)
    found = []
    for stay in stays:
        if stay.stayed_until < stay.stayed_from:
            raise InvalidInput("stays", f"stay in {stay.area_code} ends before it starts")
        if stay.stayed_until < window_start or stay.stayed_from > visit_day:
            continue
        area = areas.get(stay.area_code)
        if area is not None and area.listed_during(
            max(stay.stayed_from, window_start), stay.stayed_until
        ):
            found.append((stay, area))
    return found


def visit_findings(
    screening: ScreeningRound,
    visit: Visit,
    *,
    residents: set[str],
    areas: dict[str, RiskArea],
) -> list[DomainEvent]:
    """``HouseholdVisited`` and a ``TravelHistoryReported`` for each risky stay."""
    screening.require_open()
    strangers = sorted({p.person_id for p in visit.persons} - residents)
    if strangers:
        raise InvalidInput(
            "persons", f"not residents of {visit.household_id}: {', '.join(strangers)}"
        )
    present = [p.person_id for p in visit.persons if p.present]
    events: list[DomainEvent] = [
        HouseholdVisited(
            round_id=screening.round_id,
            visit_id=visit.visit_id,
            household_id=visit.household_id,
            grid_id=visit.grid_id,
            community_id=screening.community_id,
            staff_id=visit.staff_id,
            visited_at=visit.visited_at,
            present_person_ids=present,
            absent_person_ids=sorted(residents - set(present)),
            symptomatic_person_ids=[p.person_id for p in visit.persons if p.symptoms],
            returnee_contact_person_ids=[p.person_id for p in visit.persons if p.returnee_contact],
        )
    ]
    for person in visit.persons:
        for stay, area in risky_stays(
            person.stays,
            areas,
            visit_day=visit.visited_at.date(),
            window_days=screening.window_days,
        ):
            events.append(
                TravelHistoryReported(
                    round_id=screening.round_id,
                    visit_id=visit.visit_id,
                    person_id=person.person_id,
                    household_id=visit.household_id,
                    community_id=screening.community_id,
                    area_code=area.area_code,
                    area_name=area.area_name,
                    risk_level=area.level,
                    stayed_from=stay.stayed_from,
                    stayed_until=stay.stayed_until,
                    reported_at=visit.visited_at,
                )
            )
    return events
