"""Events the isolation service publishes on ``<prefix>.isolation.events``, keyed by person.

Only pseudonymous ids travel here: person ids, staff ids and place ids or labels. Names,
ID numbers, phone numbers and addresses stay with the registry. What staff write in their
own words (an order's note, a cancellation's explanation) stays in the service's private
notes: an event carries a reason code from the lists below and at most the note's id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cordon_events.envelope import DomainEvent, EventRegistry
from cordon_events.privacy import RedactedText

registry = EventRegistry()

IsolationLevel = Literal["centralized", "home", "monitoring"]
"""集中隔离 centralized isolation, 居家隔离 home isolation, 居家健康监测 home health monitoring."""
PlaceKind = Literal["home", "facility"]
Document = Literal["notice", "commitment", "responsibility", "door_sign"]
"""三书一牌: 告知书 notice, 承诺书 commitment, 责任书 responsibility letter, 监督牌 door sign."""
SupportKind = Literal["food", "medicine", "rubbish", "parcel", "other"]
"""三定三送: buying and delivering food and medicine, taking out rubbish, receiving parcels."""
MoodCall = Literal["ok", "concern", "no_answer"]
BreachKind = Literal[
    "left_home", "refused_isolation", "received_visitor", "other", "exit_denied_at_gate"
]  # fmt: skip
"""``exit_denied_at_gate``: recorded by the service itself from the gate's ``ExitDenied``."""
EscalatedTo = Literal["sub_district", "police"]
RiskLevel = Literal["medium", "high"]
OrderReason = Literal[
    "close_contact", "secondary_contact", "travel_risk_area", "positive_test",
    "household_of_positive", "fever_at_gate", "arrival_from_outside", "symptoms", "other",
]  # fmt: skip
"""Why an order was placed, upgraded or extended: the public code; details stay in a note."""
CancelReason = Literal["entered_in_error", "wrong_person", "duplicate_order", "other"]
EndReason = Literal["released", "positive_corrected"]
"""``released``: the release rule allowed it; ``positive_corrected``: the positive result
that caused the order was corrected (automatically by policy, or confirmed by the office)."""
ReviewReason = Literal["positive_corrected"]
ReviewOutcome = Literal["ended", "kept"]
CorrectedPositiveAction = Literal["end", "review"]
ContactRankKey = Literal["household", "building", "shared_passages", "closest_gap"]
"""What ranks close-contact candidates, in the policy's order: a household member, someone
of the same building, more passages shared with the positive person, the closest gap."""
DEFAULT_CONTACT_RANKING: tuple[ContactRankKey, ...] = (
    "household",
    "shared_passages",
    "closest_gap",
    "building",
)
ContactEvidence = Literal["passage", "household", "building", "contact_of_contact"]
"""Why someone is a candidate: a passage through the same checkpoint within the window, the
same household, the same building, or (second ring) a passage or home shared with a
confirmed contact."""

ORDER_REASONS: dict[OrderReason, str] = {
    "close_contact": "close contact (密接)",
    "secondary_contact": "contact of a close contact (次密接)",
    "travel_risk_area": "stayed in a medium- or high-risk area",
    "positive_test": "positive nucleic-acid test",
    "household_of_positive": "household member of a positive case",
    "fever_at_gate": "fever at a checkpoint",
    "arrival_from_outside": "arrived from outside the city",
    "symptoms": "symptoms at follow-up",
    "other": "other (see the office's note)",
}
"""The public wording of each order reason: what ``reason`` says for a staff order."""
CANCEL_REASONS: dict[CancelReason, str] = {
    "entered_in_error": "entered in error",
    "wrong_person": "wrong person",
    "duplicate_order": "duplicate order",
    "other": "other (see the office's note)",
}


