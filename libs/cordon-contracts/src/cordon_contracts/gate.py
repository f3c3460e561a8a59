"""Events the gate service publishes on ``<prefix>.gate.events``, keyed by checkpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cordon_core.envelope import DomainEvent, EventRegistry

registry = EventRegistry()

Direction = Literal["in", "out"]
HealthCode = Literal["green", "yellow", "red"]


class _Passage(DomainEvent):
    scan_id: str = Field(description="The device's own id for the scan; unique per checkpoint.")
    checkpoint_id: str
    community_id: str
    person_id: str = Field(description="Pseudonymous person id; never an ID-card number.")
    scanned_at: datetime
    temperature_c: float
    health_code: HealthCode


@registry.register
class PersonEntered(_Passage):
    """A person was checked at a checkpoint and let in."""

    event_type = "PersonEntered"
    schema_version = 1


@registry.register
class PersonExited(_Passage):
    """A person was checked at a checkpoint and let out."""

    event_type = "PersonExited"
    schema_version = 1
