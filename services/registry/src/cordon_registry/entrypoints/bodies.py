"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cordon_contracts.registry import PlaceKind, ResidenceType, RiskLevel, StaffRole
from cordon_core.inputs import Day, Flag, Moment, Text
from cordon_core.schema_rules import given_unless
from cordon_registry.domain.places import PARENT_KINDS, PLACE_ID
from cordon_registry.domain.screening import DEFAULT_WINDOW_DAYS, LONGEST_WINDOW_DAYS
from cordon_registry.domain.staff import DISTRICT_ROLES, Role

ID = Field(min_length=1, max_length=100)
PLACE_NAME = Field(
    min_length=1,
    max_length=100,
    # At least one visible character: spaces are collapsed, and a blank name is refused.
    pattern=r"[^\s\x1c-\x1f\x85]",
    description="Runs of spaces are collapsed to one.",
)
TOP_KINDS = tuple(kind for kind, parents in PARENT_KINDS.items() if not parents)


class PlaceIn(BaseModel):
    model_config = ConfigDict(json_schema_extra=given_unless("parent_id", "kind", TOP_KINDS))

    place_id: Text = Field(min_length=1, max_length=80, pattern=PLACE_ID.pattern)
    kind: PlaceKind
    name: Text = PLACE_NAME
    parent_id: Text | None = Field(
        default=None, description="None for a sub-district; required for every other kind."
    )


class RenameIn(BaseModel):
    name: Text = PLACE_NAME


class MergeIn(BaseModel):
    into_place_id: Text = ID


class ReasonIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=200)


class StaffAssignmentIn(BaseModel):
    role: StaffRole
    staff_id: Text = ID


class ResidentIn(BaseModel):
    household_id: Text = ID
    residence_type: ResidenceType
    name: Text = Field(min_length=1, max_length=100)
    document_type: Text = "resident_id"
    document_number: Text = Field(min_length=1, max_length=40)
    phone: Text | None = Field(default=None, max_length=30)
    address: Text | None = Field(default=None, max_length=300)
    categories: list[Text] = []
    key_person_reason: Text | None = Field(default=None, max_length=200)


class MoveIn(BaseModel):
    household_id: Text = ID
    residence_type: ResidenceType | None = None


class CategoriesIn(BaseModel):
    categories: list[Text]


class DoseIn(BaseModel):
    dose_number: int = Field(ge=1, le=10)
    vaccinated_on: Day
    vaccine: Text | None = Field(default=None, max_length=100)


class RiskAreaIn(BaseModel):
    area_name: Text = Field(min_length=1, max_length=100)
    level: RiskLevel
    valid_from: Day
    valid_until: Day


class RoundIn(BaseModel):
    # The pattern inside the optional type: on the union, pydantic would check it but leave it
    # out of the JSON schema.
    round_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")] | None = None
    name: Text = Field(min_length=1, max_length=100)
    window_days: int = Field(
        default=DEFAULT_WINDOW_DAYS,
        ge=1,
        le=LONGEST_WINDOW_DAYS,
        description="How far back a stay counts (days).",
    )


class StayIn(BaseModel):
    area_code: Text = ID
    stayed_from: Day
    stayed_until: Day


class VisitDoseIn(BaseModel):
    dose_number: int = Field(ge=1, le=10)
    vaccinated_on: Day
    vaccine: Text | None = None


class PersonSeenIn(BaseModel):
    person_id: Text = ID
    present: Flag
    stays: list[StayIn] = []
    symptoms: list[Text] = []
    returnee_contact: Flag = False
    doses: list[VisitDoseIn] = Field(default=[], description="Vaccination status as reported.")


class VisitIn(BaseModel):
    visit_id: Text = Field(
        min_length=1, max_length=100, description="The app's id: retries are no-ops."
    )
    household_id: Text = ID
    visited_at: Moment
    persons: list[PersonSeenIn]


class TokenIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=given_unless("community_id", "role", tuple(sorted(DISTRICT_ROLES)))
    )

    staff_id: Text = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    role: Role
    community_id: Text | None = Field(
        default=None, description="None for the district's roles; required for the others."
    )


class TokenOut(BaseModel):
    staff_id: str
    role: str
    community_id: str | None
    token: Text = Field(description="Shown once; the registry keeps only its hash.")
