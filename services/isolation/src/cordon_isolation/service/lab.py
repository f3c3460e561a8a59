"""Lab intake: result rows matched to persons and recorded in chunks, each chunk one
transaction and one ``append_many``; a duplicate is a no-op, a changed result a correction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from cordon_contracts.lab import TestResultReceived
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.store import PostgresEventStore, StreamAppend
from cordon_core.unit_of_work import run_command
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.domain.reactions import derived_id
from cordon_isolation.domain.results import (
    CollectionWindow,
    ResultRow,
    RowError,
    SampleOnRecord,
    decide_result,
    match,
)


def sample_stream(sample_id: str) -> str:
    return f"sample:{sample_id}"


@dataclass
class IntakeReport:
    batch_id: str
    rows: int = 0
    received: int = 0
    corrected: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)


class LabIntake:
    def __init__(
        self,
        store: PostgresEventStore,
        state: IsolationState,
        *,
        district: str,
        window: CollectionWindow,
        clock: Callable[[], datetime],
        chunk_rows: int = 1000,
    ) -> None:
        self.store = store
        self.state = state
        self.district = district
        self.window = window
        self.clock = clock
        self.chunk_rows = chunk_rows

    async def ingest(
        self,
        pool: asyncpg.Pool,
        parsed: Iterable[ResultRow | list[RowError]],
        *,
        lab: str,
        actor: str,
        correlation_id: uuid.UUID | None = None,
        batch_id: str | None = None,
    ) -> IntakeReport:
        report = IntakeReport(batch_id or f"batch-{uuid.uuid4().hex[:12]}")
        meta = EventMetadata.new(actor=actor, district=self.district, correlation_id=correlation_id)
        chunk: list[ResultRow] = []
        for item in parsed:
            report.rows += 1
            if isinstance(item, list):
                report.errors.extend(item)
                continue
            chunk.append(item)
            if len(chunk) >= self.chunk_rows:
                await self._chunk(pool, chunk, lab, meta, report)
                chunk = []
        if chunk:
            await self._chunk(pool, chunk, lab, meta, report)
        report.errors.sort(key=lambda e: (e.row, e.column))
        return report

    async def _chunk(
        self,
        pool: asyncpg.Pool,
        rows: Sequence[ResultRow],
        lab: str,
        meta: EventMetadata,
        report: IntakeReport,
    ) -> None:
        outcome = IntakeReport(report.batch_id)

        async def record(conn: asyncpg.Connection) -> None:
            # Decided afresh on a rerun: another upload may have written the same samples.
            nonlocal outcome
            outcome = IntakeReport(report.batch_id)
            await self.record(conn, rows, lab, meta, outcome)

        await run_command(pool, record)
        report.received += outcome.received
        report.corrected += outcome.corrected
        report.duplicates += outcome.duplicates
        report.errors.extend(outcome.errors)

    async def record(
        self,
        conn: asyncpg.Connection,
        rows: Sequence[ResultRow],
        lab: str,
        meta: EventMetadata,
        report: IntakeReport,
    ) -> None:
        """Decide and record ``rows`` in the caller's transaction."""
        stored = await self.state.samples(conn, (r.sample_id for r in rows))
        current: dict[str, SampleOnRecord] = dict(stored)
        events: dict[str, list[PendingEvent]] = {}
        now = self.clock()
        for row in rows:
            sample = current.get(row.sample_id)
            matched = match(row, sample, self.window, now)
            if isinstance(matched, RowError):
                report.errors.append(matched)
                continue
            event = decide_result(row, matched, sample, lab, report.batch_id)
            if event is None:
                report.duplicates += 1
                continue
            version = (sample.version if sample else 0) + 1
            if isinstance(event, TestResultReceived):
                report.received += 1
            else:
                report.corrected += 1
            events.setdefault(row.sample_id, []).append(
                PendingEvent(event, event_id=derived_id("result", row.sample_id, version))
            )
            current[row.sample_id] = SampleOnRecord(
                row.sample_id, matched.person_id, matched.collected_at, row.result, version
            )
        appends = [
            StreamAppend(
                sample_stream(sample_id),
                pending,
                stored[sample_id].version if sample_id in stored else 0,
                meta,
                partition_key=current[sample_id].person_id,
            )
            for sample_id, pending in events.items()
        ]
        await self.store.append_many(appends, conn=conn)
        await self.state.save_samples(conn, [current[s] for s in events], lab)
