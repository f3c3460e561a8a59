"""The AsyncAPI document: committed, complete, consistent, and served by the services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from fastapi import FastAPI

from cordon_contracts.asyncapi import document, install_asyncapi, rendered
from cordon_contracts.schemas import REGISTRIES, event_models
from cordon_contracts.topics import catalogue

COMMITTED = Path(__file__).resolve().parents[1] / "schemas" / "asyncapi.json"


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == rendered(), (
        "schemas/asyncapi.json is stale: uv run python -m cordon_contracts.asyncapi"
    )


def test_every_topic_of_the_catalogue_is_a_channel_with_its_address_key_and_settings() -> None:
    doc = document()
    channels = {c["address"]: c for c in doc["channels"].values()}

    assert doc["asyncapi"] == "3.0.0"
    for spec in catalogue().topics:
        channel = channels[spec.address]
        kafka = channel["bindings"]["kafka"]
        assert kafka["partitions"] == spec.partitions and kafka["replicas"] == 3
        assert channel["x-cordon"]["key"] == spec.key
        for ref in channel["messages"].values():
            message = resolve(doc, ref["$ref"])
            assert message["bindings"]["kafka"]["key"]["description"] == spec.key
    events = channels["{prefix}.gate.events"]["bindings"]["kafka"]["topicConfiguration"]
    assert events == {"cleanup.policy": ["delete"], "retention.ms": -1, "retention.bytes": -1}


def test_every_event_of_every_registry_is_a_message_of_its_publishers_channel() -> None:
    doc = document()
    by_address = {c["address"]: c for c in doc["channels"].values()}
    for service, model in event_models():
        name = f"{model.event_type}.v{model.schema_version}"
        channel = by_address[f"{{prefix}}.{service}.events"]

        message = resolve(doc, channel["messages"][name]["$ref"])
        payload = resolve(doc, message["payload"]["$ref"])

        assert message["name"] == model.event_type
        assert message["headers"]["allOf"][0] == {"$ref": "#/components/schemas/CloudEventsHeaders"}
        assert message["headers"]["allOf"][1]["properties"]["ce_type"]["const"] == (
            f"cordon.{model.event_type}"
        )
        assert payload["$id"] == f"urn:cordon:schema:{model.event_type}:v{model.schema_version}"
        assert "$defs" not in json.dumps(payload), "component schemas must be self-contained"
    assert set(REGISTRIES) <= {a.split(".")[1] for a in by_address if a.endswith(".events")}


def test_each_operation_points_at_messages_of_its_channel() -> None:
    doc = document()
    for operation in doc["operations"].values():
        channel = resolve(doc, operation["channel"]["$ref"])
        for ref in operation["messages"]:
            assert ref["$ref"].startswith(operation["channel"]["$ref"] + "/messages/")
            assert resolve(doc, ref["$ref"]) in channel["messages"].values()


def test_every_message_example_is_valid_under_its_payload_and_header_schemas() -> None:
    doc = document()
    headers_schema = doc["components"]["schemas"]["CloudEventsHeaders"]
    jsonschema.Draft202012Validator.check_schema(headers_schema)
    for name, message in doc["components"]["messages"].items():
        payload_schema = (
            resolve(doc, message["payload"]["$ref"])
            if "$ref" in message.get("payload", {})
            else message["payload"]
        )
        jsonschema.Draft202012Validator.check_schema(payload_schema)
        for example in message.get("examples", []):
            jsonschema.validate(example["payload"], payload_schema)
            jsonschema.validate(example["headers"], headers_schema)
            for extra in message["headers"]["allOf"][1:]:
                jsonschema.validate(example["headers"], extra)
        assert name


async def test_a_service_serves_the_document() -> None:
    app = FastAPI()
    install_asyncapi(app)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:
        response = await client.get("/asyncapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == document()
