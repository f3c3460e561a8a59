"""The release rule (解除隔离): the period has passed and the required negative tests exist."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cordon_contracts.lab import TestResult
from cordon_isolation.domain.policy import ReleaseRule


@dataclass(frozen=True)
class RecordedResult:
    """A person's test result as it stands (after any correction)."""

    sample_id: str
    collected_at: datetime
    result: TestResult


@dataclass(frozen=True)
class Unmet:
    """One requirement of release that is not met, in words an operator can act on."""

    requirement: str
    detail: str


@dataclass(frozen=True)
class ReleaseAssessment:
    unmet: tuple[Unmet, ...]
    negative_sample_ids: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.unmet


def assess_release(
    rule: ReleaseRule, planned_end_at: datetime, now: datetime, results: Iterable[RecordedResult]
) -> ReleaseAssessment:
    """Every unmet requirement at once, and the negative samples that satisfy the rule."""
    unmet: list[Unmet] = []
    if now < planned_end_at:
        unmet.append(Unmet("period_not_over", f"the period ends at {planned_end_at.isoformat()}"))
    window_start = now - timedelta(hours=rule.within_hours)
    recent = sorted(
        (r for r in results if window_start <= r.collected_at <= now), key=lambda r: r.collected_at
    )
    if positives := [r.sample_id for r in recent if r.result == "positive"]:
        unmet.append(
            Unmet(
                "positive_result",
                f"positive result(s) within the last {rule.within_hours:g} h: {positives}",
            )
        )
    chain = negative_chain(rule, [r for r in recent if r.result == "negative"])
    if len(chain) < rule.negative_tests:
        unmet.append(
            Unmet(
                "negative_tests",
                f"needs {rule.negative_tests} negative test(s) >= {rule.min_hours_apart:g} h"
                f" apart within the last {rule.within_hours:g} h; found {len(chain)}",
            )
        )
    return ReleaseAssessment(tuple(unmet), tuple(r.sample_id for r in chain))


def negative_chain(rule: ReleaseRule, negatives: list[RecordedResult]) -> list[RecordedResult]:
    """The longest run of negatives (oldest first) each ``min_hours_apart`` after the last;
    taking the earliest possible each time is what makes the run longest."""
    gap = timedelta(hours=rule.min_hours_apart)
    chain: list[RecordedResult] = []
    for result in negatives:
        if not chain or result.collected_at - chain[-1].collected_at >= gap:
            chain.append(result)
    return chain[: max(rule.negative_tests, 0)] if rule.negative_tests else []
