"""Use case: decide a batch of scans and record them, idempotently by device scan id.

The same code serves a group of single HTTP scans, an HTTP batch and a batch from the Kafka
feed, in three steps: load the whole context with one query (stored answers, checkpoints,
policies, passes, people), decide every scan in order (``domain.batch.decide_batch``, pure),
and record what was decided, all events in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import asyncpg

from cordon_core.envelope import EventMetadata, local_day
from cordon_core.store import RETRY_CONFLICTS, EventIdConflict, PostgresEventStore, StreamAppend
from cordon_gate.adapters.state import GateState
from cordon_gate.domain.answers import ScanResult
from cordon_gate.domain.batch import BatchDecision, IncomingScan, Rejections, decide_batch
from cordon_gate.domain.context import ScanContext
from cordon_gate.domain.outcomes import pass_stream, scan_stream

DECIDE_AGAIN: tuple[type[Exception], ...] = (*RETRY_CONFLICTS, EventIdConflict)
"""Conflicts with a concurrent decision: deciding the same scans again resolves them (the
second look finds the other's answer, or the pass's new version)."""


class ScanDesk:
    def __init__(
        self,
        store: PostgresEventStore,
        state: GateState,
        *,
        timezone: ZoneInfo,
        district: str,
    ) -> None:
        self.store = store
        self.state = state
        self.timezone = timezone
        self.district = district

    async def decide(
        self,
        conn: asyncpg.Connection,
        incoming: Sequence[IncomingScan],
        *,
        actor: str,
        rejections: Rejections,
    ) -> list[ScanResult]:
        """Decide and record ``incoming`` on ``conn``: in the caller's transaction when it
        has one, else in one of its own (or one self-committing INSERT when that is all).
        ``rejections`` says what becomes of a scan naming an unknown checkpoint."""
        context = await self._load(conn, incoming)
        # Retries are rare: only then are the stored answers read in full.
        stored = await self.store.find(list(context.stored), conn=conn) if context.stored else {}
        batch = decide_batch(
            incoming, context, stored, timezone=self.timezone, actor=actor, rejections=rejections
        )
        if batch.records_nothing:
            return batch.results
        if batch.only_new_scans or conn.is_in_transaction():
            # Only new streams and nothing else: the store writes them with one INSERT,
            # which commits by itself outside a transaction (a resident's single scan costs
            # two round trips: the context and this).
            await self._record(conn, batch)
        else:
            async with conn.transaction():
                await self._record(conn, batch)
        return batch.results

    async def _load(
        self, conn: asyncpg.Connection, incoming: Sequence[IncomingScan]
    ) -> ScanContext:
        scans = [i.scan for i in incoming]
        return await self.state.context(
            conn,
            [i.outcome_id for i in incoming],
            checkpoint_ids=(s.checkpoint_id for s in scans),
            pass_codes=(s.subject_id for s in scans if s.subject_kind == "pass_holder"),
            days=(local_day(s.scanned_at, self.timezone) for s in scans),
            person_ids=(s.subject_id for s in scans if s.subject_kind != "pass_holder"),
        )

    async def _record(self, conn: asyncpg.Connection, batch: BatchDecision) -> None:
        appends = [
            StreamAppend(
                scan_stream(r.scan.checkpoint_id, r.scan.scan_id),
                r.events,
                0,
                EventMetadata.new(
                    actor=r.actor,
                    district=self.district,
                    community=r.community_id,
                    correlation_id=r.correlation_id,
                ),
                partition_key=r.scan.checkpoint_id,
            )
            for r in batch.scans
        ]
        appends += [
            StreamAppend(
                pass_stream(p.pass_id),
                p.events,
                p.first_version,
                EventMetadata.new(actor=p.actor, district=self.district),
                partition_key=p.pass_id,
            )
            for p in batch.passes
        ]
        # The outcomes were just looked up, and every caller restarts the whole
        # transaction on a conflict: no second look, no savepoint.
        await self.store.append_many(appends, conn=conn, savepoint=False, known_new=True)
        await self.state.record_pass_uses(conn, batch.uses, batch.pass_versions)
        await self.state.count_exits(
            conn, [(e.person_id, e.community_id, e.day, e.before, e.after) for e in batch.exits]
        )
        await self.state.register_visitors(conn, batch.visitors)
