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


def required_unless(field: str, key: str, values: tuple[str, ...]) -> dict[str, Any]:
    """``json_schema_extra`` for "``field`` is a non-empty text unless ``key`` is one of
    ``values``" (then it may be anything)."""
    return {
        "oneOf": [
            {"properties": {key: {"enum": list(values)}}},
            {
                "required": [field],
                "properties": {
                    key: {"not": {"enum": list(values)}},
                    field: {"type": "string", "minLength": 1},
                },
            },
        ]
    }


STORABLE_TEXT = "^[^\\u0000\\ud800-\\udfff]*$"
"""What every text in a request may hold: PostgreSQL stores neither NUL nor lone surrogates,
and every service refuses them anywhere in a request (cordon_core.input_guard)."""
STORABLE_JSON = "StorableJSON"
_STORABLE_JSON_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value whose texts (keys too) hold no NUL or lone surrogate.",
    "anyOf": [
        {"type": "string", "pattern": STORABLE_TEXT},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": {"$ref": f"#/components/schemas/{STORABLE_JSON}"}},
        {
            "type": "object",
            "propertyNames": {"pattern": STORABLE_TEXT},
            "additionalProperties": {"$ref": f"#/components/schemas/{STORABLE_JSON}"},
        },
    ],
}


def state_storable_input(document: dict[str, Any]) -> None:
    """Say in the request side of an OpenAPI document what the input guard refuses
    everywhere: every text, parameter and ignored extra field is storable text."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    requested: set[str] = set()
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                _storable(parameter.get("schema", {}), schemas, requested)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _storable(media.get("schema", {}), schemas, requested)
    if requested:
        schemas[STORABLE_JSON] = _STORABLE_JSON_SCHEMA


def _storable(node: Any, schemas: dict[str, Any], requested: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _storable(item, schemas, requested)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in requested and name in schemas:
            requested.add(name)
            _storable(schemas[name], schemas, requested)
        return
    if node.get("type") == "string" and not {"format", "enum", "const"} & node.keys():
        if "pattern" in node:
            node.setdefault("allOf", []).append({"pattern": STORABLE_TEXT})
        else:
            node["pattern"] = STORABLE_TEXT
    if node.get("type") == "object" and "additionalProperties" not in node:
        # pydantic ignores unknown fields, but the guard refuses unstorable text in them too.
        node["propertyNames"] = {"pattern": STORABLE_TEXT}
        node["additionalProperties"] = {"$ref": f"#/components/schemas/{STORABLE_JSON}"}
    for key, value in node.items():
        if key not in {"default", "example", "examples"}:  # values, not schemas
            _storable(value, schemas, requested)
