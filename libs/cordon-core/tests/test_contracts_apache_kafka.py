"""The store, relay, inbox and projection contracts on PostgreSQL and the harness's broker
(Apache Kafka in KRaft mode in CI)."""

from cordon_testing.contracts.consumer import ConsumerContract
from cordon_testing.contracts.projection import ProjectionContract
from cordon_testing.contracts.relay import RelayContract
from cordon_testing.contracts.store import EventStoreContract


class TestEventStoreOnPostgres(EventStoreContract):
    pass


class TestRelayOnKafka(RelayContract):
    pass


class TestConsumerOnKafka(ConsumerContract):
    pass


class TestProjectionOnKafka(ProjectionContract):
    pass
