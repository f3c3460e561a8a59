"""What a device is told about each scan: allow or deny with reasons and alerts, the
stored answer again for a scan decided before, or why it could not be decided. Pure Python."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cordon_contracts.gate import ScanRejected
from cordon_core.envelope import Envelope, PendingEvent
from cordon_gate.domain.decisions import Scan
from cordon_gate.domain.outcomes import DecidedScan


@dataclass(frozen=True)
class ScanResult:
    scan_id: str
    checkpoint_id: str
    decision: str
    """"allow", "deny", or "rejected" (could not be decided; see ``rejection``)."""
    reasons: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    event_id: uuid.UUID | None = None
    event_type: str | None = None
    policy_version: int | None = None
    status_as_of: datetime | None = None
    duplicate: bool = False
    rejection: tuple[str, str] | None = None
    """(field, reason) when rejected."""


def answer(decided: DecidedScan, outcome: PendingEvent) -> ScanResult:
    decision = decided.decision
    return ScanResult(
        scan_id=decided.scan.scan_id,
        checkpoint_id=decided.scan.checkpoint_id,
        decision="allow" if decision.allowed else "deny",
        reasons=decision.reasons,
        alerts=decision.alerts,
        event_id=outcome.event_id,
        event_type=outcome.payload.event_type,
        policy_version=decided.policy.version,
        status_as_of=decided.person.as_of if decided.person else None,
    )


def rejected(scan: Scan, field: str, reason: str) -> ScanResult:
    return ScanResult(
        scan_id=scan.scan_id,
        checkpoint_id=scan.checkpoint_id,
        decision="rejected",
        rejection=(field, reason),
    )


def stored_answer(scan: Scan, envelope: Envelope) -> ScanResult:
    payload: Any = envelope.payload
    if isinstance(payload, ScanRejected):
        return replace(rejected(scan, payload.field, payload.reason), duplicate=True)
    reasons = tuple(getattr(payload, "reasons", ()))
    return ScanResult(
        scan_id=scan.scan_id,
        checkpoint_id=scan.checkpoint_id,
        decision="deny" if reasons else "allow",
        reasons=reasons,
        alerts=tuple(payload.alerts),
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        policy_version=payload.policy_version,
        status_as_of=payload.status_as_of,
        duplicate=True,
    )
