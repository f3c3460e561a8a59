"""The relay and consumer contracts on the Tansu fallback broker (no idempotent producers),
so the zero-setup run keeps the same guarantees it claims."""

import pytest

from cordon_testing.contracts.consumer import ConsumerContract
from cordon_testing.contracts.projection import ProjectionContract
from cordon_testing.contracts.relay import RelayContract
from cordon_testing.plugin import KafkaBackend


@pytest.fixture
def kafka_backend(tansu_backend: KafkaBackend) -> KafkaBackend:
    return tansu_backend


class TestRelayOnTansu(RelayContract):
    pass


class TestConsumerOnTansu(ConsumerContract):
    pass


TANSU_END_OFFSETS = (
    "Tansu's end_offsets() reports fewer records than its topics hold (measured here: a"
    " rebuild stopped at 188 of 200), so a rebuild cannot tell where the log ends; rebuilds"
    " need Apache Kafka, which runs this contract in test_contracts_apache_kafka.py"
)


@pytest.mark.skip(reason=TANSU_END_OFFSETS)
class TestProjectionOnTansu(ProjectionContract):
    pass
