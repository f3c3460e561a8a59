"""Request bodies of the HTTP API (validated at the edge; 422 names the field)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cordon_contracts.isolation import (
    BreachKind,
    EscalatedTo,
    IsolationLevel,
    IsolationPlace,
    MoodCall,
    ReleaseRequirement,
    ResponsibleTeam,
    RiskLevel,
    SupportKind,
)
from cordon_core.inputs import Moment, Number, Text
from cordon_core.schema_rules import exactly_one_of

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Short = Annotated[Text, Field(min_length=1, max_length=200)]


class OrderIn(BaseModel):
    """Place a person under isolation; an active order is upgraded or extended instead."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("days", "planned_end_at"))

    person_id: Id
    level: IsolationLevel
    community_id: Id
    reason: Short
    starts_at: Moment | None = Field(default=None, description="Default: now.")
    days: int | None = Field(default=None, ge=1, le=60)
    planned_end_at: Moment | None = None
    place: IsolationPlace | None = None
    team: ResponsibleTeam | None = None
    unregistered: bool = Field(
        default=False,
        description="True to isolate a person the registry has not told this service of (a"
        " visitor, someone flagged by police data); otherwise such an order is refused.",
    )

    @model_validator(mode="after")
    def _one_end(self) -> OrderIn:
        if (self.days is None) == (self.planned_end_at is None):
            raise ValueError("give exactly one of days and planned_end_at")
        return self


class CheckInIn(BaseModel):
    temperature_c: Number | None = Field(default=None, ge=34.0, le=43.0)
    symptoms: list[Annotated[Text, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10
    )
    mood_call: MoodCall | None = None
    recorded_by: Id
    checked_at: Moment | None = None


class SupportIn(BaseModel):
    request_id: Id
    kind: SupportKind
    urgent: bool = False


class DeliveredIn(BaseModel):
    delivered_by: Id


class BreachIn(BaseModel):
    breach_id: Id | None = None
    kind: BreachKind
    reported_by: Id
    escalated_to: EscalatedTo | None = None
    observed_at: Moment | None = None


class IssuedIn(BaseModel):
    issued_by: Id


class ReasonIn(BaseModel):
    reason: Short


class PolicyIn(BaseModel):
    travel_risk_levels: list[RiskLevel] = ["high"]
    travel_window_days: int = Field(default=14, ge=1, le=60)
    travel_isolation_days: int = Field(default=14, ge=1, le=60)
    positive_isolation_days: int = Field(default=14, ge=1, le=60)
    household_level: IsolationLevel = "home"
    household_days: int = Field(default=14, ge=1, le=60)
    fever_monitoring_days: int = Field(default=7, ge=1, le=60)
    fever_requests_test: bool = True
    check_in_interval_s: int = Field(default=86400, ge=1, le=7 * 86400)
    release: dict[IsolationLevel, ReleaseRequirement] | None = Field(
        default=None, description="Per level; levels left out keep the defaults."
    )


class CampaignIn(BaseModel):
    campaign_id: Id
    community_id: Id
    name: Short
    sampling_point_ids: list[Id] = Field(min_length=1, max_length=500)
    opens_at: Moment
    closes_at: Moment


class SampleIn(BaseModel):
    sample_id: Id
    person_id: Id
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
