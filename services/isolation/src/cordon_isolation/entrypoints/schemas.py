"""Request bodies of the HTTP API (validated at the edge; 422 names the field)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from cordon_contracts.isolation import (
    BreachKind,
    CancelReason,
    ContactRankKey,
    CorrectedPositiveAction,
    EscalatedTo,
    IsolationLevel,
    IsolationPlace,
    MoodCall,
    OrderReason,
    ReleaseRequirement,
    ResponsibleTeam,
    ReviewOutcome,
    RiskLevel,
    SupportKind,
)
from cordon_core.inputs import Flag, Moment, Number, Text
from cordon_core.schema_rules import exactly_one_of
from cordon_isolation.domain.policy import IsolationPolicy
from cordon_isolation.domain.results import not_pseudonymous

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Short = Annotated[Text, Field(min_length=1, max_length=200)]


def _pseudonymous(value: str) -> str:
    if (why := not_pseudonymous(value)) is not None:
        raise ValueError(why)
    return value


PseudonymousId = Annotated[Id, AfterValidator(_pseudonymous)]
"""A person's or staff member's id: never their ID-card or mobile number."""
NoteText = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=2000,
        description="The office's own words: kept in the service's private notes, never "
        "published (events carry the note's id).",
    ),
]


class OrderIn(BaseModel):
    """Place a person under isolation; an active order is upgraded or extended instead."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("days", "planned_end_at"))

    person_id: PseudonymousId
    level: IsolationLevel
    community_id: Id
    reason_code: OrderReason = Field(
        default="other", description="Published, with its fixed wording (docs/isolation.md)."
    )
    note: NoteText | None = None
    reason: NoteText | None = Field(
        default=None, description="Older clients' free-text reason: kept as the note."
    )
    starts_at: Moment | None = Field(default=None, description="Default: now.")
    days: int | None = Field(default=None, ge=1, le=60)
    planned_end_at: Moment | None = None
    place: IsolationPlace | None = Field(
        default=None, description="The room label is published: ID and phone numbers redacted."
    )
    team: ResponsibleTeam | None = None
    unregistered: Flag = Field(
        default=False,
        description="True to isolate a person the registry has not told this service of (a"
        " visitor, someone flagged by police data); otherwise such an order is refused.",
    )

    @model_validator(mode="after")
    def _one_end(self) -> OrderIn:
        if (self.days is None) == (self.planned_end_at is None):
            raise ValueError("give exactly one of days and planned_end_at")
        return self


ORDER_BATCH_MAX = 1000
"""Rows of one ``POST /v1/orders/batch``: a community's close contacts after a cluster, or a
building's residents, in one go; a district's lists are sent community by community."""


class OrderBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orders: list[OrderIn] = Field(
        min_length=1,
        max_length=ORDER_BATCH_MAX,
        description=f"1 to {ORDER_BATCH_MAX:,} orders as POST /v1/orders takes them, all of"
        " one community, each person once.",
    )


class PlacedOut(BaseModel):
    person_id: str
    order_id: str | None = Field(description="The person's active order, new or not.")
    level: IsolationLevel | None
    events: list[str] = Field(
        description="What was recorded: IsolationStarted, or IsolationLevelChanged and/or "
        "IsolationExtended on an active order; empty when the active order already covers it."
    )


class OrderBatchOut(BaseModel):
    orders: list[PlacedOut] = Field(description="One per row, in the rows' order.")


