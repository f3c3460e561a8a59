"""The registry's private events: kept in its own store, never published.

Personal fields are sealed (AES-GCM with the person's own data key) before they reach an
event, so erasing the key makes every copy unreadable: crypto-shredding.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cordon_contracts.registry import registry as public_registry
from cordon_core.envelope import DomainEvent, EventRegistry

private_registry = EventRegistry()

SEALED = "AES-GCM ciphertext under the person's data key, base64."


@private_registry.register
class PersonalDetailsRecorded(DomainEvent):
    event_type = "PersonalDetailsRecorded"
    person_id: str
    document_type: str
    sealed_name: str = Field(description=SEALED)
    sealed_document_number: str = Field(description=SEALED)
    sealed_phone: str | None = Field(default=None, description=SEALED)
    sealed_address: str | None = Field(default=None, description=SEALED)
    recorded_at: datetime


@private_registry.register
class PersonalDataErased(DomainEvent):
    """The person's data key was destroyed: their sealed fields are unreadable for good."""

    event_type = "PersonalDataErased"
    person_id: str
    reason: str
    erased_at: datetime


PRIVATE_EVENT_TYPES = [m.event_type for m in private_registry.models]


def service_registry() -> EventRegistry:
    """Every event the registry stores: the public contracts and its private ones."""
    combined = EventRegistry()
    combined.include(public_registry)
    combined.include(private_registry)
    return combined
