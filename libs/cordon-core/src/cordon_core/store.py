"""The PostgreSQL event store: append with optimistic concurrency, load streams and the log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
import structlog

from cordon_core.envelope import Envelope, EventMetadata, EventRegistry, PendingEvent
from cordon_core.migrations import checked_identifier
from cordon_core.observability import EVENTS_APPENDED

log = structlog.get_logger(__name__)

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool

_COLUMNS = (
    "global_position, event_id, stream_id, stream_version, partition_key, event_type,"
    " schema_version, payload, occurred_at, recorded_at, correlation_id, causation_id,"
    " actor, district, community"
)


class ConcurrencyError(Exception):
    """Another writer appended to the stream first: reload the aggregate and decide again."""

    def __init__(self, stream_id: str, expected: int | None, actual: int | None, why: str) -> None:
        super().__init__(
            f"stream {stream_id!r}: {why} (expected version {expected}, found {actual})"
        )
        self.stream_id = stream_id
        self.expected_version = expected
        self.actual_version = actual


class EventIdConflict(Exception):
    """Some, but not all, of an append's event ids are already stored: not a plain retry."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    stream_id: str
    stream_version: int
    state: dict[str, Any]


class PostgresEventStore:
    """One service's event store, living in that service's own schema.

    Every method takes an optional ``conn`` so that an append can share a transaction
    with other effects (an inbox record, a read model); without it, a pooled
    connection and a transaction of the store's own are used.
    """

    def __init__(
        self, pool: asyncpg.Pool, schema: str, registry: EventRegistry, *, source: str
    ) -> None:
        self.pool = pool
        self.schema = checked_identifier(schema)
        self.registry = registry
        self.source = source

    async def append(
        self,
        stream_id: str,
        events: Sequence[PendingEvent],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        partition_key: str | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> list[Envelope]:
        """Append ``events`` after version ``expected_version`` (0: a new stream; None: any).

        Re-appending events whose ids are all stored already returns the stored
        envelopes and writes nothing, so a retried command is harmless.
        """
        if not events:
            return []
        if conn is None:
            async with self.pool.acquire() as own, own.transaction():
                return await self._append(
                    own, stream_id, events, expected_version, metadata, partition_key
                )
        async with conn.transaction():  # a savepoint when the caller has a transaction open
            return await self._append(
                conn, stream_id, events, expected_version, metadata, partition_key
            )

    async def _append(
        self,
        conn: asyncpg.Connection,
        stream_id: str,
        events: Sequence[PendingEvent],
        expected_version: int | None,
        metadata: EventMetadata,
        partition_key: str | None,
    ) -> list[Envelope]:
        ids = [e.event_id for e in events]
        stored = await conn.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.events WHERE event_id = ANY($1::uuid[])"
            " ORDER BY global_position",
            ids,
        )
        if stored:
            if len(stored) == len(ids):
                return [self._envelope(r) for r in stored]
            raise EventIdConflict(f"{len(stored)} of {len(ids)} event ids already stored")

        head = await conn.fetchrow(
            f"SELECT stream_version, tx_id > pg_current_xact_id() AS newer_tx"
            f" FROM {self.schema}.events WHERE stream_id = $1"
            " ORDER BY stream_version DESC LIMIT 1",
            stream_id,
        )
        current = head["stream_version"] if head else 0
        if expected_version is not None and current != expected_version:
            raise ConcurrencyError(stream_id, expected_version, current, "version mismatch")
        if head is not None and head["newer_tx"]:
            # The head was written by a transaction with a larger id than ours (our id was
            # taken before that writer committed). The relay publishes in transaction-id
            # order, so appending here would publish this stream out of order: retry in a
            # fresh transaction instead.
            raise ConcurrencyError(stream_id, expected_version, current, "stream head is newer")

        key = partition_key or stream_id
        try:
            rows = await conn.fetch(
                f"""INSERT INTO {self.schema}.events (event_id, stream_id, stream_version,
                        partition_key, event_type, schema_version, payload, occurred_at,
                        correlation_id, causation_id, actor, district, community)
                    SELECT e.id, $2, $3 + e.ord, $4, e.type, e.version, e.payload::jsonb,
                           e.occurred_at, $8, $9, $10, $11, $12
                    FROM unnest($1::uuid[], $5::text[], $6::int[], $7::text[],
                                $13::timestamptz[])
                         WITH ORDINALITY AS e(id, type, version, payload, occurred_at, ord)
                    ORDER BY e.ord
                    RETURNING {_COLUMNS}""",
                ids,
                stream_id,
                current,
                key,
                [e.payload.event_type for e in events],
                [e.payload.schema_version for e in events],
                [e.payload.model_dump_json() for e in events],
                metadata.correlation_id,
                metadata.causation_id,
                metadata.actor,
                metadata.district,
                metadata.community,
                [e.occurred_at for e in events],
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "events_stream_version_key":
                raise ConcurrencyError(
                    stream_id, expected_version, None, "another writer appended first"
                ) from error
            raise EventIdConflict(str(error)) from error
        for event in events:
            EVENTS_APPENDED.labels(self.schema, event.payload.event_type).inc()
        envelopes = [self._envelope(r) for r in rows]
        envelopes.sort(key=lambda env: env.stream_version)
        return envelopes

    async def load_stream(
        self, stream_id: str, *, after_version: int = 0, conn: asyncpg.Connection | None = None
    ) -> list[Envelope]:
        """The stream's events after ``after_version``, in version order."""
        executor: Executor = conn or self.pool
        rows = await executor.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.events"
            " WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version",
            stream_id,
            after_version,
        )
        return [self._envelope(r) for r in rows]

    async def stream_version(
        self, stream_id: str, *, conn: asyncpg.Connection | None = None
    ) -> int:
        executor: Executor = conn or self.pool
        version = await executor.fetchval(
            f"SELECT max(stream_version) FROM {self.schema}.events WHERE stream_id = $1",
            stream_id,
        )
        return int(version or 0)

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, conn: asyncpg.Connection | None = None
    ) -> list[Envelope]:
        """Committed events in global-position order (for tools and catch-up reads)."""
        executor: Executor = conn or self.pool
        rows = await executor.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.events WHERE global_position > $1"
            " ORDER BY global_position LIMIT $2",
            after_position,
            limit,
        )
        return [self._envelope(r) for r in rows]

    async def save_snapshot(
        self, snapshot: Snapshot, *, conn: asyncpg.Connection | None = None
    ) -> None:
        executor: Executor = conn or self.pool
        await executor.execute(
            f"""INSERT INTO {self.schema}.snapshots (stream_id, stream_version, state)
                VALUES ($1, $2, $3::jsonb)
                ON CONFLICT (stream_id) DO UPDATE
                SET stream_version = EXCLUDED.stream_version, state = EXCLUDED.state,
                    taken_at = now()
                WHERE {self.schema}.snapshots.stream_version < EXCLUDED.stream_version""",
            snapshot.stream_id,
            snapshot.stream_version,
            json.dumps(snapshot.state),
        )

    async def load_snapshot(
        self, stream_id: str, *, conn: asyncpg.Connection | None = None
    ) -> Snapshot | None:
        executor: Executor = conn or self.pool
        row = await executor.fetchrow(
            f"SELECT stream_version, state FROM {self.schema}.snapshots WHERE stream_id = $1",
            stream_id,
        )
        if row is None:
            return None
        return Snapshot(stream_id, row["stream_version"], json.loads(row["state"]))

    def _envelope(self, row: asyncpg.Record) -> Envelope:
        return record_to_envelope(row, self.registry, self.source)


def record_to_envelope(row: asyncpg.Record, registry: EventRegistry, source: str) -> Envelope:
    """Turn an ``events`` row into an envelope, upcasting an older payload version."""
    payload = row["payload"]
    data = json.loads(payload) if isinstance(payload, str) else payload
    occurred_at: datetime = row["occurred_at"]
    event_id: uuid.UUID = row["event_id"]
    decoded = registry.decode(row["event_type"], row["schema_version"], data)
    return Envelope(
        event_id=event_id,
        event_type=row["event_type"],
        schema_version=decoded.schema_version,
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        partition_key=row["partition_key"],
        occurred_at=occurred_at,
        recorded_at=row["recorded_at"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        actor=row["actor"],
        district=row["district"],
        community=row["community"],
        payload=decoded,
        source=source,
        global_position=row["global_position"],
    )
