"""Projection ``isolation-ledger``: every isolation order, its level history and its end,
from isolation's events. The four-colour map, the ledger and the daily report read it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from cordon_contracts.isolation import (
    IsolationCancelled,
    IsolationEnded,
    IsolationExtended,
    IsolationLevelChanged,
    IsolationStarted,
)
from cordon_core.envelope import Envelope


@dataclass
class _Change:
    """What a batch changed of an order that may already be stored."""

    level: str | None = None
    level_since: datetime | None = None
    planned_end_at: datetime | None = None
    ended_at: datetime | None = None
    cancelled: bool = False


class IsolationLedgerProjection:
    name = "isolation-ledger"
    reads_from = ("isolation",)
    event_types = tuple(
        m.event_type
        for m in (
            IsolationStarted,
            IsolationLevelChanged,
            IsolationExtended,
            IsolationEnded,
            IsolationCancelled,
        )
    )

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        started: dict[str, tuple[object, ...]] = {}
        changes: dict[str, _Change] = {}
        history: list[tuple[str, datetime, uuid.UUID, str]] = []
        for envelope in envelopes:
            event = envelope.payload
            if isinstance(event, IsolationStarted):
                place = event.place
                started[event.order_id] = (
                    event.order_id,
                    event.person_id,
                    event.community_id,
                    event.level,
                    event.level,
                    event.reason,
                    event.starts_at,
                    event.planned_end_at,
                    place.kind if place else None,
                    place.place_id if place else None,
                )
                changes.pop(event.order_id, None)
                continue
            assert isinstance(
                event,
                IsolationLevelChanged | IsolationExtended | IsolationEnded | IsolationCancelled,
            )
            change = changes.setdefault(event.order_id, _Change())
            if isinstance(event, IsolationLevelChanged):
                # The event names no time of its own: the change took effect when recorded.
                # The latest change is the level in force (as the history is read).
                if change.level_since is None or envelope.occurred_at >= change.level_since:
                    change.level, change.level_since = event.to_level, envelope.occurred_at
                history.append(
                    (event.order_id, envelope.occurred_at, envelope.event_id, event.to_level)
                )
            elif isinstance(event, IsolationExtended):
                change.planned_end_at = event.planned_end_at
            elif isinstance(event, IsolationEnded):
                change.ended_at = event.ended_at
            elif isinstance(event, IsolationCancelled):
                change.cancelled = True
        if started:
            await conn.execute(
                f"""INSERT INTO {self.schema}.isolation_order AS o (order_id, person_id,
                        community_id, initial_level, level, reason, starts_at, planned_end_at,
                        place_kind, place_id)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                        $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[],
                        $9::text[], $10::text[])
                    ON CONFLICT (order_id) DO NOTHING""",
                *map(list, zip(*started.values(), strict=True)),
            )
        if changes:
            ids = list(changes)
            values = list(changes.values())
            await conn.execute(
                f"""UPDATE {self.schema}.isolation_order o
                    SET level = CASE WHEN c.level_since >= o.level_since
                                          OR (o.level_since IS NULL AND c.level IS NOT NULL)
                                     THEN c.level ELSE o.level END,
                        level_since = greatest(o.level_since, c.level_since),
                        planned_end_at = coalesce(c.planned_end_at, o.planned_end_at),
                        ended_at = coalesce(c.ended_at, o.ended_at),
                        cancelled = o.cancelled OR c.cancelled
                    FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[],
                                $5::timestamptz[], $6::boolean[])
                         AS c(order_id, level, level_since, planned_end_at, ended_at, cancelled)
                    WHERE o.order_id = c.order_id""",
                ids,
                [c.level for c in values],
                [c.level_since for c in values],
                [c.planned_end_at for c in values],
                [c.ended_at for c in values],
                [c.cancelled for c in values],
            )
        if history:
            await conn.executemany(
                f"INSERT INTO {self.schema}.isolation_level_change"
                " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                history,
            )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            f"TRUNCATE {self.schema}.isolation_order, {self.schema}.isolation_level_change"
        )
