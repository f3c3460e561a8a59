"""What every use case needs: the store, the tables, the vault, the clock, and a way to
run a command in one transaction, retried when another writer got there first (or, for a
request with an Idempotency-Key, inside that request's transaction)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

import asyncpg

from cordon_core.envelope import DomainEvent, EventMetadata
from cordon_core.store import PostgresEventStore
from cordon_core.unit_of_work import command_transaction, connection, run_command
from cordon_registry.adapters.crypto import PersonalDataVault
from cordon_registry.adapters.places_table import PlacesTable
from cordon_registry.adapters.residents_table import ResidentsTable
from cordon_registry.adapters.screening_table import ScreeningTable
from cordon_registry.adapters.search_tokens_table import SearchTokensTable
from cordon_registry.adapters.staff_table import StaffTable
from cordon_registry.domain.staff import StaffMember

T = TypeVar("T")
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated staff member behind a command, and the request's correlation id."""

    staff: StaffMember
    correlation_id: uuid.UUID


class Storage(Protocol):
    """Where the registry keeps its events and tables: the service runtime, or a plain
    pool and store for the command line."""

    schema: str

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def store(self) -> PostgresEventStore: ...


@dataclass
class Registry:
    """The registry's dependencies, wired once in ``bootstrap``."""

    storage: Storage
    vault: PersonalDataVault
    district: str
    clock: Clock
    import_batch_size: int
    admin_token: str
    risk_area_max_days: int = 180

    def __post_init__(self) -> None:
        schema = self.storage.schema
        self.places = PlacesTable(schema)
        self.residents = ResidentsTable(schema, self.district)
        self.screening = ScreeningTable(schema)
        self.staff = StaffTable(schema)
        self.search_tokens = SearchTokensTable(schema)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.storage.pool

    @property
    def store(self) -> PostgresEventStore:
        return self.storage.store

    def metadata(self, caller: Caller, community_id: str | None) -> EventMetadata:
        return EventMetadata.new(
            actor=f"staff:{caller.staff.staff_id}",
            district=self.district,
            community=community_id,
            correlation_id=caller.correlation_id,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction of its own, or a savepoint of the idempotent request's."""
        async with command_transaction(self.pool) as conn:
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection to read with (the idempotent request's, when there is one)."""
        async with connection(self.pool) as conn:
            yield conn

    async def command(self, run: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``run`` in a transaction; on a concurrency conflict, reload and decide again."""
        return await run_command(self.pool, run)

    async def load(self, conn: asyncpg.Connection, stream_id: str) -> list[DomainEvent]:
        return [e.payload for e in await self.store.load_stream(stream_id, conn=conn)]
