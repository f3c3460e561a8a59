"""Read models as of a past moment: the topics replayed into a scratch schema, keeping only
the events recorded (``ce_recordedtime``) at or before that moment.

The live tables are never touched. A replayed moment is kept for a while (a few of them,
least recently used first out) so that drilling down does not replay again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from cordon_core.consumer import MalformedRecord
from cordon_core.envelope import Envelope, EventRegistry
from cordon_core.migrations import Migration, apply_migrations
from cordon_core.projection import FanOut, Projection, decode_record, records_to_end
from cordon_projector.projections import SourcedProjection

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]


async def replay(
    projections: Sequence[Projection],
    topics: dict[str, list[str]],
    *,
    bootstrap: str,
    pool: asyncpg.Pool,
    registry: EventRegistry,
    until: datetime | None = None,
    progress: Progress | None = None,
    max_records: int = 5000,
) -> int:
    """Read every topic once from the beginning to its current end and apply each event
    (recorded at or before ``until``, once per event id) to the projections that want it,
    one transaction per fetched batch. Returns the events applied. The projections' tables
    must be empty; no inbox is kept (the scratch schema is thrown away)."""
    fan_out = FanOut((p, topics[p.name], p.event_types) for p in projections)
    seen: set[uuid.UUID] = set()
    applied = read = total = 0

    def started(done: int, of: int) -> None:
        nonlocal total
        total = of

    batches = records_to_end(bootstrap, fan_out.topics, max_records=max_records, progress=started)
    async with contextlib.aclosing(batches):
        async for records in batches:
            wanted: dict[Projection, list[Envelope]] = defaultdict(list)
            for record in records:
                targets = fan_out.targets(record)
                if not targets:
                    continue
                envelope = decode_record(record, registry)
                # An unreadable record: the live consumer dead-letters it; a view of the past
                # skips it.
                if isinstance(envelope, MalformedRecord) or envelope.event_id in seen:
                    continue
                if until is not None and envelope.recorded_at > until:
                    continue
                seen.add(envelope.event_id)
                applied += 1
                for projection in targets:
                    wanted[projection].append(envelope)
            if wanted:
                async with pool.acquire() as conn, conn.transaction():
                    for projection, envelopes in wanted.items():
                        await projection.apply_batch(conn, envelopes)
            read += len(records)
            if progress:
                progress(read, total)
    return applied


class PastMoments:
    """Scratch schemas holding the read models as of past moments, replayed on demand."""

    def __init__(
        self,
        *,
        base_schema: str,
        migrations: list[Migration],
        make_projections: Callable[[str, ZoneInfo], Sequence[SourcedProjection]],
        topics_of: Callable[[SourcedProjection], list[str]],
        timezone: ZoneInfo,
        bootstrap: str,
        registry: EventRegistry,
        keep: int = 4,
        keep_seconds: float = 300.0,
    ) -> None:
        self.base_schema = base_schema
        self.migrations = migrations
        self.make_projections = make_projections
        self.topics_of = topics_of
        self.timezone = timezone
        self.bootstrap = bootstrap
        self.registry = registry
        self.keep = keep
        self.keep_seconds = keep_seconds
        self._schemas: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def schema_name(self, until: datetime) -> str:
        digest = hashlib.sha1(until.isoformat().encode()).hexdigest()[:12]
        return f"{self.base_schema}_asof_{digest}"

    async def schema_for(
        self, pool: asyncpg.Pool, until: datetime, progress: Progress | None = None
    ) -> str:
        """The scratch schema with every read model as of ``until``, replayed if needed."""
        key = until.isoformat()
        async with self._locks[key]:
            kept = self._schemas.get(key)
            if kept and time.monotonic() - kept[1] < self.keep_seconds:
                self._schemas.move_to_end(key)
                return kept[0]
            schema = self.schema_name(until)
            started = time.perf_counter()
            async with pool.acquire() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                await apply_migrations(conn, schema, self.migrations)
            projections = self.make_projections(schema, self.timezone)
            applied = await replay(
                projections,
                {p.name: self.topics_of(p) for p in projections},
                bootstrap=self.bootstrap,
                pool=pool,
                registry=self.registry,
                until=until,
                progress=progress,
            )
            self._schemas[key] = (schema, time.monotonic())
            log.info(
                "past_moment_replayed",
                until=key,
                schema=schema,
                events=applied,
                seconds=round(time.perf_counter() - started, 2),
            )
            await self._evict(pool)
            return schema

    async def _evict(self, pool: asyncpg.Pool) -> None:
        while len(self._schemas) > self.keep:
            key, (schema, _) = self._schemas.popitem(last=False)
            self._locks.pop(key, None)
            async with pool.acquire() as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    async def drop_all(self, pool: asyncpg.Pool) -> None:
        """Drop every scratch schema of this projector, also those a previous run left."""
        async with pool.acquire() as conn:
            for row in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
                f"{self.base_schema}\\_asof\\_%",
            ):
                await conn.execute(f"DROP SCHEMA IF EXISTS {row['nspname']} CASCADE")
        self._schemas.clear()
