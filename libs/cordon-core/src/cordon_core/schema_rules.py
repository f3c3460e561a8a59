"""JSON Schema for the rules a pydantic validator enforces across fields, so that a request
schema states them too (a client, and the fuzz test, read only the schema)."""

from __future__ import annotations

from typing import Any


def exactly_one_of(*fields: str) -> dict[str, Any]:
    """``json_schema_extra`` for "exactly one of these fields is given (and not null)"."""
    return {
        "oneOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in fields
        ]
    }
