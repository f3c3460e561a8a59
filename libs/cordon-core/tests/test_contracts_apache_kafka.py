"""The relay, inbox and projection contracts on PostgreSQL and the harness's broker (Apache
Kafka in KRaft mode in CI); the store's contract runs in test_event_store_contract.py."""

from cordon_testing.contracts.consumer import ConsumerContract
from cordon_testing.contracts.projection import ProjectionContract
from cordon_testing.contracts.relay import RelayContract


class TestRelayOnKafka(RelayContract):
    pass


class TestConsumerOnKafka(ConsumerContract):
    pass


class TestProjectionOnKafka(ProjectionContract):
    pass
