"""Request bodies of the HTTP API (validated at the edge; 422 names the field)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, model_validator

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

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class OrderIn(BaseModel):
    """Place a person under isolation; an active order is upgraded or extended instead."""

    person_id: Id
    level: IsolationLevel
    community_id: Id
    reason: Short
    starts_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    days: int | None = Field(default=None, ge=1, le=60)
    planned_end_at: AwareDatetime | None = None
    place: IsolationPlace | None = None
    team: ResponsibleTeam | None = None

    @model_validator(mode="after")
    def _one_end(self) -> OrderIn:
        if (self.days is None) == (self.planned_end_at is None):
            raise ValueError("give exactly one of days and planned_end_at")
        return self


class CheckInIn(BaseModel):
    temperature_c: float | None = Field(default=None, ge=34.0, le=43.0)
    symptoms: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10
    )
    mood_call: MoodCall | None = None
    recorded_by: Id
    checked_at: AwareDatetime | None = None


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
    observed_at: AwareDatetime | None = None


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
    check_in_interval_s: int = Field(default=86400, ge=1)
    release: dict[IsolationLevel, ReleaseRequirement] | None = Field(
        default=None, description="Per level; levels left out keep the defaults."
    )


class CampaignIn(BaseModel):
    campaign_id: Id
    community_id: Id
    name: Short
    sampling_point_ids: list[Id] = Field(min_length=1, max_length=500)
    opens_at: AwareDatetime
    closes_at: AwareDatetime


class SampleIn(BaseModel):
    sample_id: Id
    person_id: Id
    collected_at: AwareDatetime
    campaign_id: Id | None = None
    sampling_point_id: Id | None = None


class ResultIn(BaseModel):
    """One result as a lab sends it; checked like a CSV row (see the report)."""

    sample_id: str
    result: str
    person_id: str | None = None
    collected_at: str | None = None


class ResultsIn(BaseModel):
    results: list[ResultIn] = Field(min_length=1, max_length=5000)
