"""JSON Schemas of every published event, generated from the pydantic models.

``python -m cordon_contracts.schemas [DIR]`` writes ``<DIR>/events/<Type>.v<N>.json``
(default DIR: ``schemas``); a test compares the committed files with the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cordon_contracts import gate, isolation, lab, registry
from cordon_core.cloudevents import ce_type, data_schema
from cordon_core.envelope import DomainEvent, EventRegistry

REGISTRIES: dict[str, tuple[EventRegistry, ...]] = {
    "gate": (gate.registry,),
    "registry": (registry.registry,),
    "isolation": (isolation.registry, lab.registry),
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


def rendered() -> dict[str, str]:
    """File name -> file text, for every event model of every service."""
    files: dict[str, str] = {}
    for service, registries in REGISTRIES.items():
        for model in (m for r in registries for m in r.models):
            name = f"events/{model.event_type}.v{model.schema_version}.json"
            files[name] = json.dumps(event_schema(service, model), indent=2, sort_keys=True) + "\n"
    return files


def main(argv: list[str]) -> None:
    root = Path(argv[0] if argv else "schemas")
    for name, text in rendered().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
