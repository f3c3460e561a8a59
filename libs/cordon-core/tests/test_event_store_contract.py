"""The event store contract, once per backend, as pyeventsourcing runs one suite per
recorder: PostgreSQL (with what only a database offers) and memory (the fast tier's store)."""

import pytest

from cordon_core.memory_store import InMemoryEventStore
from cordon_testing.contracts.store import SOURCE, EventStoreContract, PostgresEventStoreContract
from cordon_testing.sample import registry


class TestEventStoreOnPostgres(PostgresEventStoreContract):
    pass


class TestEventStoreInMemory(EventStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryEventStore:
        return InMemoryEventStore(registry, source=SOURCE)
