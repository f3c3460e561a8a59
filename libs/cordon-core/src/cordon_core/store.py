"""The PostgreSQL event store: append with optimistic concurrency, load streams and the log."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeAlias

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


_INSERT_COLUMNS = (
    "event_id", "stream_id", "stream_version", "partition_key", "event_type", "schema_version",
    "payload", "occurred_at", "correlation_id", "causation_id", "actor", "district", "community",
)  # fmt: skip


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


RETRY_CONFLICTS: tuple[type[Exception], ...] = (
    ConcurrencyError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)
"""Conflicts with a concurrent transaction: running the whole transaction again, with a
fresh look at the state, resolves them."""


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """One stream's part of an ``append_many``: events after ``expected_version``."""

    stream_id: str
    events: Sequence[PendingEvent]
    expected_version: int | None
    metadata: EventMetadata
    partition_key: str | None = None


class PostgresEventStore:
    """One service's event store, living in that service's own schema.

    Every method takes an optional ``conn`` so that an append can share a transaction
    with other effects (an inbox record, a read model); without it, a pooled
    connection and a transaction of the store's own are used.
    """

    def __init__(
        self, pool: asyncpg.Pool | None, schema: str, registry: EventRegistry, *, source: str
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
        [appended] = await self.append_many(
            [StreamAppend(stream_id, events, expected_version, metadata, partition_key)],
            conn=conn,
        )
        return appended

    async def append_many(
        self,
        appends: Sequence[StreamAppend],
        *,
        conn: asyncpg.Connection | None = None,
        savepoint: bool = True,
        known_new: bool = False,
    ) -> list[list[Envelope]]:
        """Several appends, to one or many streams, in one transaction and three statements.

        Each append is checked as ``append`` checks it (a later append to the same stream
        follows the earlier one); any conflict fails them all. Returns the envelopes of
        each append, in order.

        Inside a caller's transaction the appends run in a savepoint, so a conflict leaves
        that transaction usable; ``savepoint=False`` saves its two round trips for callers
        that restart the whole transaction on a conflict anyway. ``known_new=True`` skips
        looking for already stored event ids, for callers that just looked themselves: a
        stored id then still fails the insert (``EventIdConflict``), it is never written twice.
        """
        if not any(a.events for a in appends):
            return [[] for _ in appends]
        if conn is None:
            assert self.pool is not None, "the store has no pool yet"
            async with self.pool.acquire() as own, own.transaction():
                return await self._append_many(own, appends, known_new)
        if not savepoint:
            return await self._append_many(conn, appends, known_new)
        async with conn.transaction():  # a savepoint when the caller has a transaction open
            return await self._append_many(conn, appends, known_new)

    async def _append_many(
        self, conn: asyncpg.Connection, appends: Sequence[StreamAppend], known_new: bool
    ) -> list[list[Envelope]]:
        ids = [e.event_id for a in appends for e in a.events]
        stored_rows = (
            []
            if known_new
            else await conn.fetch(
                f"SELECT {_COLUMNS} FROM {self.schema}.events"
                " WHERE event_id = ANY($1::uuid[]) ORDER BY global_position",
                ids,
            )
        )
        stored = {r["event_id"]: r for r in stored_rows}
        fresh: list[int] = []  # indexes of appends to write
        results: list[list[Envelope]] = [[] for _ in appends]
        for i, append in enumerate(appends):
            found = [stored[e.event_id] for e in append.events if e.event_id in stored]
            if not found:
                fresh.append(i)
            elif len(found) == len(append.events):
                results[i] = [self._envelope(r) for r in found]
            else:
                raise EventIdConflict(
                    f"stream {append.stream_id!r}: {len(found)} of {len(append.events)}"
                    " event ids already stored"
                )
        if not fresh:
            return results

        streams = list({appends[i].stream_id for i in fresh})
        # A stream expected to be new needs no look at its head: if it is not new after
        # all, the INSERT of its version 1 violates the unique (stream, version) key.
        existing = list({appends[i].stream_id for i in fresh if appends[i].expected_version != 0})
        rows = (
            await conn.fetch(
                # One index probe per stream: DISTINCT ON would read every version, so an
                # append would cost more the longer its stream grew.
                f"""SELECT s.stream_id, h.stream_version,
                           h.tx_id > pg_current_xact_id() AS newer_tx
                    FROM unnest($1::text[]) AS s(stream_id)
                    CROSS JOIN LATERAL (
                        SELECT e.stream_version, e.tx_id FROM {self.schema}.events e
                        WHERE e.stream_id = s.stream_id
                        ORDER BY e.stream_version DESC LIMIT 1) h""",
                existing,
            )
            if existing
            else []
        )
        heads = {r["stream_id"]: r for r in rows}
        for stream_id, head in heads.items():
            if head["newer_tx"]:
                # The head was written by a transaction with a larger id than ours (our id
                # was taken before that writer committed). The relay publishes in
                # transaction-id order, so appending here would publish this stream out of
                # order: retry in a fresh transaction instead.
                raise ConcurrencyError(
                    stream_id, None, head["stream_version"], "stream head is newer"
                )
        current = {s: (heads[s]["stream_version"] if s in heads else 0) for s in streams}
        columns: dict[str, list[Any]] = {name: [] for name in _INSERT_COLUMNS}
        starts: dict[int, int] = {}
        for i in fresh:
            append = appends[i]
            version = starts[i] = current[append.stream_id]
            if append.expected_version is not None and version != append.expected_version:
                raise ConcurrencyError(
                    append.stream_id, append.expected_version, version, "version mismatch"
                )
            meta = append.metadata
            for event in append.events:
                version += 1
                row = (
                    event.event_id, append.stream_id, version,
                    append.partition_key or append.stream_id, event.payload.event_type,
                    event.payload.schema_version, event.payload.model_dump_json(),
                    event.occurred_at, meta.correlation_id, meta.causation_id, meta.actor,
                    meta.district, meta.community,
                )  # fmt: skip
                for name, value in zip(_INSERT_COLUMNS, row, strict=True):
                    columns[name].append(value)
            current[append.stream_id] = version
        try:
            written = await conn.fetch(
                f"""INSERT INTO {self.schema}.events ({", ".join(_INSERT_COLUMNS)})
                    SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[],
                        $5::text[], $6::int[], $7::jsonb[], $8::timestamptz[], $9::uuid[],
                        $10::uuid[], $11::text[], $12::text[], $13::text[])
                    RETURNING event_id, global_position, recorded_at""",
                *columns.values(),
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "events_stream_version_key":
                raise ConcurrencyError(
                    str(error.detail), None, None, "another writer appended first"
                ) from error
            raise EventIdConflict(str(error)) from error
        by_id = {row["event_id"]: row for row in written}
        for i in fresh:
            append = appends[i]
            for offset, event in enumerate(append.events, start=1):
                row = by_id[event.event_id]
                results[i].append(self._new_envelope(append, event, starts[i] + offset, row))
        for event_type, count in Counter(columns["event_type"]).items():
            EVENTS_APPENDED.labels(self.schema, event_type).inc(count)
        return results

    def _new_envelope(
        self, append: StreamAppend, event: PendingEvent, version: int, row: asyncpg.Record
    ) -> Envelope:
        meta = append.metadata
        return Envelope(
            event_id=event.event_id,
            event_type=event.payload.event_type,
            schema_version=event.payload.schema_version,
            stream_id=append.stream_id,
            stream_version=version,
            partition_key=append.partition_key or append.stream_id,
            occurred_at=event.occurred_at,
            recorded_at=row["recorded_at"],
            correlation_id=meta.correlation_id,
            causation_id=meta.causation_id,
            actor=meta.actor,
            district=meta.district,
            community=meta.community,
            payload=event.payload,
            source=self.source,
            global_position=row["global_position"],
        )

    async def find(
        self, event_ids: Sequence[uuid.UUID], *, conn: asyncpg.Connection | None = None
    ) -> dict[uuid.UUID, Envelope]:
        """The stored events among ``event_ids`` (e.g. to answer a retried command)."""
        executor: Executor = conn or self.pool
        rows = await executor.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.events WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return {r["event_id"]: self._envelope(r) for r in rows}

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

    async def load_streams(
        self, stream_ids: Sequence[str], *, conn: asyncpg.Connection | None = None
    ) -> dict[str, list[Envelope]]:
        """Several whole streams in one query: each stream's events in version order (an
        empty list for a stream with none), for a use case deciding on many at once."""
        executor: Executor = conn or self.pool
        rows = await executor.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.events"
            " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version",
            list(stream_ids),
        )
        streams: dict[str, list[Envelope]] = {stream_id: [] for stream_id in stream_ids}
        for row in rows:
            streams[row["stream_id"]].append(self._envelope(row))
        return streams

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


class EventStore(Protocol):
    """What a use case asks of an event store: ``PostgresEventStore``, or in the fast tier
    ``cordon_core.memory_store.InMemoryEventStore``; the store contract suite runs on both.
    ``conn`` is the use case's connection (``None`` in memory)."""

    registry: EventRegistry
    source: str

    async def append(
        self,
        stream_id: str,
        events: Sequence[PendingEvent],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        partition_key: str | None = None,
        conn: Any = None,
    ) -> list[Envelope]: ...

    async def append_many(
        self,
        appends: Sequence[StreamAppend],
        *,
        conn: Any = None,
        savepoint: bool = True,
        known_new: bool = False,
    ) -> list[list[Envelope]]: ...

    async def find(
        self, event_ids: Sequence[uuid.UUID], *, conn: Any = None
    ) -> dict[uuid.UUID, Envelope]: ...

    async def load_stream(
        self, stream_id: str, *, after_version: int = 0, conn: Any = None
    ) -> list[Envelope]: ...

    async def load_streams(
        self, stream_ids: Sequence[str], *, conn: Any = None
    ) -> dict[str, list[Envelope]]: ...

    async def stream_version(self, stream_id: str, *, conn: Any = None) -> int: ...

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, conn: Any = None
    ) -> list[Envelope]: ...
