"""Test-result events, published by the isolation service (with its lab intake) on
``<prefix>.isolation.events``, keyed by person."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cordon_core.envelope import DomainEvent, EventRegistry

registry = EventRegistry()

TestResult = Literal["negative", "positive", "invalid"]


@registry.register
class TestResultReceived(DomainEvent):
    """A nucleic-acid test result matched to a person."""

    event_type = "TestResultReceived"
    __test__ = False  # not a pytest test class, despite the name
    sample_id: str
    person_id: str = Field(description="Stable pseudonymous person id.")
    collected_at: datetime
    result: TestResult
    lab: str


@registry.register
class TestResultCorrected(DomainEvent):
    """A lab corrected an earlier result; this one supersedes it."""

    event_type = "TestResultCorrected"
    __test__ = False
    sample_id: str
    person_id: str
    collected_at: datetime
    previous_result: TestResult
    result: TestResult
    lab: str
    reason: str
