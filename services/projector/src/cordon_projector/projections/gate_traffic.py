"""Read model: entries and exits per community per local day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

import asyncpg

from cordon_contracts.gate import PersonEntered, PersonExited
from cordon_core.envelope import Envelope, local_day


class GateTrafficProjection:
    name = "gate-traffic"
    reads_from = ("gate",)
    event_types = (PersonEntered.event_type, PersonExited.event_type)

    def __init__(self, schema: str, timezone: ZoneInfo) -> None:
        self.schema = schema
        self.timezone = timezone

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        entries: Counter[tuple[str, date]] = Counter()
        exits: Counter[tuple[str, date]] = Counter()
        for envelope in envelopes:
            payload = envelope.payload
            assert isinstance(payload, PersonEntered | PersonExited)
            key = (payload.community_id, local_day(payload.scanned_at, self.timezone))
            (entries if isinstance(payload, PersonEntered) else exits)[key] += 1
        keys = sorted(set(entries) | set(exits))
        await conn.execute(
            f"""INSERT INTO {self.schema}.gate_traffic_daily AS t
                    (community_id, day, entries, exits)
                SELECT * FROM unnest($1::text[], $2::date[], $3::int[], $4::int[])
                ON CONFLICT (community_id, day) DO UPDATE
                SET entries = t.entries + EXCLUDED.entries, exits = t.exits + EXCLUDED.exits""",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [entries[k] for k in keys],
            [exits[k] for k in keys],
        )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.gate_traffic_daily")

    async def daily(
        self, conn: asyncpg.Connection | asyncpg.Pool, community_id: str, day: date
    ) -> tuple[int, int]:
        row = await conn.fetchrow(
            f"SELECT entries, exits FROM {self.schema}.gate_traffic_daily"
            " WHERE community_id = $1 AND day = $2",
            community_id,
            day,
        )
        return (row["entries"], row["exits"]) if row else (0, 0)

    async def daily_all(
        self, conn: asyncpg.Connection | asyncpg.Pool, day: date
    ) -> list[asyncpg.Record]:
        return list(
            await conn.fetch(
                f"SELECT community_id, entries, exits FROM {self.schema}.gate_traffic_daily"
                " WHERE day = $1 ORDER BY community_id",
                day,
            )
        )
