"""The fast tier's unit of work keeps a transaction's promises: a use case that raises
leaves the store as it found it, a conflict is decided again, and endless conflicts end in
``TooMuchContention`` with nothing recorded."""

from typing import Any

import pytest

from cordon_core.memory_store import InMemoryEventStore
from cordon_core.memory_unit import MemoryUnitOfWork
from cordon_core.store import ConcurrencyError, EventStore
from cordon_core.unit_of_work import TooMuchContention
from cordon_testing.contracts.store import SOURCE
from cordon_testing.sample import bumps, meta, registry


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore(registry, source=SOURCE)


def test_the_memory_store_is_an_event_store(store: InMemoryEventStore) -> None:
    as_port: EventStore = store  # mypy checks the structure; this checks it at run time
    assert as_port.source == SOURCE


async def test_a_use_case_that_raises_leaves_nothing_behind(store: InMemoryEventStore) -> None:
    unit = MemoryUnitOfWork(store)
    await store.append("s-1", bumps(1), expected_version=0, metadata=meta())

    async def half_done(conn: Any) -> None:
        await store.append("s-1", bumps(1), expected_version=1, metadata=meta(), conn=conn)
        await store.append("s-2", bumps(1), expected_version=0, metadata=meta(), conn=conn)
        raise ValueError("refused after two appends")

    with pytest.raises(ValueError):
        await unit.command(half_done)

    assert [e.stream_version for e in await store.load_stream("s-1")] == [1]
    assert await store.load_stream("s-2") == []
    assert len(await store.read_all()) == 1
    # and the store goes on numbering from where it was
    [again] = await store.append("s-2", bumps(1), expected_version=0, metadata=meta())
    assert again.global_position == 2


async def test_a_conflict_undoes_the_try_and_decides_again(store: InMemoryEventStore) -> None:
    unit = MemoryUnitOfWork(store)
    tries = 0

    async def conflicted_once(conn: Any) -> int:
        nonlocal tries
        tries += 1
        await store.append(f"try-{tries}", bumps(1), expected_version=0, metadata=meta(), conn=conn)
        if tries == 1:
            raise ConcurrencyError("s", 0, 1, "version mismatch")
        return tries

    assert await unit.command(conflicted_once) == 2
    assert [e.stream_id for e in await store.read_all()] == ["try-2"]


async def test_endless_conflicts_end_in_too_much_contention(store: InMemoryEventStore) -> None:
    unit = MemoryUnitOfWork(store)

    async def always_conflicts(conn: Any) -> None:
        await store.append("s", bumps(1), expected_version=None, metadata=meta())
        raise ConcurrencyError("s", 0, 1, "version mismatch")

    with pytest.raises(TooMuchContention):
        await unit.command(always_conflicts)
    assert await store.read_all() == []
