"""Events the registry publishes on ``<prefix>.registry.events``, keyed by household.

Only pseudonymous ids and place ids travel here: names, ID numbers and phone numbers stay
inside the registry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cordon_core.envelope import DomainEvent, EventRegistry

registry = EventRegistry()

ResidenceType = Literal["owner", "tenant", "temporary", "returnee"]


class _Residence(DomainEvent):
    person_id: str = Field(description="Stable pseudonymous person id.")
    household_id: str
    building_id: str
    compound_id: str
    grid_id: str
    community_id: str
    sub_district_id: str


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


@registry.register
class ResidentLeft(DomainEvent):
    """A person no longer lives in the district's households (moved away, died, entered
    in error)."""

    event_type = "ResidentLeft"
    person_id: str
    household_id: str
    community_id: str
    reason: str
    left_at: datetime
