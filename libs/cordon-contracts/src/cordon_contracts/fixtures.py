"""Deterministic example payloads, generated from an event's JSON Schema.

Each released ``<Type>.v<N>`` gets one example, written once to
``schemas/fixtures/<Type>.v<N>.json`` by ``python -m cordon_contracts.compat release`` and
committed: it stands for an event of that version stored years ago, and a test decodes every
one through the registries into today's model (upcasting older versions). The same
generator gives the AsyncAPI document its message examples.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cordon_contracts.schemas import dumps, inline_definitions

EXAMPLE_DATETIME = "2022-04-01T08:00:00+08:00"
EXAMPLE_DATE = "2022-04-01"
EXAMPLE_UUID = "00000000-0000-4000-8000-000000000001"
_FORMATS = {
    "date-time": EXAMPLE_DATETIME,
    "date": EXAMPLE_DATE,
    "time": "08:00:00+08:00",
    "duration": "PT1H",
    "uuid": EXAMPLE_UUID,
    "email": "someone@example.org",
    "uri": "https://example.org/",
}
_FALLBACK_STRINGS = ("example", "EXAMPLE", "x1", "1", "a")


def example_payload(schema: dict[str, Any]) -> dict[str, Any]:
    """One deterministic payload valid under ``schema``, with every property filled in
    (optional ones too, so the example shows all of them)."""
    value = _example(inline_definitions(schema), "")
    if not isinstance(value, dict):
        raise ValueError("an event schema describes a JSON object")
    return value


def _example(schema: dict[str, Any], name: str) -> Any:
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):  # the model's own example, for what a pattern alone can't give
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            branches = [b for b in schema[combinator] if b.get("type") != "null"]
            return _example(branches[0], name) if branches else None
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return _example(merged, name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        if "properties" in schema:
            return {key: _example(sub, key) for key, sub in sorted(schema["properties"].items())}
        extra = schema.get("additionalProperties")
        if not isinstance(extra, dict):
            return {}
        key = _example({"type": "string", **schema.get("propertyNames", {})}, "key")
        return {key: _example(extra, name)}
    if kind == "array":
        item = _example(schema.get("items", {}), name)
        return [item] * max(1, int(schema.get("minItems", 1)))
    if kind == "string":
        return _string(schema, name)
    if kind == "integer":
        return int(_number(schema, 1))
    if kind == "number":
        return float(_number(schema, 1.5))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return f"{name or 'value'}-1"


def _string(schema: dict[str, Any], name: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    candidates = [f"{name.replace('_', '-') or 'value'}-1", *_FALLBACK_STRINGS]
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", 10_000))
    pattern = schema.get("pattern")
    for candidate in candidates:
        value = (candidate * (low // max(len(candidate), 1) + 1))[: max(low, len(candidate))]
        value = value[:high]
        if pattern is None or re.search(pattern, value):
            return value
    return candidates[0][:high]


def _number(schema: dict[str, Any], default: float) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        middle: float = (float(low) + float(high)) / 2
        return round(middle) if schema.get("type") == "integer" else middle
    if low is not None:
        return float(low) + (1 if "exclusiveMinimum" in schema else 0)
    if high is not None:
        return min(default, float(high) - (1 if "exclusiveMaximum" in schema else 0))
    return default


def write_missing(fixtures: Path, released: dict[str, dict[str, Any]]) -> list[Path]:
    """Write a fixture for every released ``<Type>.v<N>`` that has none; never rewrite one
    (a fixture is an old event: it must not follow later changes of its schema)."""
    written = []
    for name, schema in sorted(released.items()):
        path = fixtures / f"{name}.json"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(example_payload(schema)), encoding="utf-8")
        written.append(path)
    return written
