"""JSON Schemas of every published event, generated from the pydantic models.

``python -m cordon_contracts.schemas [DIR]`` writes ``<DIR>/events/<Type>.v<N>.json``
(default DIR: ``schemas``); a test compares the committed files with the models.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from cordon_contracts import gate, isolation, lab, notification, registry
from cordon_events.cloudevents import ce_type, data_schema
from cordon_events.envelope import DomainEvent, EventRegistry

REGISTRIES: dict[str, tuple[EventRegistry, ...]] = {
    "gate": (gate.registry,),
    "registry": (registry.registry,),
    "isolation": (isolation.registry, lab.registry),
    "notification": (notification.registry,),
}
"""The publishing service of each registry (its events go to <prefix>.<service>.events)."""


def event_schema(service: str, model: type[DomainEvent]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["$id"] = data_schema(model.event_type, model.schema_version)
    schema["x-cordon"] = {
        "ce_type": ce_type(model.event_type),
        "schema_version": model.schema_version,
        "topic": f"<prefix>.{service}.events",
        "publisher": service,
    }
    return schema


def schema_name(event_type: str, version: int) -> str:
    """``<Type>.v<N>``: how files, fixtures and AsyncAPI components name a schema."""
    return f"{event_type}.v{version}"


def parse_schema_name(name: str) -> tuple[str, int]:
    """``"PersonEntered.v1"`` (or ``"PersonEntered.v1.json"``) -> ``("PersonEntered", 1)``."""
    stem = name.removesuffix(".json")
    event_type, _, version = stem.rpartition(".v")
    if not event_type or not version.isdigit():
        raise ValueError(f"{name!r} is not named <Type>.v<N>")
    return event_type, int(version)


def event_models() -> list[tuple[str, type[DomainEvent]]]:
    """(publishing service, current model) for every event, in ``REGISTRIES`` order."""
    return [
        (service, model)
        for service, registries in REGISTRIES.items()
        for model in (m for r in registries for m in r.models)
    ]


def current_schemas() -> dict[str, dict[str, Any]]:
    """``<Type>.v<N>`` -> JSON Schema, for the current version of every event type."""
    return {
        schema_name(model.event_type, model.schema_version): event_schema(service, model)
        for service, model in event_models()
    }


def registry_of(event_type: str) -> EventRegistry | None:
    """The contracts registry that holds ``event_type`` (and its upcasters), if any."""
    for registries in REGISTRIES.values():
        for r in registries:
            if r.knows(event_type):
                return r
    return None


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with every local ``{"$ref": "#/$defs/X"}`` replaced by X itself
    and ``$defs`` dropped, so the schema can be embedded elsewhere (AsyncAPI components) or
    walked without a resolver. Event payloads are trees, never recursive."""
    definitions: dict[str, Any] = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in seen:
                raise ValueError(f"recursive schema through {name!r} cannot be inlined")
            target = resolve(copy.deepcopy(definitions[name]), (*seen, name))
            siblings = {k: resolve(v, seen) for k, v in node.items() if k != "$ref"}
            return {**target, **siblings}
        return {k: resolve(v, seen) for k, v in node.items() if k != "$defs"}

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved


def dumps(document: Any) -> str:
    """The one JSON layout of every generated contract file (stable diffs)."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def rendered() -> dict[str, str]:
    """File name -> file text, for every event model of every service."""
    return {f"events/{name}.json": dumps(schema) for name, schema in current_schemas().items()}


def main(argv: list[str]) -> None:
    root = Path(argv[0] if argv else "schemas")
    for name, text in rendered().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
