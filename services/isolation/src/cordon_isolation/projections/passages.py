"""The isolation service's read model of the gate's traffic: who passed which checkpoint
when (``PersonEntered`` / ``PersonExited``), the ground for close-contact candidates. One
INSERT per batch; rows older than the retention are pruned as the traffic moves on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
import structlog

from cordon_contracts.gate import PersonEntered, PersonExited
from cordon_core.envelope import Envelope

EVENT_TYPES = (PersonEntered.event_type, PersonExited.event_type)
PRUNE_STEP = timedelta(hours=1)
"""Prune at most once per hour of traffic: one DELETE of an hour's old rows, not one per
batch."""

log = structlog.get_logger(__name__)


class PassageProjection:
    name = "passages"
    event_types = EVENT_TYPES

    def __init__(self, schema: str, keep: timedelta) -> None:
        self.schema = schema
        self.keep = keep
        self._pruned_before: datetime | None = None

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        passes = [
            e.payload for e in envelopes if isinstance(e.payload, PersonEntered | PersonExited)
        ]
        if not passes:
            return
        await conn.execute(
            f"""INSERT INTO {self.schema}.passages (checkpoint_id, passed_at, person_id,
                    community_id, subject_kind, direction)
                SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[],
                    $5::text[], $6::text[])""",
            [p.checkpoint_id for p in passes],
            [p.scanned_at for p in passes],
            [p.person_id for p in passes],
            [p.community_id for p in passes],
            [p.subject_kind for p in passes],
            [p.direction for p in passes],
        )
        await self._prune(conn, max(p.scanned_at for p in passes) - self.keep)

    async def _prune(self, conn: asyncpg.Connection, before: datetime) -> None:
        # The traffic's own time, not the clock: replaying an old topic keeps its rows.
        if self._pruned_before is not None and before < self._pruned_before + PRUNE_STEP:
            return
        status = await conn.execute(
            f"DELETE FROM {self.schema}.passages WHERE passed_at < $1", before
        )
        self._pruned_before = before
        log.info("passages_pruned", before=before.isoformat(), rows=status.split()[-1])

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.passages")
