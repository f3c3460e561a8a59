"""The events a decided scan becomes. Their ids derive from the device's scan id, so a
retried scan re-appends the very same events (a no-op)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cordon_contracts.gate import (
    EntryDenied,
    ExitDenied,
    FeverDetected,
    PassUsed,
    PersonEntered,
    PersonExited,
    VisitorRegistered,
)
from cordon_core.envelope import DomainEvent, PendingEvent, local_day
from cordon_gate.domain.decisions import Decision, Scan
from cordon_gate.domain.state import Checkpoint, GatePolicy, PassState, PersonStatus

SCAN_NAMESPACE = uuid.UUID("6f1d3c52-3f7b-4c1e-9d55-0c1f4f6f2a10")
OUTCOME_TYPES = ("PersonEntered", "PersonExited", "EntryDenied", "ExitDenied")


def scan_stream(checkpoint_id: str, scan_id: str) -> str:
    return f"scan:{checkpoint_id}:{scan_id}"


def pass_stream(pass_id: str) -> str:
    return f"pass:{pass_id}"


def scan_event_id(checkpoint_id: str, scan_id: str, part: str) -> uuid.UUID:
    return uuid.uuid5(SCAN_NAMESPACE, f"{checkpoint_id}/{scan_id}/{part}")


@dataclass(frozen=True)
class DecidedScan:
    scan: Scan
    decision: Decision
    checkpoint: Checkpoint
    policy: GatePolicy
    person_id: str
    """The pseudonymous person the scan is about (pass holder for a pass scan)."""
    person: PersonStatus | None
    pass_: PassState | None

    def outcome(self) -> DomainEvent:
        s, c, d = self.scan, self.checkpoint, self.decision
        fields = dict(
            scan_id=s.scan_id,
            checkpoint_id=s.checkpoint_id,
            community_id=c.community_id,
            compound_id=c.compound_id,
            direction=s.direction,
            scanned_at=s.scanned_at,
            subject_kind=s.subject_kind,
            person_id=self.person_id,
            pass_id=self.pass_.pass_id if self.pass_ else None,
            temperature_c=s.temperature_c,
            health_code=s.health_code,
            itinerary_risk=s.itinerary_risk,
            vehicle_plate=s.vehicle_plate,
            alerts=list(d.alerts),
            policy_version=self.policy.version,
            status_as_of=self.person.as_of if self.person else None,
        )
        if d.allowed:
            return (PersonEntered if s.direction == "in" else PersonExited)(**fields)
        return (EntryDenied if s.direction == "in" else ExitDenied)(
            **fields, reasons=list(d.reasons)
        )

    def scan_events(self) -> list[PendingEvent]:
        s, c = self.scan, self.checkpoint
        events = [self._pending("outcome", self.outcome())]
        if self.decision.fever:
            events.append(
                self._pending(
                    "fever",
                    FeverDetected(
                        scan_id=s.scan_id,
                        checkpoint_id=s.checkpoint_id,
                        community_id=c.community_id,
                        compound_id=c.compound_id,
                        person_id=self.person_id,
                        subject_kind=s.subject_kind,
                        temperature_c=s.temperature_c,
                        threshold_c=self.policy.fever_threshold_c,
                        scanned_at=s.scanned_at,
                    ),
                )
            )
        if s.subject_kind == "visitor" and s.direction == "in" and self.decision.allowed:
            events.append(
                self._pending(
                    "visitor",
                    VisitorRegistered(
                        visitor_id=self.person_id,
                        scan_id=s.scan_id,
                        checkpoint_id=s.checkpoint_id,
                        community_id=c.community_id,
                        reason=(s.visit_purpose or "other").replace("_", " "),
                        purpose=s.visit_purpose or "other",
                        registered_at=s.scanned_at,
                    ),
                )
            )
        return events

    def pass_used(self, timezone: ZoneInfo) -> PendingEvent | None:
        if not self.decision.uses_pass or self.pass_ is None:
            return None
        s = self.scan
        return self._pending(
            "pass-used",
            PassUsed(
                pass_id=self.pass_.pass_id,
                scan_id=s.scan_id,
                checkpoint_id=s.checkpoint_id,
                direction=s.direction,
                local_day=local_day(s.scanned_at, timezone).isoformat(),
                used_at=s.scanned_at,
            ),
        )

    def _pending(self, part: str, payload: DomainEvent) -> PendingEvent:
        return PendingEvent(
            payload,
            event_id=scan_event_id(self.scan.checkpoint_id, self.scan.scan_id, part),
            occurred_at=self.scan.scanned_at,
        )
