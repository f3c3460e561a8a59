"""Unit tests of the envelope, registry and CloudEvents codec (no infrastructure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cordon_core.cloudevents import MalformedEvent, envelope_to_record, record_to_envelope
from cordon_core.envelope import Envelope, EventMetadata, UnknownEventType
from cordon_testing.sample import CounterBumped, registry


def an_envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = dict(
        event_id=uuid.uuid4(),
        event_type="CounterBumped",
        schema_version=2,
        stream_id="s",
        stream_version=3,
        partition_key="k",
        occurred_at=datetime(2022, 4, 1, 8, tzinfo=UTC),
        recorded_at=datetime(2022, 4, 1, 8, 0, 1, tzinfo=UTC),
        correlation_id=uuid.uuid4(),
        causation_id=uuid.uuid4(),
        actor="device:7",
        district="d",
        community="c",
        payload=CounterBumped(by=2),
        source="/cordon/test",
    )
    fields.update(overrides)
    return Envelope(**fields)  # type: ignore[arg-type]


def test_an_envelope_survives_the_cloudevents_round_trip() -> None:
    envelope = an_envelope()

    key, value, headers = envelope_to_record(envelope)
    decoded = record_to_envelope(headers, value, registry)

    assert key == b"k"
    assert decoded == envelope


def test_an_envelope_without_community_or_cause_round_trips() -> None:
    envelope = an_envelope(community=None, causation_id=None)

    _, value, headers = envelope_to_record(envelope)

    assert record_to_envelope(headers, value, registry) == envelope


def test_a_record_without_cloudevents_headers_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="specversion"):
        record_to_envelope([], b"{}", registry)


def test_a_payload_that_breaks_its_schema_is_malformed() -> None:
    _, _, headers = envelope_to_record(an_envelope())

    with pytest.raises(MalformedEvent, match="ValidationError"):
        record_to_envelope(headers, b'{"by": "lots"}', registry)


def test_an_old_payload_version_is_upcast_to_the_current_model() -> None:
    assert registry.decode("CounterBumped", 1, {"amount": 4}) == CounterBumped(
        by=4, note="upcast from v1"
    )


def test_an_unknown_type_or_a_future_version_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        registry.decode("Nope", 1, {})
    with pytest.raises(UnknownEventType, match="newer"):
        registry.decode("CounterBumped", 3, {"by": 1})


def test_metadata_of_a_reaction_keeps_the_correlation_and_names_the_cause() -> None:
    cause = an_envelope()
    reaction = EventMetadata.new(actor="policy", district="d").caused_by(cause)

    assert reaction.correlation_id == cause.correlation_id
    assert reaction.causation_id == cause.event_id


def test_a_record_of_an_old_payload_version_is_upcast_when_decoded() -> None:
    _, _, headers = envelope_to_record(an_envelope())
    v1 = [(k, b"1" if k == "ce_schemaversion" else v) for k, v in headers]

    decoded = record_to_envelope(v1, b'{"amount": 4}', registry)

    assert decoded.payload == CounterBumped(by=4, note="upcast from v1")
    assert decoded.schema_version == 2


def test_a_payload_that_is_not_a_json_object_is_malformed() -> None:
    _, _, headers = envelope_to_record(an_envelope())

    for value in (b"{not json", b"[1, 2]", None):
        with pytest.raises(MalformedEvent):
            record_to_envelope(headers, value, registry)


def test_a_record_whose_event_id_is_not_a_uuid_is_malformed() -> None:
    _, value, headers = envelope_to_record(an_envelope())
    bad = [(k, b"not-a-uuid" if k == "ce_id" else v) for k, v in headers]

    with pytest.raises(MalformedEvent):
        record_to_envelope(bad, value, registry)
