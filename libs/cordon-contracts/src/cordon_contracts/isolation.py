"""Events the isolation service publishes on ``<prefix>.isolation.events``, keyed by person."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cordon_core.envelope import DomainEvent, EventRegistry

registry = EventRegistry()

IsolationLevel = Literal["centralized", "home", "monitoring"]
"""集中隔离 centralized isolation, 居家隔离 home isolation, 居家健康监测 home health monitoring."""


class _Order(DomainEvent):
    order_id: str
    person_id: str = Field(description="Stable pseudonymous person id.")


@registry.register
class IsolationStarted(_Order):
    event_type = "IsolationStarted"
    level: IsolationLevel
    community_id: str
    reason: str
    starts_at: datetime
    planned_end_at: datetime


@registry.register
class IsolationLevelChanged(_Order):
    event_type = "IsolationLevelChanged"
    from_level: IsolationLevel
    to_level: IsolationLevel
    reason: str


@registry.register
class IsolationExtended(_Order):
    event_type = "IsolationExtended"
    planned_end_at: datetime
    reason: str


@registry.register
class IsolationEnded(_Order):
    """Released: the period passed and the rule named here allowed it."""

    event_type = "IsolationEnded"
    ended_at: datetime
    rule: str


@registry.register
class IsolationCancelled(_Order):
    """The order was entered in error and never applied."""

    event_type = "IsolationCancelled"
    reason: str
