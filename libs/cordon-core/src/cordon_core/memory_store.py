"""An event store in memory, for use cases tested without PostgreSQL.

It keeps the promises of ``PostgresEventStore`` that the store contract suite checks
(cordon_testing.contracts.store), and the contract runs on both: appends checked against
the expected version, all or nothing, a retried append returning what it stored, a log
read in global order. Payloads are kept as JSON and decoded (and upcast) on every read, as
from a table, so a payload that would not survive the database does not survive here.

There are no transactions: ``conn`` is accepted and ignored, and an append is atomic
because nothing in it awaits. A use case's other writes join it in one all-or-nothing step
through ``snapshot`` and ``restore`` (``cordon_core.memory_unit``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cordon_core.envelope import Envelope, EventMetadata, EventRegistry, PendingEvent
from cordon_core.store import ConcurrencyError, EventIdConflict, StreamAppend


@dataclass(frozen=True, slots=True)
class _StoredEvent:
    """One row of the log: what the ``events`` table would hold."""

    envelope: Envelope
    payload_json: str


class InMemoryEventStore:
    """One service's event store in a list; a fresh instance is an empty store."""

    def __init__(self, registry: EventRegistry, *, source: str) -> None:
        self.registry = registry
        self.source = source
        self._log: list[_StoredEvent] = []  # global_position = index + 1
        self._by_id: dict[uuid.UUID, _StoredEvent] = {}
        self._streams: dict[str, list[_StoredEvent]] = {}

    def snapshot(self) -> tuple[list[_StoredEvent], dict[str, int]]:
        """What ``restore`` needs to undo every append made after it: the log as it is
        (stored events are immutable, so a copy of the list is enough)."""
        return list(self._log), {s: len(rows) for s, rows in self._streams.items()}

    def restore(self, snapshot: tuple[list[_StoredEvent], dict[str, int]]) -> None:
        """Forget every event appended since ``snapshot`` was taken."""
        log, lengths = snapshot
        self._log = list(log)
        self._by_id = {row.envelope.event_id: row for row in self._log}
        self._streams = {s: self._streams[s][:n] for s, n in lengths.items() if n}

    async def append(
        self,
        stream_id: str,
        events: Sequence[PendingEvent],
        *,
        expected_version: int | None,
        metadata: EventMetadata,
        partition_key: str | None = None,
        conn: object | None = None,
    ) -> list[Envelope]:
        """Append ``events`` after version ``expected_version`` (0: a new stream; None: any).

        Re-appending events whose ids are all stored returns the stored envelopes."""
        [appended] = await self.append_many(
            [StreamAppend(stream_id, events, expected_version, metadata, partition_key)]
        )
        return appended

    async def append_many(
        self,
        appends: Sequence[StreamAppend],
        *,
        conn: object | None = None,
        savepoint: bool = True,
        known_new: bool = False,
    ) -> list[list[Envelope]]:
        """Several appends, checked as ``append`` checks each; any conflict fails them all.

        ``known_new=True`` skips answering a retry: a stored id is then a conflict."""
        results: list[list[Envelope]] = [[] for _ in appends]
        if not any(a.events for a in appends):
            return results
        fresh: list[int] = []
        for i, append in enumerate(appends):
            found = [self._by_id[e.event_id] for e in append.events if e.event_id in self._by_id]
            if not found:
                fresh.append(i)
            elif len(found) == len(append.events) and not known_new:
                results[i] = [self._read(row) for row in found]
            else:
                raise EventIdConflict(
                    f"stream {append.stream_id!r}: {len(found)} of {len(append.events)}"
                    " event ids already stored"
                )
        new_ids = [e.event_id for i in fresh for e in appends[i].events]
        if len(set(new_ids)) < len(new_ids):
            raise EventIdConflict("an event id appears twice in one append")
        # Check every append before writing any, so that a conflict writes nothing.
        versions = {appends[i].stream_id: self._version(appends[i].stream_id) for i in fresh}
        starts: dict[int, int] = {}
        for i in fresh:
            append = appends[i]
            starts[i] = versions[append.stream_id]
            expected = append.expected_version
            if expected is not None and starts[i] != expected:
                raise ConcurrencyError(append.stream_id, expected, starts[i], "version mismatch")
            versions[append.stream_id] += len(append.events)
        recorded_at = datetime.now(UTC)
        for i in fresh:
            results[i] = [
                self._write(appends[i], event, starts[i] + offset, recorded_at)
                for offset, event in enumerate(appends[i].events, start=1)
            ]
        return results

    def _write(
        self, append: StreamAppend, event: PendingEvent, version: int, recorded_at: datetime
    ) -> Envelope:
        meta = append.metadata
        envelope = Envelope(
            event_id=event.event_id,
            event_type=event.payload.event_type,
            schema_version=event.payload.schema_version,
            stream_id=append.stream_id,
            stream_version=version,
            partition_key=append.partition_key or append.stream_id,
            occurred_at=event.occurred_at,
            recorded_at=recorded_at,
            correlation_id=meta.correlation_id,
            causation_id=meta.causation_id,
            actor=meta.actor,
            district=meta.district,
            community=meta.community,
            payload=event.payload,
            source=self.source,
            global_position=len(self._log) + 1,
        )
        row = _StoredEvent(envelope, event.payload.model_dump_json())
        self._log.append(row)
        self._by_id[event.event_id] = row
        self._streams.setdefault(append.stream_id, []).append(row)
        return envelope

    def _read(self, row: _StoredEvent) -> Envelope:
        """The stored envelope with its payload decoded from JSON, as a database read."""
        data: dict[str, Any] = json.loads(row.payload_json)
        payload = self.registry.decode(row.envelope.event_type, row.envelope.schema_version, data)
        return replace(row.envelope, payload=payload, schema_version=payload.schema_version)

    def _version(self, stream_id: str) -> int:
        stream = self._streams.get(stream_id)
        return stream[-1].envelope.stream_version if stream else 0

    async def find(
        self, event_ids: Sequence[uuid.UUID], *, conn: object | None = None
    ) -> dict[uuid.UUID, Envelope]:
        """The stored events among ``event_ids`` (e.g. to answer a retried command)."""
        return {i: self._read(self._by_id[i]) for i in event_ids if i in self._by_id}

    async def load_stream(
        self, stream_id: str, *, after_version: int = 0, conn: object | None = None
    ) -> list[Envelope]:
        """The stream's events after ``after_version``, in version order."""
        stream = self._streams.get(stream_id, [])
        return [self._read(row) for row in stream[after_version:]]

    async def load_streams(
        self, stream_ids: Sequence[str], *, conn: object | None = None
    ) -> dict[str, list[Envelope]]:
        """Several whole streams: each one's events in version order (empty when none)."""
        return {stream_id: await self.load_stream(stream_id) for stream_id in stream_ids}

    async def stream_version(self, stream_id: str, *, conn: object | None = None) -> int:
        return self._version(stream_id)

    async def read_all(
        self, *, after_position: int = 0, limit: int = 1000, conn: object | None = None
    ) -> list[Envelope]:
        """Stored events in global-position order."""
        return [self._read(row) for row in self._log[after_position : after_position + limit]]
