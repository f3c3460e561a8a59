"""Event store contract: concurrency, idempotence, ordering; on PostgreSQL also transactions
and upcasting of stored rows.

``EventStoreContract`` is what every backend promises; a backend's test class subclasses it
and provides the ``store`` fixture (see libs/cordon-core/tests/test_event_store_contract.py).
``PostgresEventStoreContract`` adds what only a database has: a caller's transaction, rows
written by SQL, transaction ids.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import TypeAlias

import asyncpg
import pytest

from cordon_core.envelope import PendingEvent
from cordon_core.memory_store import InMemoryEventStore
from cordon_core.migrations import apply_migrations, core_migrations
from cordon_core.store import (
    ConcurrencyError,
    EventIdConflict,
    PostgresEventStore,
    StreamAppend,
)
from cordon_testing.sample import CounterBumped, CounterOpened, bumps, meta, registry

SCHEMA = "contract"
SOURCE = "/cordon/contract"

EventStore: TypeAlias = (
    PostgresEventStore | InMemoryEventStore
)  # both satisfy cordon_core.store.EventStore


class EventStoreContract:
    """What every event store does; subclass it with a ``store`` fixture per backend."""

    @pytest.fixture
    def store(self) -> EventStore:
        raise NotImplementedError("a backend's test class provides the store")

    async def test_appended_events_load_in_version_order_with_their_metadata(
        self, store: EventStore
    ) -> None:
        m = meta()
        opened = PendingEvent(CounterOpened(label="gate 1"))
        stored = await store.append(
            "counter-1", [opened, *bumps(2)], expected_version=0, metadata=m
        )

        loaded = await store.load_stream("counter-1")

        assert [e.stream_version for e in loaded] == [1, 2, 3]
        assert loaded == stored
        assert loaded[0].event_id == opened.event_id
        assert loaded[0].payload == CounterOpened(label="gate 1")
        assert {e.correlation_id for e in loaded} == {m.correlation_id}
        assert loaded[0].community == "c1" and loaded[0].district == "d1"
        assert loaded[0].partition_key == "counter-1"

    async def test_several_streams_load_at_once_each_in_version_order(
        self, store: EventStore
    ) -> None:
        await store.append("counter-1", bumps(2), expected_version=0, metadata=meta())
        await store.append("counter-2", bumps(3), expected_version=0, metadata=meta())

        loaded = await store.load_streams(["counter-2", "counter-9", "counter-1"])

        assert list(loaded) == ["counter-2", "counter-9", "counter-1"]
        assert loaded["counter-1"] == await store.load_stream("counter-1")
        assert [e.stream_version for e in loaded["counter-2"]] == [1, 2, 3]
        assert loaded["counter-9"] == []

    async def test_append_with_stale_expected_version_raises_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        await store.append("counter-1", bumps(2), expected_version=0, metadata=meta())

        with pytest.raises(ConcurrencyError) as raised:
            await store.append("counter-1", bumps(1), expected_version=1, metadata=meta())

        assert raised.value.actual_version == 2
        assert await store.stream_version("counter-1") == 2

    async def test_appending_to_an_existing_stream_as_new_conflicts_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        await store.append("counter-1", bumps(2), expected_version=0, metadata=meta())

        with pytest.raises(ConcurrencyError):
            await store.append("counter-1", bumps(1), expected_version=0, metadata=meta())

        assert await store.stream_version("counter-1") == 2
        assert len(await store.read_all()) == 2

    async def test_two_racing_writers_on_one_stream_exactly_one_wins(
        self, store: EventStore
    ) -> None:
        results = await asyncio.gather(
            *(
                store.append("race", bumps(3), expected_version=0, metadata=meta())
                for _ in range(6)
            ),
            return_exceptions=True,
        )

        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(r, ConcurrencyError) for r in results if r not in winners)
        assert [e.stream_version for e in await store.load_stream("race")] == [1, 2, 3]

    async def test_reappending_the_same_event_ids_is_a_no_op(self, store: EventStore) -> None:
        events = bumps(2)
        first = await store.append("counter-1", events, expected_version=0, metadata=meta())

        again = await store.append("counter-1", events, expected_version=0, metadata=meta())

        assert again == first
        assert await store.stream_version("counter-1") == 2

    async def test_partly_stored_event_ids_are_a_conflict_not_a_retry(
        self, store: EventStore
    ) -> None:
        events = bumps(2)
        await store.append("counter-1", events[:1], expected_version=0, metadata=meta())

        with pytest.raises(EventIdConflict):
            await store.append("counter-1", events, expected_version=1, metadata=meta())

    async def test_read_all_returns_every_stream_in_global_position_order(
        self, store: EventStore
    ) -> None:
        await store.append("a", bumps(2), expected_version=0, metadata=meta())
        await store.append("b", bumps(1), expected_version=0, metadata=meta())
        await store.append("a", bumps(1), expected_version=2, metadata=meta())

        everything = await store.read_all()
        after_two = await store.read_all(after_position=everything[1].global_position or 0)

        assert [(e.stream_id, e.stream_version) for e in everything] == [
            ("a", 1),
            ("a", 2),
            ("b", 1),
            ("a", 3),
        ]
        assert after_two == everything[2:]

    async def test_append_many_writes_several_streams_in_one_go_in_version_order(
        self, store: EventStore
    ) -> None:
        await store.append("a", bumps(1), expected_version=0, metadata=meta())

        results = await store.append_many(
            [
                StreamAppend("a", bumps(2), 1, meta()),
                StreamAppend("b", bumps(1), 0, meta(), partition_key="k"),
                StreamAppend("a", bumps(1), 3, meta()),
            ]
        )

        assert [[e.stream_version for e in r] for r in results] == [[2, 3], [1], [4]]
        assert results[1][0].partition_key == "k"
        loaded = await store.load_stream("a")
        assert loaded[1:] == [*results[0], *results[2]], "returned envelopes equal stored ones"

    async def test_append_many_is_all_or_nothing_on_a_conflict(self, store: EventStore) -> None:
        await store.append("a", bumps(1), expected_version=0, metadata=meta())

        with pytest.raises(ConcurrencyError):
            await store.append_many(
                [StreamAppend("b", bumps(1), 0, meta()), StreamAppend("a", bumps(1), 0, meta())]
            )

        assert await store.stream_version("b") == 0

    async def test_append_many_retried_after_partial_success_writes_only_the_new_ones(
        self, store: EventStore
    ) -> None:
        first = StreamAppend("a", bumps(2), 0, meta())
        second = StreamAppend("b", bumps(1), 0, meta())
        [already] = await store.append_many([first])

        again = await store.append_many([first, second])

        assert again[0] == already
        assert [e.stream_version for e in again[1]] == [1]
        assert len(await store.read_all()) == 3


class PostgresEventStoreContract(EventStoreContract):
    """Every store's promises on PostgreSQL, and what only the database store offers."""

    @pytest.fixture
    async def pool(self, database_url: str) -> AsyncIterator[asyncpg.Pool]:
        pool = await asyncpg.create_pool(database_url, min_size=2, max_size=12)
        async with pool.acquire() as conn:
            await apply_migrations(conn, SCHEMA, core_migrations())
        yield pool
        await pool.close()

    @pytest.fixture
    def store(self, pool: asyncpg.Pool) -> PostgresEventStore:
        return PostgresEventStore(pool, SCHEMA, registry, source=SOURCE)

    async def test_appending_to_an_existing_stream_as_new_conflicts_and_leaves_the_caller_usable(
        self, store: PostgresEventStore, pool: asyncpg.Pool
    ) -> None:
        await store.append("counter-1", bumps(2), expected_version=0, metadata=meta())

        async with pool.acquire() as conn, conn.transaction():
            with pytest.raises(ConcurrencyError):
                await store.append(
                    "counter-1", bumps(1), expected_version=0, metadata=meta(), conn=conn
                )
            await store.append(
                "counter-2", bumps(1), expected_version=0, metadata=meta(), conn=conn
            )

        assert await store.stream_version("counter-1") == 2
        assert await store.stream_version("counter-2") == 1

    async def test_an_event_stored_at_an_old_schema_version_loads_upcast(
        self, store: PostgresEventStore, pool: asyncpg.Pool
    ) -> None:
        await pool.execute(
            f"""INSERT INTO {SCHEMA}.events (event_id, stream_id, stream_version,
                    partition_key, event_type, schema_version, payload, occurred_at,
                    correlation_id, actor, district)
                VALUES ($1, 'old', 1, 'old', 'CounterBumped', 1, $2::jsonb, now(), $3,
                        'x', 'd1')""",
            uuid.uuid4(),
            json.dumps({"amount": 7}),
            uuid.uuid4(),
        )

        [event] = await store.load_stream("old")

        assert event.payload == CounterBumped(by=7, note="upcast from v1")
        assert event.schema_version == 2

    async def test_append_refuses_a_stream_head_written_by_a_newer_transaction(
        self, store: PostgresEventStore, pool: asyncpg.Pool
    ) -> None:
        """A transaction whose id is older than the head's writer would be published
        before that head; the store makes it retry rather than break stream order."""
        await store.append("s", bumps(1), expected_version=0, metadata=meta())
        async with pool.acquire() as old, old.transaction():
            await store.append("elsewhere", bumps(1), expected_version=0, metadata=meta(), conn=old)
            await store.append("s", bumps(1), expected_version=1, metadata=meta())  # newer tx

            with pytest.raises(ConcurrencyError, match="newer"):
                await store.append("s", bumps(1), expected_version=2, metadata=meta(), conn=old)
