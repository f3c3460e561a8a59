"""The event envelope, re-exported from ``cordon_events`` (which needs only pydantic, so the
event contracts can be installed without the core's PostgreSQL and Kafka runtime)."""

from cordon_events.envelope import (
    DomainEvent,
    Envelope,
    EventMetadata,
    EventRegistry,
    PendingEvent,
    UnknownEventType,
    Upcaster,
    local_day,
    utc_now,
)

__all__ = [
    "DomainEvent",
    "Envelope",
    "EventMetadata",
    "EventRegistry",
    "PendingEvent",
    "UnknownEventType",
    "Upcaster",
    "local_day",
    "utc_now",
]
