"""A checkpoint scan and the events it becomes. Plain Python: no I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cordon_contracts.gate import Direction, HealthCode, PersonEntered, PersonExited
from cordon_core.envelope import PendingEvent

SCAN_NAMESPACE = uuid.UUID("6f1d3c52-3f7b-4c1e-9d55-0c1f4f6f2a10")


@dataclass(frozen=True)
class Scan:
    scan_id: str
    checkpoint_id: str
    community_id: str
    person_id: str
    direction: Direction
    scanned_at: datetime
    temperature_c: float
    health_code: HealthCode

    @property
    def stream_id(self) -> str:
        return f"scan-{self.checkpoint_id}-{self.scan_id}"

    @property
    def event_id(self) -> uuid.UUID:
        """Derived from the device's scan id, so a retried scan re-appends the same event."""
        return uuid.uuid5(SCAN_NAMESPACE, f"{self.checkpoint_id}/{self.scan_id}")


def passage(scan: Scan) -> PendingEvent:
    """The event recording a scan that was let through."""
    kind: type[PersonEntered] | type[PersonExited] = (
        PersonEntered if scan.direction == "in" else PersonExited
    )
    payload = kind(
        scan_id=scan.scan_id,
        checkpoint_id=scan.checkpoint_id,
        community_id=scan.community_id,
        person_id=scan.person_id,
        scanned_at=scan.scanned_at,
        temperature_c=scan.temperature_c,
        health_code=scan.health_code,
    )
    return PendingEvent(payload=payload, event_id=scan.event_id, occurred_at=scan.scanned_at)
