"""Cordon's event-sourcing core: envelope, event store, outbox relay, consumer and
projection runtimes."""

from cordon_core.envelope import (
    DomainEvent,
    Envelope,
    EventMetadata,
    EventRegistry,
    PendingEvent,
    UnknownEventType,
)
from cordon_core.store import ConcurrencyError, EventIdConflict, PostgresEventStore

__all__ = [
    "ConcurrencyError",
    "DomainEvent",
    "Envelope",
    "EventIdConflict",
    "EventMetadata",
    "EventRegistry",
    "PendingEvent",
    "PostgresEventStore",
    "UnknownEventType",
]
