"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, Field

from cordon_contracts.registry import PlaceKind, ResidenceType, RiskLevel, StaffRole
from cordon_registry.domain.staff import Role

ID = Field(min_length=1, max_length=100)


class PlaceIn(BaseModel):
    place_id: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: PlaceKind
    name: str = Field(min_length=1, max_length=100)
    parent_id: str | None = None


class RenameIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class MergeIn(BaseModel):
    into_place_id: str = ID


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class StaffAssignmentIn(BaseModel):
    role: StaffRole
    staff_id: str = ID


class ResidentIn(BaseModel):
    household_id: str = ID
    residence_type: ResidenceType
    name: str = Field(min_length=1, max_length=100)
    document_type: str = "resident_id"
    document_number: str = Field(min_length=1, max_length=40)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, max_length=300)
    categories: list[str] = []
    key_person_reason: str | None = Field(default=None, max_length=200)


class MoveIn(BaseModel):
    household_id: str = ID
    residence_type: ResidenceType | None = None


class CategoriesIn(BaseModel):
    categories: list[str]


class DoseIn(BaseModel):
    dose_number: int = Field(ge=1, le=10)
    vaccinated_on: date
    vaccine: str | None = Field(default=None, max_length=100)


class RiskAreaIn(BaseModel):
    area_name: str = Field(min_length=1, max_length=100)
    level: RiskLevel
    valid_from: date
    valid_until: date


class RoundIn(BaseModel):
    round_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    name: str = Field(min_length=1, max_length=100)
    window_days: int = 14


class StayIn(BaseModel):
    area_code: str = ID
    stayed_from: date
    stayed_until: date


class VisitDoseIn(BaseModel):
    dose_number: int = Field(ge=1, le=10)
    vaccinated_on: date
    vaccine: str | None = None


class PersonSeenIn(BaseModel):
    person_id: str = ID
    present: bool
    stays: list[StayIn] = []
    symptoms: list[str] = []
    returnee_contact: bool = False
    doses: list[VisitDoseIn] = Field(default=[], description="Vaccination status as reported.")


class VisitIn(BaseModel):
    visit_id: str = Field(
        min_length=1, max_length=100, description="The app's id: retries are no-ops."
    )
    household_id: str = ID
    visited_at: AwareDatetime
    persons: list[PersonSeenIn]


class TokenIn(BaseModel):
    staff_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    role: Role
    community_id: str | None = None


class TokenOut(BaseModel):
    staff_id: str
    role: str
    community_id: str | None
    token: str = Field(description="Shown once; the registry keeps only its hash.")
