"""Which records a rebuild decodes, and for whom, told from the topic and ``ce_type`` header
before anything is decoded (no infrastructure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from cordon_core.cloudevents import envelope_to_record
from cordon_core.consumer import CloudEventCodec
from cordon_core.envelope import Envelope
from cordon_core.projection import FanOut
from cordon_testing.sample import CounterBumped, registry


def a_record(
    topic: str, headers: list[tuple[str, bytes]], value: bytes
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=headers,
    )


def typed(topic: str, ce_type: bytes) -> ConsumerRecord[Any, Any]:
    return a_record(topic, [("ce_specversion", b"1.0"), ("ce_type", ce_type)], b"{}")


def test_a_record_goes_to_every_projection_of_its_topic_that_wants_its_type() -> None:
    fan_out = FanOut(
        [
            ("totals", ["a.events"], ["CounterBumped"]),
            ("labels", ["a.events"], ["CounterOpened", "CounterBumped"]),
            ("elsewhere", ["b.events"], ["CounterBumped"]),
        ]
    )

    assert fan_out.targets(typed("a.events", b"cordon.CounterBumped")) == ["totals", "labels"]
    assert fan_out.targets(typed("a.events", b"cordon.CounterOpened")) == ["labels"]
    assert fan_out.targets(typed("b.events", b"cordon.CounterBumped")) == ["elsewhere"]
    assert fan_out.targets(typed("a.events", b"cordon.SomethingNew")) == []
    assert fan_out.topics == ["a.events", "b.events"]


def test_a_record_that_is_not_a_cordon_event_goes_to_every_consumer_of_its_topic() -> None:
    # They cannot read it either: each dead-letters it, as its live consumer would.
    fan_out = FanOut([("totals", ["a.events"], ["CounterBumped"]), ("b", ["b.events"], [])])

    assert fan_out.targets(a_record("a.events", [], b"hello")) == ["totals"]
    assert fan_out.targets(typed("a.events", b"com.example.Other")) == ["totals"]


def test_a_consumer_skips_a_type_it_does_not_want_without_decoding_the_record() -> None:
    bumped = Envelope(
        event_id=uuid.uuid4(),
        event_type="CounterBumped",
        schema_version=2,
        stream_id="s",
        stream_version=1,
        partition_key="k",
        occurred_at=datetime(2022, 4, 1, 8, tzinfo=UTC),
        recorded_at=datetime(2022, 4, 1, 8, tzinfo=UTC),
        correlation_id=uuid.uuid4(),
        causation_id=None,
        actor="test",
        district="d",
        community=None,
        payload=CounterBumped(by=1),
    )
    _, _, headers = envelope_to_record(bumped)
    unreadable = a_record("a.events", headers, b"this is not JSON")

    assert CloudEventCodec(registry, ["CounterOpened"]).decode(unreadable) is None