class CheckInIn(BaseModel):
    temperature_c: Number | None = Field(default=None, ge=34.0, le=43.0)
    symptoms: list[Annotated[Text, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list,
        max_length=10,
        description="Published with the check-in: ID and phone numbers are redacted.",
    )
    mood_call: MoodCall | None = None
    recorded_by: PseudonymousId
    checked_at: Moment | None = None


class SupportIn(BaseModel):
    request_id: Id
    kind: SupportKind
    urgent: Flag = False


class DeliveredIn(BaseModel):
    delivered_by: PseudonymousId


class BreachIn(BaseModel):
    breach_id: Id | None = Field(
        default=None, description="The report's own id: the same id again records nothing."
    )
    gate_event_id: Id | None = Field(
        default=None,
        description="The gate's ExitDenied event this report is about: then it is that "
        "breach (the one recorded automatically), not a new one.",
    )
    kind: BreachKind
    reported_by: PseudonymousId
    escalated_to: EscalatedTo | None = None
    observed_at: Moment | None = None


class IssuedIn(BaseModel):
    issued_by: PseudonymousId


class CancelIn(BaseModel):
    reason_code: CancelReason = "other"
    note: NoteText | None = None
    reason: NoteText | None = Field(
        default=None, description="Older clients' free-text reason: kept as the note."
    )


class SettleIn(BaseModel):
    outcome: ReviewOutcome = Field(description="ended: end the order; kept: it stands.")
    settled_by: PseudonymousId
    note: NoteText | None = None


DEFAULT = IsolationPolicy  # the domain's defaults (version 0); the body repeats none of them


class PolicyIn(BaseModel):
    travel_risk_levels: list[RiskLevel] = list(DEFAULT.travel_risk_levels)
    travel_window_days: int = Field(default=DEFAULT.travel_window_days, ge=1, le=60)
    travel_isolation_days: int = Field(default=DEFAULT.travel_isolation_days, ge=1, le=60)
    positive_isolation_days: int = Field(default=DEFAULT.positive_isolation_days, ge=1, le=60)
    household_level: IsolationLevel = DEFAULT.household_level
    household_days: int = Field(default=DEFAULT.household_days, ge=1, le=60)
    fever_monitoring_days: int = Field(default=DEFAULT.fever_monitoring_days, ge=1, le=60)
    fever_requests_test: Flag = DEFAULT.fever_requests_test
    check_in_interval_s: int = Field(default=DEFAULT.check_in_interval_s, ge=1, le=7 * 86400)
    release: dict[IsolationLevel, ReleaseRequirement] | None = Field(
        default=None, description="Per level; levels left out keep the defaults."
    )
    corrected_positive: CorrectedPositiveAction = Field(
        default=DEFAULT.corrected_positive,
        description="end: orders caused by a positive later corrected end at once; review: "
        "they are listed under GET /v1/reviews for the office to confirm.",
    )
    gate_breach_escalated_to: EscalatedTo | None = Field(
        default=DEFAULT.gate_breach_escalated_to,
        description="Who a breach recorded from the gate's denied exit is escalated to.",
    )
    breach_match_minutes: int = Field(
        default=DEFAULT.breach_match_minutes,
        ge=0,
        le=24 * 60,
        description="A staff report of leaving within this many minutes of a gate denial "
        "(either first) is the same breach.",
    )
    contact_window_minutes: int = Field(default=DEFAULT.contact_window_minutes, ge=1, le=240)
    contact_lookback_days: int = Field(
        default=DEFAULT.contact_lookback_days,
        ge=1,
        le=14,
        description="At most 14: the gate's passages are kept 15 days.",
    )
    contact_ranking: list[ContactRankKey] = Field(
        default=list(DEFAULT.contact_ranking), min_length=1, max_length=4
    )
    contact_building: Flag = DEFAULT.contact_building
    contact_order_level: IsolationLevel = DEFAULT.contact_order_level
    contact_order_days: int = Field(default=DEFAULT.contact_order_days, ge=1, le=60)


class CampaignIn(BaseModel):
    campaign_id: Id
    community_id: Id
    name: Short = Field(description="Published: ID and phone numbers are redacted.")
    sampling_point_ids: list[Id] = Field(min_length=1, max_length=500)
    opens_at: Moment
    closes_at: Moment


class SampleIn(BaseModel):
    sample_id: Id
    person_id: PseudonymousId
    collected_at: Moment
    campaign_id: Id | None = None
    sampling_point_id: Id | None = None


class ResultIn(BaseModel):
    """One result as a lab sends it, in the words the lab's CSV may use too; a row for a
    sample never collected here is refused in the report."""

    sample_id: Id
    # The spellings cordon_isolation.domain.results.RESULTS reads.
    result: Literal["negative", "neg", "阴性", "positive", "pos", "阳性", "invalid", "无效"]
    person_id: Id | None = None
    collected_at: Moment | None = None


class ResultsIn(BaseModel):
    results: list[ResultIn] = Field(min_length=1, max_length=5000)


@dataclass(frozen=True)
class PrivateNote:
    """Staff's own words about a person: stored privately, referred to by ``note_id``."""

    note_id: str
    subject: str
    body: str

    @classmethod
    def of(cls, subject: str, body: str | None) -> PrivateNote | None:
        return None if body is None else cls(f"note-{uuid.uuid4().hex[:16]}", subject, body)
