"""Testing events, published by the isolation service (with its lab intake) on
``<prefix>.isolation.events``: campaigns by campaign id, everything about a person or a
sample keyed by person."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cordon_events.envelope import DomainEvent, EventRegistry
from cordon_events.privacy import RedactedText

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
    batch_id: str | None = Field(default=None, description="The lab upload it came in.")


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
    reason: RedactedText
    batch_id: str | None = None


@registry.register
class TestCampaignOpened(DomainEvent):
    """Mass testing (全员核酸) in a community, at the sampling points named."""

    event_type = "TestCampaignOpened"
    __test__ = False
    campaign_id: str
    community_id: str
    name: RedactedText
    sampling_point_ids: list[str]
    opens_at: datetime
    closes_at: datetime


@registry.register
class SampleCollected(DomainEvent):
    """A swab taken from a person; the lab's result names the sample id."""

    event_type = "SampleCollected"
    sample_id: str
    person_id: str = Field(description="Stable pseudonymous person id.")
    collected_at: datetime
    campaign_id: str | None = None
    sampling_point_id: str | None = None


@registry.register
class TestRequested(DomainEvent):
    """A person should be tested (e.g. after a fever at a gate)."""

    event_type = "TestRequested"
    __test__ = False
    request_id: str
    person_id: str = Field(description="Stable pseudonymous person id.")
    community_id: str
    reason: RedactedText
    requested_at: datetime
    policy_version: int | None = None
    source_event_id: str | None = None
