"""What the gate knows when it decides: checkpoints, community policies, passes, people."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from cordon_contracts.gate import PassIssued, PassKind

IsolationLevel = Literal["centralized", "home", "monitoring"]
YellowCodeRule = Literal["deny", "alert"]
RiskRule = Literal["deny", "alert", "allow"]
VisitorsRule = Literal["allow", "refuse"]


@dataclass(frozen=True)
class GatePolicy:
    """A community's gate rules (versioned configuration). Version 0 is the default used
    until the community publishes its own."""

    community_id: str
    version: int = 0
    fever_threshold_c: float = 37.3
    yellow_code: YellowCodeRule = "deny"
    itinerary_risk: RiskRule = "alert"
    health_monitoring_exit: RiskRule = "alert"
    visitors: VisitorsRule = "allow"
    negative_test_hours: int = 48
    daily_exit_quotas: dict[str, int] = field(default_factory=dict)
    """Exits a day per person category (see ``cordon_contracts.gate.PersonCategory``)."""


DEFAULT_POLICY = GatePolicy(community_id="")
"""The defaults of every rule: what a community gets until it publishes its own, and what
the office's policy form starts from."""


@dataclass(frozen=True)
class Checkpoint:
    checkpoint_id: str
    community_id: str
    compound_id: str
    name: str
    is_open: bool
    requires_negative_test: bool
    negative_test_hours: int


@dataclass(frozen=True)
class PassState:
    pass_id: str
    kind: PassKind
    holder_person_id: str
    community_id: str
    valid_from: datetime
    valid_until: datetime
    daily_exit_quota: int | None
    revoked: bool
    version: int

    @classmethod
    def issued(cls, event: PassIssued) -> PassState:
        """A pass as ``PassIssued`` leaves it: in force, version 1."""
        return cls(
            pass_id=event.pass_id, kind=event.kind, holder_person_id=event.holder_person_id,
            community_id=event.community_id, valid_from=event.valid_from,
            valid_until=event.valid_until, daily_exit_quota=event.daily_exit_quota,
            revoked=False, version=1,
        )  # fmt: skip


@dataclass(frozen=True)
class PersonStatus:
    """The gate's own view of a person, built from registry, isolation and lab events."""

    person_id: str
    community_id: str | None
    isolation_level: IsolationLevel | None
    last_negative_test_at: datetime | None
    as_of: datetime
    residence_type: str | None = None
