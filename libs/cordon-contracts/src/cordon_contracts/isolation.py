"""Events the isolation service publishes on ``<prefix>.isolation.events``, keyed by person.

Only pseudonymous ids travel here: person ids, staff ids and place ids or labels. Names,
ID numbers, phone numbers and addresses stay with the registry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cordon_core.envelope import DomainEvent, EventRegistry

registry = EventRegistry()

IsolationLevel = Literal["centralized", "home", "monitoring"]
"""集中隔离 centralized isolation, 居家隔离 home isolation, 居家健康监测 home health monitoring."""
PlaceKind = Literal["home", "facility"]
Document = Literal["notice", "commitment", "responsibility", "door_sign"]
"""三书一牌: 告知书 notice, 承诺书 commitment, 责任书 responsibility letter, 监督牌 door sign."""
SupportKind = Literal["food", "medicine", "rubbish", "parcel", "other"]
"""三定三送: buying and delivering food and medicine, taking out rubbish, receiving parcels."""
MoodCall = Literal["ok", "concern", "no_answer"]
BreachKind = Literal["left_home", "refused_isolation", "received_visitor", "other"]
EscalatedTo = Literal["sub_district", "police"]
RiskLevel = Literal["medium", "high"]


class IsolationPlace(BaseModel):
    """Where the order is served: the home (a household id) or a facility and room."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PlaceKind
    place_id: str = Field(description="Household id, or the facility's id; never an address.")
    room: str | None = Field(default=None, description="Facility room label.")


class ResponsibleTeam(BaseModel):
    """三包一: a community cadre, a police officer and a doctor (pseudonymous staff ids)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cadre_id: str
    police_officer_id: str
    doctor_id: str


class _Order(DomainEvent):
    order_id: str
    person_id: str = Field(description="Stable pseudonymous person id.")


class _Decision(_Order):
    policy_version: int | None = Field(
        default=None, description="The district isolation policy version that decided it."
    )
    source_event_id: str | None = Field(
        default=None, description="The event that caused it (a result, a report, a fever)."
    )


@registry.register
class IsolationStarted(_Decision):
    event_type = "IsolationStarted"
    level: IsolationLevel
    community_id: str
    reason: str
    starts_at: datetime
    planned_end_at: datetime
    place: IsolationPlace | None = None
    team: ResponsibleTeam | None = None


@registry.register
class IsolationLevelChanged(_Decision):
    """A stronger level for the same order (a new reason upgraded it)."""

    event_type = "IsolationLevelChanged"
    from_level: IsolationLevel
    to_level: IsolationLevel
    reason: str
    place: IsolationPlace | None = None


@registry.register
class IsolationExtended(_Decision):
    event_type = "IsolationExtended"
    planned_end_at: datetime
    reason: str
    previous_planned_end_at: datetime | None = None


@registry.register
class IsolationEnded(_Order):
    """Released: the period passed and the rule named here allowed it."""

    event_type = "IsolationEnded"
    ended_at: datetime
    rule: str
    policy_version: int | None = None
    negative_sample_ids: list[str] = Field(default_factory=list)


@registry.register
class IsolationCancelled(_Order):
    """The order was entered in error and never applied."""

    event_type = "IsolationCancelled"
    reason: str


@registry.register
class ResponsibleTeamAssigned(_Order):
    event_type = "ResponsibleTeamAssigned"
    team: ResponsibleTeam
    assigned_at: datetime


@registry.register
class IsolationDocumentIssued(_Order):
    event_type = "IsolationDocumentIssued"
    document: Document
    issued_at: datetime
    issued_by: str = Field(description="Pseudonymous staff id.")


@registry.register
class IsolationDocumentSigned(_Order):
    event_type = "IsolationDocumentSigned"
    document: Document
    signed_at: datetime


@registry.register
class DailyCheckInRecorded(_Order):
    """A daily follow-up: temperature, symptoms and the call about how the person is."""

    event_type = "DailyCheckInRecorded"
    checked_at: datetime
    temperature_c: float | None
    symptoms: list[str] = Field(default_factory=list)
    mood_call: MoodCall | None = None
    recorded_by: str = Field(description="Pseudonymous staff id.")


@registry.register
class CheckInMissed(_Order):
    """No check-in arrived by its deadline (a durable timer fired)."""

    event_type = "CheckInMissed"
    due_at: datetime
    detected_at: datetime
    policy_version: int | None = None


@registry.register
class SupportRequested(_Order):
    event_type = "SupportRequested"
    request_id: str
    kind: SupportKind
    requested_at: datetime
    urgent: bool = False


@registry.register
class SupportDelivered(_Order):
    event_type = "SupportDelivered"
    request_id: str
    kind: SupportKind
    delivered_at: datetime
    delivered_by: str = Field(description="Pseudonymous staff id.")


@registry.register
class IsolationBreached(_Order):
    """The person left, refused, or let someone in; escalated as named."""

    event_type = "IsolationBreached"
    breach_id: str
    kind: BreachKind
    observed_at: datetime
    reported_by: str = Field(description="Pseudonymous staff id.")
    escalated_to: EscalatedTo | None = None


class ReleaseRequirement(BaseModel):
    """Negative tests needed for release: ``negative_tests`` of them, each at least
    ``min_hours_apart`` after the previous, all collected within the last ``within_hours``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    negative_tests: int = Field(ge=0, le=10)
    min_hours_apart: float = Field(ge=0)
    within_hours: float = Field(gt=0)


@registry.register
class IsolationPolicyPublished(DomainEvent):
    """A district's isolation policy, versioned; every decision names the version it used."""

    event_type = "IsolationPolicyPublished"
    district: str
    version: int
    travel_risk_levels: list[RiskLevel]
    travel_window_days: int
    travel_isolation_days: int
    positive_isolation_days: int
    household_level: IsolationLevel
    household_days: int
    fever_monitoring_days: int
    fever_requests_test: bool
    check_in_interval_s: int
    release: dict[IsolationLevel, ReleaseRequirement]
