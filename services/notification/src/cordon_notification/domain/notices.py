"""Who is told what: the notices an event calls for, before recipients are known.

A notice names its audiences (the person's grid worker and building head, the resident,
the community office, the sub-district) and the template that tells them; recipients
are resolved later from the registry's assignments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cordon_contracts import gate, isolation, lab
from cordon_core.envelope import DomainEvent

Audience = Literal["local_staff", "resident", "office", "sub_district"]

GATE_ALERTS: dict[str, tuple[str, bool]] = {
    "red_code": ("red_code_at_gate", True),
    "yellow_code": ("yellow_code_at_gate", False),
    "isolated_exit_attempt": ("isolated_exit_attempt", True),
}
"""Gate alerts that tell the local staff: template and urgency. A fever is told from
FeverDetected, so the denial that carries the same fever is not told twice."""


@dataclass(frozen=True)
class Notice:
    template: str
    audiences: tuple[Audience, ...]
    urgent: bool
    person_id: str | None
    community_id: str | None
    facts: dict[str, Any] = field(default_factory=dict)
    """What the templates may show: ids, times, readings; never a name or a phone."""


def notices_for(event: DomainEvent) -> list[Notice]:
    """The notices ``event`` calls for (none for events nobody needs to hear about)."""
    if isinstance(event, gate.FeverDetected):
        return [_fever(event)]
    if isinstance(event, gate.EntryDenied | gate.ExitDenied):
        return _gate_alerts(event)
    if isinstance(event, lab.TestResultReceived | lab.TestResultCorrected):
        facts: dict[str, Any] = {"result": event.result, "collected_at": event.collected_at}
        return [Notice("test_result", ("resident",), False, event.person_id, None, facts)]
    return _isolation(event)


def _fever(event: gate.FeverDetected) -> Notice:
    facts = {
        "checkpoint_id": event.checkpoint_id,
        "temperature_c": event.temperature_c,
        "threshold_c": event.threshold_c,
        "scanned_at": event.scanned_at,
        "subject_kind": event.subject_kind,
    }
    return Notice(
        "fever_detected", ("local_staff",), True, event.person_id, event.community_id, facts
    )


def _gate_alerts(event: gate.EntryDenied | gate.ExitDenied) -> list[Notice]:
    notices = []
    for alert in event.alerts:
        if alert not in GATE_ALERTS:
            continue
        template, urgent = GATE_ALERTS[alert]
        facts: dict[str, Any] = {
            "checkpoint_id": event.checkpoint_id,
            "direction": event.direction,
            "scanned_at": event.scanned_at,
            "reasons": list(event.reasons),
        }
        notices.append(
            Notice(template, ("local_staff",), urgent, event.person_id, event.community_id, facts)
        )
    return notices


def _isolation(event: DomainEvent) -> list[Notice]:
    facts: dict[str, Any]
    if isinstance(event, isolation.IsolationStarted):
        facts = {
            "level": event.level,
            "starts_at": event.starts_at,
            "ends_at": event.planned_end_at,
        }
        return [
            Notice(
                "isolation_notice", ("resident",), False, event.person_id, event.community_id, facts
            )
        ]
    if isinstance(event, isolation.IsolationExtended):
        facts = {"ends_at": event.planned_end_at, "reason": event.reason}
        return [Notice("isolation_extended", ("resident",), False, event.person_id, None, facts)]
    if isinstance(event, isolation.IsolationEnded):
        facts = {"ended_at": event.ended_at}
        return [Notice("isolation_released", ("resident",), False, event.person_id, None, facts)]
    if isinstance(event, isolation.CheckInMissed):
        facts = {"due_at": event.due_at, "order_id": event.order_id}
        return [Notice("check_in_missed", ("local_staff",), False, event.person_id, None, facts)]
    if isinstance(event, isolation.SupportRequested):
        facts = {
            "kind": event.kind,
            "requested_at": event.requested_at,
            "order_id": event.order_id,
            "urgent": event.urgent,
        }
        return [
            Notice(
                "support_requested", ("local_staff",), event.urgent, event.person_id, None, facts
            )
        ]
    if isinstance(event, isolation.IsolationBreached):
        audiences: tuple[Audience, ...] = ("local_staff", "office")
        if event.escalated_to == "sub_district":
            audiences = (*audiences, "sub_district")
        facts = {
            "kind": event.kind,
            "observed_at": event.observed_at,
            "order_id": event.order_id,
            "escalated_to": event.escalated_to,
        }
        return [Notice("isolation_breached", audiences, True, event.person_id, None, facts)]
    return []


NOTIFYING_EVENTS: tuple[type[DomainEvent], ...] = (
    gate.FeverDetected,
    gate.EntryDenied,
    gate.ExitDenied,
    lab.TestResultReceived,
    lab.TestResultCorrected,
    isolation.IsolationStarted,
    isolation.IsolationExtended,
    isolation.IsolationEnded,
    isolation.CheckInMissed,
    isolation.SupportRequested,
    isolation.IsolationBreached,
)
