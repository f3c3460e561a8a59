"""Events the registry publishes on ``<prefix>.registry.events``.

Keyed by the aggregate they describe: person events by person id, place events by place
id, visits by household. Only pseudonymous person ids, staff ids and place ids travel
here: names, ID numbers, phone numbers and addresses stay inside the registry. Free text
typed by staff (reasons, place and round names, vaccine names) is ``RedactedText``: any ID
number or mobile number in it is replaced by a mark before the event is stored.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from cordon_events.envelope import DomainEvent, EventRegistry
from cordon_events.privacy import RedactedText

registry = EventRegistry()

ResidenceType = Literal["owner", "tenant", "temporary", "returnee"]
PlaceKind = Literal[
    "sub_district", "community", "grid", "compound", "building", "unit", "household"
]
StaffRole = Literal["grid_worker", "building_head"]
LedgerCategory = Literal[
    "returnee", "migrant_worker", "student", "truck_driver", "elderly_living_alone", "frail"
]
"""The ledgers (台账) a community keeps: 返乡人员, 务工人员, 学生, 货车司机, 独居老人, 体弱."""
RiskLevel = Literal["medium", "high"]
VaccinationSource = Literal["registry", "screening"]

PERSON_ID = "Stable pseudonymous person id; never an ID-card number."


class _Residence(DomainEvent):
    person_id: str = Field(description=PERSON_ID)
    household_id: str
    building_id: str
    compound_id: str
    grid_id: str
    community_id: str
    sub_district_id: str
    unit_id: str | None = Field(default=None, description="None when the building has no units.")


@registry.register
class ResidentRegistered(_Residence):
    """A person now lives in a household of the district."""

    event_type = "ResidentRegistered"
    residence_type: ResidenceType
    registered_at: datetime


@registry.register
class ResidentMoved(_Residence):
    """A resident moved to another household (the fields name the new one)."""

    event_type = "ResidentMoved"
    from_household_id: str
    moved_at: datetime
    residence_type: ResidenceType | None = None


@registry.register
class ResidentLeft(DomainEvent):
    """A person no longer lives in the district's households (moved away, died, entered
    in error)."""

    event_type = "ResidentLeft"
    person_id: str
    household_id: str
    community_id: str
    reason: RedactedText
    left_at: datetime


@registry.register
class ResidentCategorized(DomainEvent):
    """The ledgers a resident is kept in changed; ``categories`` is the full new set."""

    event_type = "ResidentCategorized"
    person_id: str = Field(description=PERSON_ID)
    household_id: str
    community_id: str
    categories: list[LedgerCategory]
    changed_at: datetime


@registry.register
class KeyPersonFlagged(DomainEvent):
    """A resident is a key person (重点人员) for the community, for the reason given."""

    event_type = "KeyPersonFlagged"
    person_id: str = Field(description=PERSON_ID)
    household_id: str
    community_id: str
    reason: RedactedText
    flagged_at: datetime


@registry.register
class KeyPersonCleared(DomainEvent):
    event_type = "KeyPersonCleared"
    person_id: str = Field(description=PERSON_ID)
    community_id: str
    reason: RedactedText
    cleared_at: datetime


class _Place(DomainEvent):
    place_id: str
    kind: PlaceKind
    parent_id: str | None = Field(
        description="None only for a sub-district (its parent is the district)."
    )
    community_id: str | None = Field(
        description="The community the place belongs to, if below one."
    )


@registry.register
class PlaceAdded(_Place):
    event_type = "PlaceAdded"
    name: RedactedText
    added_at: datetime


@registry.register
class PlaceRenamed(_Place):
    event_type = "PlaceRenamed"
    name: RedactedText
    previous_name: RedactedText
    renamed_at: datetime


@registry.register
class PlaceMerged(_Place):
    """The place was merged into another of the same kind; its children now belong there
    (and, for a household, its residents moved there: see ``ResidentMoved``)."""

    event_type = "PlaceMerged"
    into_place_id: str
    children_moved: list[str]
    merged_at: datetime


@registry.register
class PlaceClosed(_Place):
    event_type = "PlaceClosed"
    reason: RedactedText
    closed_at: datetime


class _Assignment(DomainEvent):
    place_id: str = Field(description="The grid (grid worker) or building (building head).")
    community_id: str
    role: StaffRole
    staff_id: str = Field(description="Pseudonymous staff id.")


@registry.register
class StaffAssigned(_Assignment):
    event_type = "StaffAssigned"
    assigned_at: datetime


@registry.register
class StaffUnassigned(_Assignment):
    event_type = "StaffUnassigned"
    unassigned_at: datetime


OfficeRole = Literal["admin", "district_staff", "community_staff", "grid_worker"]
"""A staff token's role: district roles act in every community, the others in their own."""


