"""The gate's read model of each person's status, from the registry's, isolation's and
the lab's events: where they live, whether they are isolated, their latest negative test.

It is what lets the gate keep deciding while those services are down; each decision
records how fresh it was (``status_as_of``).

The latest negative test is derived again from all of the person's results whenever one
arrives or is corrected: a correction to positive or invalid stops the sample counting, and a
result collected later than it reached the gate (beyond the allowed clock skew) never counts,
so a mistyped year cannot hide the real results after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from cordon_contracts.isolation import (
    IsolationCancelled,
    IsolationEnded,
    IsolationLevelChanged,
    IsolationStarted,
)
from cordon_contracts.lab import TestResultCorrected, TestResultReceived
from cordon_contracts.registry import ResidentLeft, ResidentMoved, ResidentRegistered
from cordon_core.envelope import Envelope

EVENT_TYPES = tuple(
    m.event_type
    for m in (
        ResidentRegistered,
        ResidentMoved,
        ResidentLeft,
        IsolationStarted,
        IsolationLevelChanged,
        IsolationEnded,
        IsolationCancelled,
        TestResultReceived,
        TestResultCorrected,
    )
)


class PersonStatusProjection:
    name = "person-status"
    event_types = EVENT_TYPES

    def __init__(self, schema: str, *, future_skew: timedelta) -> None:
        self.schema = schema
        self.future_skew = future_skew

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            await self.apply(conn, envelope)

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope) -> None:
        p = envelope.payload
        at = envelope.recorded_at
        if isinstance(p, ResidentRegistered):
            await self._set(
                conn,
                p.person_id,
                at,
                community_id=p.community_id,
                household_id=p.household_id,
                residence_type=p.residence_type,
            )
        elif isinstance(p, ResidentMoved):
            moved: dict[str, object] = (
                {"residence_type": p.residence_type} if p.residence_type else {}
            )
            await self._set(
                conn,
                p.person_id,
                at,
                community_id=p.community_id,
                household_id=p.household_id,
                **moved,
            )
        elif isinstance(p, ResidentLeft):
            await self._set(
                conn, p.person_id, at, community_id=None, household_id=None, residence_type=None
            )
        elif isinstance(p, IsolationStarted):
            await self._set(
                conn, p.person_id, at, isolation_order_id=p.order_id, isolation_level=p.level
            )
        elif isinstance(p, IsolationLevelChanged):
            await self._for_order(conn, p.person_id, p.order_id, at, p.to_level)
        elif isinstance(p, IsolationEnded | IsolationCancelled):
            await self._for_order(conn, p.person_id, p.order_id, at, None)
        elif isinstance(p, TestResultReceived | TestResultCorrected):
            await self._test_result(conn, p, at)

    async def _test_result(
        self,
        conn: asyncpg.Connection,
        p: TestResultReceived | TestResultCorrected,
        at: datetime,
    ) -> None:
        # A sample's later record wins (a correction replaces the result); then the
        # person's latest negative is derived again from every valid result they have.
        await conn.execute(
            f"""INSERT INTO {self.schema}.test_results AS t
                    (sample_id, person_id, collected_at, result, received_at)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (sample_id) DO UPDATE
                SET result = EXCLUDED.result, collected_at = EXCLUDED.collected_at,
                    received_at = EXCLUDED.received_at
                WHERE t.received_at IS NULL OR t.received_at <= EXCLUDED.received_at""",
            p.sample_id,
            p.person_id,
            p.collected_at,
            p.result,
            at,
        )
        latest = await conn.fetchval(
            f"""SELECT max(collected_at) FROM {self.schema}.test_results
                WHERE person_id = $1 AND result = 'negative'
                  AND collected_at <= coalesce(received_at, collected_at) + $2::interval""",
            p.person_id,
            self.future_skew,
        )
        await self._set(conn, p.person_id, at, last_negative_test_at=latest)

    async def _for_order(
        self, conn: asyncpg.Connection, person_id: str, order_id: str, at: object, level: str | None
    ) -> None:
        """Change the isolation level only if ``order_id`` is the person's current order."""
        await conn.execute(
            f"""UPDATE {self.schema}.person_status
                SET isolation_level = $3,
                    isolation_order_id =
                        CASE WHEN $3::text IS NULL THEN NULL ELSE isolation_order_id END,
                    as_of = greatest(as_of, $4)
                WHERE person_id = $1 AND isolation_order_id = $2""",
            person_id,
            order_id,
            level,
            at,
        )

    async def _set(
        self, conn: asyncpg.Connection, person_id: str, at: object, **fields: object
    ) -> None:
        columns = list(fields)
        assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
        placeholders = ", ".join(f"${i}" for i in range(3, 3 + len(columns)))
        await conn.execute(
            f"""INSERT INTO {self.schema}.person_status (person_id, as_of, {", ".join(columns)})
                VALUES ($1, $2, {placeholders})
                ON CONFLICT (person_id) DO UPDATE
                SET {assignments}, as_of = greatest(person_status.as_of, EXCLUDED.as_of)""",
            person_id,
            at,
            *fields.values(),
        )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.person_status, {self.schema}.test_results")
