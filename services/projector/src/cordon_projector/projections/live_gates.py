"""Projection ``live-gates``: per checkpoint and minute, entries, exits, denials by reason,
fevers, yellow and red codes and visitors, from the gate's events. Each batch notifies
the dashboard's live streams (``pg_notify``, delivered when the batch commits)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from cordon_contracts.gate import (
    EntryDenied,
    ExitDenied,
    FeverDetected,
    PersonEntered,
    PersonExited,
    VisitorRegistered,
)
from cordon_core.envelope import Envelope

COUNTERS = ("entries", "exits", "denials", "fevers", "yellow_codes", "red_codes", "visitors")
Bucket = tuple[str, datetime, str]
"""(community, minute, checkpoint)"""


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def notify_channel(schema: str) -> str:
    return f"{schema}_live_gates"


class LiveGatesProjection:
    name = "live-gates"
    reads_from = ("gate",)
    event_types = tuple(
        m.event_type
        for m in (
            PersonEntered,
            PersonExited,
            EntryDenied,
            ExitDenied,
            FeverDetected,
            VisitorRegistered,
        )
    )

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        counts: dict[str, Counter[Bucket]] = {name: Counter() for name in COUNTERS}
        denials: Counter[tuple[str, datetime, str, str]] = Counter()
        for envelope in envelopes:
            event = envelope.payload
            if isinstance(event, FeverDetected):
                counts["fevers"][
                    (event.community_id, minute_of(event.scanned_at), event.checkpoint_id)
                ] += 1
                continue
            if isinstance(event, VisitorRegistered):
                counts["visitors"][
                    (event.community_id, minute_of(event.registered_at), event.checkpoint_id)
                ] += 1
                continue
            assert isinstance(event, PersonEntered | PersonExited | EntryDenied | ExitDenied)
            bucket = (event.community_id, minute_of(event.scanned_at), event.checkpoint_id)
            if isinstance(event, PersonEntered):
                counts["entries"][bucket] += 1
            elif isinstance(event, PersonExited):
                counts["exits"][bucket] += 1
            else:
                counts["denials"][bucket] += 1
                for reason in event.reasons:
                    denials[(*bucket, reason)] += 1
            if event.health_code == "yellow":
                counts["yellow_codes"][bucket] += 1
            elif event.health_code == "red":
                counts["red_codes"][bucket] += 1
        buckets = sorted({b for c in counts.values() for b in c})
        if buckets:
            columns = ", ".join(COUNTERS)
            params = ", ".join(f"${i + 4}::int[]" for i in range(len(COUNTERS)))
            updates = ", ".join(f"{c} = g.{c} + EXCLUDED.{c}" for c in COUNTERS)
            await conn.execute(
                f"""INSERT INTO {self.schema}.gate_minute AS g
                        (community_id, minute, checkpoint_id, {columns})
                    SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], {params})
                    ON CONFLICT (community_id, minute, checkpoint_id) DO UPDATE SET {updates}""",
                [b[0] for b in buckets],
                [b[1] for b in buckets],
                [b[2] for b in buckets],
                *([counts[name][b] for b in buckets] for name in COUNTERS),
            )
        if denials:
            keys = sorted(denials)
            await conn.execute(
                f"""INSERT INTO {self.schema}.gate_denial_minute AS d
                        (community_id, minute, checkpoint_id, reason, denials)
                    SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[],
                                         $5::int[])
                    ON CONFLICT (community_id, minute, checkpoint_id, reason)
                    DO UPDATE SET denials = d.denials + EXCLUDED.denials""",
                *map(list, zip(*keys, strict=True)),
                [denials[k] for k in keys],
            )
        if buckets:
            communities = ",".join(sorted({b[0] for b in buckets}))
            await conn.execute(
                "SELECT pg_notify($1, $2)", notify_channel(self.schema), communities[:7000]
            )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.gate_minute, {self.schema}.gate_denial_minute")