@registry.register
class StaffTokenIssued(DomainEvent):
    """The registry issued a bearer token to a staff member. The gate and the isolation
    service keep these to admit the same token to their office APIs, held to the same
    community. Only the token's SHA-256 travels: the token itself is shown once, to the
    caller who asked for it, and cannot be derived from its hash (32 random bytes)."""

    event_type = "StaffTokenIssued"
    staff_id: str = Field(description="Pseudonymous staff id.")
    role: OfficeRole
    community_id: str | None = Field(description="None for a district role.")
    token_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Hex SHA-256 of the bearer token.",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    issued_at: datetime


@registry.register
class StaffTokensRevoked(DomainEvent):
    """Every token issued to the staff member before this is revoked."""

    event_type = "StaffTokensRevoked"
    staff_id: str = Field(description="Pseudonymous staff id.")
    revoked_at: datetime


@registry.register
class VaccinationRecorded(DomainEvent):
    """A vaccine dose a resident received (疫苗接种), from the registry or a visit."""

    event_type = "VaccinationRecorded"
    person_id: str = Field(description=PERSON_ID)
    household_id: str
    community_id: str
    dose_number: int = Field(ge=1)
    vaccinated_on: date
    vaccine: RedactedText | None = None
    source: VaccinationSource
    recorded_at: datetime


@registry.register
class RiskAreaDesignated(DomainEvent):
    """The district lists an area as medium or high risk (中高风险地区) for a period;
    a later designation of the same area code replaces it."""

    event_type = "RiskAreaDesignated"
    area_code: str
    area_name: RedactedText
    level: RiskLevel
    valid_from: date
    valid_until: date
    designated_at: datetime


@registry.register
class ScreeningRoundOpened(DomainEvent):
    """A community starts a round of door-to-door screening (滚动排查)."""

    event_type = "ScreeningRoundOpened"
    round_id: str
    community_id: str
    name: RedactedText
    window_days: int = Field(description="How far back travel counts, normally 14 days.")
    opened_at: datetime


@registry.register
class ScreeningRoundClosed(DomainEvent):
    event_type = "ScreeningRoundClosed"
    round_id: str
    community_id: str
    households_visited: int
    households_registered: int
    closed_at: datetime


@registry.register
class HouseholdVisited(DomainEvent):
    """A grid worker visited a household in a screening round (入户排查)."""

    event_type = "HouseholdVisited"
    round_id: str
    visit_id: str
    household_id: str
    grid_id: str
    community_id: str
    staff_id: str = Field(description="Pseudonymous id of the visiting grid worker.")
    visited_at: datetime
    present_person_ids: list[str]
    absent_person_ids: list[str]
    symptomatic_person_ids: list[str]
    returnee_contact_person_ids: list[str]


@registry.register
class TravelHistoryReported(DomainEvent):
    """A visit found a stay in a medium- or high-risk area inside the round's window."""

    event_type = "TravelHistoryReported"
    round_id: str
    visit_id: str
    person_id: str = Field(description=PERSON_ID)
    household_id: str
    community_id: str
    area_code: str
    area_name: RedactedText
    risk_level: RiskLevel
    stayed_from: date
    stayed_until: date
    reported_at: datetime
