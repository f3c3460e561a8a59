"""The consumers' lean batch parser: FastStream decodes one record's headers, yet the message
it hands on still carries the whole batch, so a failed batch rewinds every partition it
read from and a handled one reaches the handler whole (no infrastructure)."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka.message import KafkaAckableMessage
from faststream.kafka.parser import AioKafkaBatchParser

from cordon_core.runtime import _parse_batch_lean


class SeekRecorder:
    def __init__(self) -> None:
        self.seeks: dict[TopicPartition, int] = {}
        self.commits = 0

    async def commit(self) -> None:
        self.commits += 1

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition] = offset


def a_record(partition: int, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="t.events",
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=[("ce_type", b"cordon.CounterBumped")],
    )


async def test_a_failed_batch_rewinds_every_partition_it_read_to_its_first_record() -> None:
    parser = AioKafkaBatchParser(msg_class=KafkaAckableMessage, regex=None)
    consumer = SeekRecorder()
    parser._setup(consumer)
    batch = (a_record(0, 7), a_record(1, 3), a_record(0, 8), a_record(2, 5), a_record(1, 4))

    message = await _parse_batch_lean(batch, parser.parse_batch)
    await message.nack()

    assert message.raw_message == batch
    assert consumer.seeks == {
        TopicPartition("t.events", 0): 7,
        TopicPartition("t.events", 1): 3,
        TopicPartition("t.events", 2): 5,
    }


async def test_a_handled_batch_is_committed_once() -> None:
    parser = AioKafkaBatchParser(msg_class=KafkaAckableMessage, regex=None)
    consumer = SeekRecorder()
    parser._setup(consumer)

    message = await _parse_batch_lean((a_record(0, 1), a_record(1, 1)), parser.parse_batch)
    await message.ack()

    assert (consumer.commits, consumer.seeks) == (1, {})
