"""Breaches of an active order: reported by staff, or recorded from the gate's denied exit.
One breach is recorded once: the same ``breach_id`` again is a retry, and a staff report of
leaving close in time to a gate denial (either first) is the same breach seen twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cordon_contracts.gate import ExitDenied
from cordon_contracts.isolation import BreachKind, EscalatedTo, IsolationBreached
from cordon_isolation.domain.errors import NoActiveOrder
from cordon_isolation.domain.orders import BreachOnRecord, PersonIsolation
from cordon_isolation.domain.policy import IsolationPolicy

LEAVING: frozenset[BreachKind] = frozenset({"left_home", "exit_denied_at_gate"})
"""Kinds that describe the person going out: a gate denial and a staff report of leaving
can be the same event."""
GATE_REASONS = frozenset({"isolated", "health_monitoring"})
"""The gate's denial reasons that mean "this person is under an isolation order"."""


@dataclass(frozen=True)
class BreachReport:
    breach_id: str
    kind: BreachKind
    observed_at: datetime
    reported_by: str
    escalated_to: EscalatedTo | None = None


@dataclass(frozen=True)
class BreachDecision:
    events: list[IsolationBreached] = field(default_factory=list)
    same_as: str | None = None
    """The breach already on record that this report is (nothing new recorded)."""


def gate_breach_id(gate_event_id: object) -> str:
    return f"gate:{gate_event_id}"


def _already(
    record: PersonIsolation, breach_id: str, kind: BreachKind, at: datetime, from_gate: bool,
    window: timedelta,
) -> str | None:  # fmt: skip
    if breach_id in record.breach_ids:
        return breach_id
    if kind not in LEAVING or record.active is None:
        return None
    candidates: list[BreachOnRecord] = [
        b for b in record.active.breaches
        if b.kind in LEAVING and b.from_gate != from_gate and abs(b.observed_at - at) <= window
    ]  # fmt: skip
    return candidates[0].breach_id if candidates else None


def report_breach(
    record: PersonIsolation, report: BreachReport, policy: IsolationPolicy
) -> BreachDecision:
    """A staff report: recorded, unless it is a retry or the gate's breach seen by staff."""
    if record.active is None:
        if report.breach_id in record.breach_ids:
            return BreachDecision(same_as=report.breach_id)
        raise NoActiveOrder(record.person_id)
    window = timedelta(minutes=policy.breach_match_minutes)
    r = report
    if same := _already(record, r.breach_id, r.kind, r.observed_at, False, window):
        return BreachDecision(same_as=same)
    event = IsolationBreached(
        order_id=record.active.order_id, person_id=record.person_id, breach_id=r.breach_id,
        kind=r.kind, observed_at=r.observed_at, reported_by=r.reported_by,
        escalated_to=r.escalated_to,
    )  # fmt: skip
    return BreachDecision([event])


def denied_exit_breach(
    record: PersonIsolation, denial: ExitDenied, gate_event_id: str, policy: IsolationPolicy
) -> BreachDecision:
    """The gate refused an exit because the person is under an order: a breach, escalated
    as the policy says, once per scan (keyed by the gate's event id)."""
    if record.active is None or not GATE_REASONS & set(denial.reasons):
        return BreachDecision()  # not isolated here (any more): nothing to record
    breach_id = gate_breach_id(gate_event_id)
    window = timedelta(minutes=policy.breach_match_minutes)
    kind: BreachKind = "exit_denied_at_gate"
    if same := _already(record, breach_id, kind, denial.scanned_at, True, window):
        return BreachDecision(same_as=same)
    event = IsolationBreached(
        order_id=record.active.order_id, person_id=record.person_id, breach_id=breach_id,
        kind=kind, observed_at=denial.scanned_at,
        reported_by=f"gate:{denial.checkpoint_id}", escalated_to=policy.gate_breach_escalated_to,
        gate_event_id=gate_event_id, checkpoint_id=denial.checkpoint_id,
        policy_version=policy.version,
    )  # fmt: skip
    return BreachDecision([event])
