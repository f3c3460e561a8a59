"""Redaction of ID numbers and mobile numbers, re-exported from ``cordon_events.privacy``
(event contracts redact their free text, and need only pydantic)."""

from cordon_events.privacy import (
    ID_NUMBER,
    ID_NUMBER_MARK,
    PHONE_NUMBER,
    PHONE_NUMBER_MARK,
    RedactedText,
    personal_numbers,
    redact,
    redact_optional,
)

__all__ = [
    "ID_NUMBER",
    "ID_NUMBER_MARK",
    "PHONE_NUMBER",
    "PHONE_NUMBER_MARK",
    "RedactedText",
    "personal_numbers",
    "redact",
    "redact_optional",
]