class IsolationPlace(BaseModel):
    """Where the order is served: the home (a household id) or a facility and room."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PlaceKind
    place_id: str = Field(description="Household id, or the facility's id; never an address.")
    room: RedactedText | None = Field(default=None, description="Facility room label.")


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
    reason_code: OrderReason | None = Field(
        default=None, description="Why, from a fixed list (absent on events before 2026-12)."
    )
    note_id: str | None = Field(
        default=None, description="The office's private note about it, if staff wrote one."
    )


@registry.register
class IsolationStarted(_Decision):
    event_type = "IsolationStarted"
    level: IsolationLevel
    community_id: str
    reason: RedactedText
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
    reason: RedactedText
    place: IsolationPlace | None = None


@registry.register
class IsolationExtended(_Decision):
    event_type = "IsolationExtended"
    planned_end_at: datetime
    reason: RedactedText
    previous_planned_end_at: datetime | None = None


@registry.register
class IsolationEnded(_Order):
    """Released: the period passed and the rule named here allowed it."""

    event_type = "IsolationEnded"
    ended_at: datetime
    rule: RedactedText
    policy_version: int | None = None
    negative_sample_ids: list[str] = Field(default_factory=list)
    reason_code: EndReason | None = Field(default=None, description="Absent: released.")
    source_event_id: str | None = Field(
        default=None, description="For positive_corrected: the correction's event id."
    )
    review_id: str | None = Field(
        default=None, description="The office review that confirmed it, if one did."
    )


@registry.register
class IsolationCancelled(_Order):
    """The order was entered in error and never applied."""

    event_type = "IsolationCancelled"
    reason: RedactedText = Field(description="The public wording of reason_code.")
    reason_code: CancelReason | None = None
    note_id: str | None = None


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
    symptoms: list[RedactedText] = Field(default_factory=list)
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
    reported_by: str = Field(
        description="Pseudonymous staff id, or gate:<checkpoint id> when recorded from a scan."
    )
    escalated_to: EscalatedTo | None = None
    gate_event_id: str | None = Field(
        default=None, description="The gate's ExitDenied event it was recorded from."
    )
    checkpoint_id: str | None = None
    policy_version: int | None = Field(
        default=None, description="The policy that set the escalation of an automatic breach."
    )


@registry.register
class IsolationReviewRequested(_Order):
    """The office must confirm whether the order still stands (e.g. the positive result
    that caused it was corrected, and the policy asks for review)."""

    event_type = "IsolationReviewRequested"
    review_id: str
    reason_code: ReviewReason
    sample_id: str | None = None
    source_event_id: str = Field(description="The event that raised the question.")
    requested_at: datetime
    policy_version: int | None = None


@registry.register
class IsolationReviewSettled(_Order):
    """The office answered a review: the order ended, or is kept as it is."""

    event_type = "IsolationReviewSettled"
    review_id: str
    outcome: ReviewOutcome
    settled_at: datetime
    settled_by: str = Field(description="Pseudonymous staff id.")
    note_id: str | None = None


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
    corrected_positive: CorrectedPositiveAction = Field(
        default="review",
        description="Orders caused by a positive later corrected: end them, or list them "
        "for the office to confirm.",
    )
    gate_breach_escalated_to: EscalatedTo | None = Field(
        default="sub_district", description="Escalation of a breach recorded from the gate."
    )
    breach_match_minutes: int = Field(
        default=30,
        description="A staff report of leaving and a gate denial this close are one breach.",
    )
    contact_window_minutes: int = Field(
        default=15,
        description="Two passages through one checkpoint this close make a contact candidate.",
    )
    contact_lookback_days: int = Field(
        default=4, description="Days of the positive person's passages looked at."
    )
    contact_ranking: list[ContactRankKey] = Field(
        default_factory=lambda: list(DEFAULT_CONTACT_RANKING),
        description="How candidates are ordered, most important first.",
    )
    contact_building: bool = Field(
        default=True, description="People of the same building are candidates."
    )
    contact_order_level: IsolationLevel = Field(
        default="monitoring", description="The order a confirmed contact is placed under."
    )
    contact_order_days: int = Field(default=7, description="How long that order runs.")


class _ContactDecision(DomainEvent):
    person_id: str = Field(description="The positive (index) person.")
    candidate_id: str = Field(
        description="The candidate: a person id, or a visitor's pseudonymous id."
    )
    evidence: list[ContactEvidence]
    shared_passages: int = Field(description="Passages shared within the window.")
    closest_gap_s: float | None = Field(
        default=None, description="The smallest gap between two shared passages, seconds."
    )
    via: str | None = Field(
        default=None, description="Second ring: the confirmed contact it was found through."
    )
    decided_by: str = Field(description="Pseudonymous staff id.")
    decided_at: datetime
    policy_version: int


@registry.register
class ContactCandidateConfirmed(_ContactDecision):
    """The office confirmed a close-contact candidate (密接); the policy's order follows
    (``IsolationStarted`` on the contact's own stream, caused by this event)."""

    event_type = "ContactCandidateConfirmed"
    order_id: str = Field(description="The order the confirmation places the contact under.")
    order_level: IsolationLevel


@registry.register
class ContactCandidateDismissed(_ContactDecision):
    """The office dismissed a close-contact candidate: no order."""

    event_type = "ContactCandidateDismissed"
