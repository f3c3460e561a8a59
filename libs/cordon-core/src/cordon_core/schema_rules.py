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


def given_unless(field: str, key: str, values: tuple[str, ...]) -> dict[str, Any]:
    """``json_schema_extra`` for "``field`` is null or absent when ``key`` is one of
    ``values``, and given otherwise" (a sub-district has no parent; a grid has one)."""
    return {
        "oneOf": [
            {"properties": {key: {"enum": list(values)}, field: {"type": "null"}}},
            {
                "required": [field],
                "properties": {key: {"not": {"enum": list(values)}}, field: {"type": "string"}},
            },
        ]
    }
