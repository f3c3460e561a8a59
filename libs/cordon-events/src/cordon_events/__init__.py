"""Cordon's event envelope and payload base: what the event contracts are built on, with
pydantic as the only dependency (no database, no Kafka client)."""

from cordon_events.envelope import (
    DomainEvent,
    Envelope,
    EventMetadata,
    EventRegistry,
    PendingEvent,
    UnknownEventType,
)

__all__ = [
    "DomainEvent",
    "Envelope",
    "EventMetadata",
    "EventRegistry",
    "PendingEvent",
    "UnknownEventType",
]
