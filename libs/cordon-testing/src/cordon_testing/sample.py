"""A small event vocabulary for contract tests: counters that are opened and bumped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from cordon_core.envelope import DomainEvent, Envelope, EventMetadata, EventRegistry, PendingEvent
from cordon_core.migrations import Migration

registry = EventRegistry()


@registry.register
class CounterOpened(DomainEvent):
    event_type = "CounterOpened"
    label: str


@registry.register
class CounterBumped(DomainEvent):
    event_type = "CounterBumped"
    schema_version = 2
    by: int
    note: str = ""


@registry.upcaster("CounterBumped", 1)
def _bumped_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 called the amount "amount" and had no note.
    return {"by": data["amount"], "note": "upcast from v1"}


def meta(community: str | None = "c1") -> EventMetadata:
    return EventMetadata.new(actor="test", district="d1", community=community)


def bumps(n: int, by: int = 1) -> list[PendingEvent]:
    return [PendingEvent(CounterBumped(by=by)) for _ in range(n)]


TOTALS_MIGRATION = Migration(
    "sample",
    1,
    "counter_totals",
    """CREATE TABLE {schema}.counter_totals (
           stream_id text PRIMARY KEY, total integer NOT NULL, events integer NOT NULL)""",
)


class CounterTotals:
    """A read model summing bumps per stream; fails on purpose for a poisoned note."""

    name = "counter-totals"
    event_types = ("CounterBumped",)

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.poisoned: set[uuid.UUID] = set()

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            assert isinstance(envelope.payload, CounterBumped)
            if envelope.payload.note == "poison":
                raise ValueError(f"cannot apply {envelope.event_id}: poisoned on purpose")
            await conn.execute(
                f"""INSERT INTO {self.schema}.counter_totals AS t VALUES ($1, $2, 1)
                    ON CONFLICT (stream_id) DO UPDATE
                    SET total = t.total + EXCLUDED.total, events = t.events + 1""",
                envelope.stream_id,
                envelope.payload.by,
            )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.counter_totals")

    async def totals(self, conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, tuple[int, int]]:
        rows = await conn.fetch(
            f"SELECT stream_id, total, events FROM {self.schema}.counter_totals"
        )
        return {r["stream_id"]: (r["total"], r["events"]) for r in rows}
