"""How Cordon's events are named on the wire (CloudEvents 1.0): what an outside consumer
matches on, and what the contracts' schemas and AsyncAPI document publish."""

from __future__ import annotations

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


def ce_type(event_type: str) -> str:
    """The ``ce_type`` header of an event type."""
    return f"cordon.{event_type}"


def data_schema(event_type: str, version: int) -> str:
    """The ``ce_dataschema`` header: the event type's JSON Schema at ``version``."""
    return f"urn:cordon:schema:{event_type}:v{version}"
