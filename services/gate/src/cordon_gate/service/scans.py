"""Use case: record a scan from a checkpoint device, idempotently by its scan id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cordon_core.envelope import EventMetadata
from cordon_core.store import PostgresEventStore
from cordon_gate.domain.scans import Scan, passage


@dataclass(frozen=True)
class ScanRecorded:
    event_id: str
    event_type: str
    decision: str
    global_position: int | None


async def record_scan(
    store: PostgresEventStore,
    scan: Scan,
    *,
    district: str,
    actor: str,
    correlation_id: uuid.UUID | None = None,
) -> ScanRecorded:
    metadata = EventMetadata.new(
        actor=actor, district=district, community=scan.community_id, correlation_id=correlation_id
    )
    [envelope] = await store.append(
        scan.stream_id,
        [passage(scan)],
        expected_version=0,
        metadata=metadata,
        partition_key=scan.checkpoint_id,
    )
    return ScanRecorded(
        event_id=str(envelope.event_id),
        event_type=envelope.event_type,
        decision="allow",
        global_position=envelope.global_position,
    )
