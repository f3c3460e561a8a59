"""A district's isolation policy: what each process manager decides, and what release
needs. Configuration, versioned; version 0 is the default until the district publishes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cordon_contracts.isolation import (
    DEFAULT_CONTACT_RANKING,
    ContactRankKey,
    CorrectedPositiveAction,
    EscalatedTo,
    IsolationLevel,
    IsolationPolicyPublished,
    RiskLevel,
)


@dataclass(frozen=True)
class ReleaseRule:
    """``negative_tests`` negative results, each collected at least ``min_hours_apart``
    after the previous one, all within the last ``within_hours``."""

    negative_tests: int = 2
    min_hours_apart: float = 24.0
    within_hours: float = 72.0

    def describe(self) -> str:
        if self.negative_tests == 0:
            return "period ended; no test required"
        return (
            f"period ended and {self.negative_tests} negative test(s)"
            f" >= {self.min_hours_apart:g} h apart within the last {self.within_hours:g} h"
        )


def _default_release() -> dict[IsolationLevel, ReleaseRule]:
    return {
        "centralized": ReleaseRule(),
        "home": ReleaseRule(),
        "monitoring": ReleaseRule(negative_tests=1, min_hours_apart=0, within_hours=48),
    }


@dataclass(frozen=True)
class IsolationPolicy:
    district: str
    version: int = 0
    travel_risk_levels: tuple[RiskLevel, ...] = ("high",)
    travel_window_days: int = 14
    travel_isolation_days: int = 14
    positive_isolation_days: int = 14
    household_level: IsolationLevel = "home"
    household_days: int = 14
    fever_monitoring_days: int = 7
    fever_requests_test: bool = True
    check_in_interval_s: int = 24 * 3600
    release: dict[IsolationLevel, ReleaseRule] = field(default_factory=_default_release)
    corrected_positive: CorrectedPositiveAction = "review"
    gate_breach_escalated_to: EscalatedTo | None = "sub_district"
    breach_match_minutes: int = 30
    # Close contacts from gate traffic (docs/isolation.md): two passages through one
    # checkpoint within the window, in the positive person's look-back days.
    contact_window_minutes: int = 15
    contact_lookback_days: int = 4
    contact_ranking: tuple[ContactRankKey, ...] = DEFAULT_CONTACT_RANKING
    contact_building: bool = True
    contact_order_level: IsolationLevel = "monitoring"
    contact_order_days: int = 7

    def release_rule(self, level: IsolationLevel) -> ReleaseRule:
        return self.release.get(level, ReleaseRule())

    def to_event(self) -> IsolationPolicyPublished:
        data: dict[str, Any] = asdict(self)
        data["travel_risk_levels"] = list(self.travel_risk_levels)
        data["contact_ranking"] = list(self.contact_ranking)
        return IsolationPolicyPublished.model_validate(data)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> IsolationPolicy:
        """From an ``IsolationPolicyPublished`` payload (or its stored JSON)."""
        fields = dict(data)
        fields["travel_risk_levels"] = tuple(fields["travel_risk_levels"])
        if "contact_ranking" in fields:  # policies published before contacts had none
            fields["contact_ranking"] = tuple(fields["contact_ranking"])
        fields["release"] = {
            level: ReleaseRule(**rule) for level, rule in fields["release"].items()
        }
        return cls(**fields)
