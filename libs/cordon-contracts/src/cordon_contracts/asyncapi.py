"""The AsyncAPI 3.0 document of Cordon's topics, generated from ``REGISTRIES`` and the topic
catalogue (``cordon_contracts.topics``).

``python -m cordon_contracts.asyncapi [PATH]`` writes it (default ``schemas/asyncapi.json``;
a test fails when the committed file is stale); every service serves the same document at
``GET /asyncapi.json`` (``install_asyncapi``).
"""

from __future__ import annotations

import functools
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cordon_contracts.fixtures import EXAMPLE_DATETIME, EXAMPLE_UUID, example_payload
from cordon_contracts.schemas import (
    dumps,
    event_models,
    event_schema,
    inline_definitions,
    schema_name,
)
from cordon_contracts.topics import TopicSpec, catalogue
from cordon_events.cloudevents import CONTENT_TYPE, SPEC_VERSION, ce_type, data_schema
from cordon_events.envelope import DomainEvent

if TYPE_CHECKING:
    from fastapi import FastAPI

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
PATH = "/asyncapi.json"

DESCRIPTION = """\
The events Cordon publishes on Kafka, for consumers that do not use Cordon's code.

Events travel in CloudEvents 1.0 Kafka binary mode: the envelope is in `ce_*` headers
(`ce_type` = `cordon.<EventType>`, `ce_schemaversion`, `ce_dataschema` =
`urn:cordon:schema:<EventType>:v<N>`), the record value is the payload as UTF-8 JSON, and the
record key is the aggregate's partition key (`ce_partitionkey`). Payload schemas are the
committed `schemas/events/<Type>.v<N>.json`.

Compatibility: within a schema version a payload only grows compatibly (a new optional
property, a new enum value); anything else is a new version, announced by `ce_schemaversion`.
Older versions stay on the topics forever; their schemas are kept in `schemas/released/`.
Only pseudonymous ids travel: never a name, an ID-card number, a phone number or an address.
See docs/data-platform.md.
"""

CE_HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ce_specversion": ("CloudEvents version.", {"const": SPEC_VERSION}),
    "ce_id": ("Event id; unique, the key for deduplication.", {"format": "uuid"}),
    "ce_type": ("cordon.<EventType>.", {"pattern": r"^cordon\.[A-Za-z0-9]+$"}),
    "ce_source": ("/cordon/<publishing service>.", {}),
    "ce_time": ("When it happened (RFC 3339).", {"format": "date-time"}),
    "ce_subject": ("The stream (aggregate) id.", {}),
    "ce_dataschema": ("urn:cordon:schema:<EventType>:v<N>.", {}),
    "content-type": ("The payload's media type.", {"const": CONTENT_TYPE}),
    "ce_schemaversion": ("Payload schema version N, as a decimal string.", {}),
    "ce_streamversion": ("Position of the event in its stream, from 1.", {}),
    "ce_partitionkey": ("The record key: the aggregate's partition key.", {}),
    "ce_recordedtime": ("When Cordon stored it (RFC 3339).", {"format": "date-time"}),
    "ce_correlationid": ("The request or device action that caused it.", {"format": "uuid"}),
    "ce_causationid": ("The event that caused it, if any.", {"format": "uuid"}),
    "ce_actor": ("Who caused it: a pseudonymous user, device or service.", {}),
    "ce_district": ("The district (tenant).", {}),
    "ce_community": ("The community, when the event belongs to one.", {}),
}
OPTIONAL_CE_HEADERS = frozenset({"ce_causationid", "ce_community"})

DLQ_HEADERS: dict[str, str] = {
    "cordon_dlq_error_type": "Exception class of the last failure.",
    "cordon_dlq_error": "Its message (for a raw scan: the field and the reason).",
    "cordon_dlq_traceback": "Its traceback.",
    "cordon_dlq_topic": "The topic the record was read from.",
    "cordon_dlq_partition": "Its partition.",
    "cordon_dlq_offset": "Its offset.",
    "cordon_dlq_attempts": "How many times it was tried.",
    "cordon_dlq_time": "When it was set aside (RFC 3339).",
}

RAW_SCAN: dict[str, Any] = {
    "title": "RawScan",
    "description": "A scan as a device gateway reports it (informative: docs/gate.md and "
    "the gate's validation are authoritative). Exactly one of person_id, pass_code or "
    "visitor. Carries a visitor's personal data in clear: not for data platforms.",
    "type": "object",
    "properties": {
        "scan_id": {"type": "string", "description": "The device's own id for the scan."},
        "checkpoint_id": {"type": "string"},
        "scanned_at": {"type": "string", "format": "date-time"},
        "direction": {"type": "string", "enum": ["in", "out"]},
        "person_id": {"type": "string", "description": "A resident's QR code."},
        "pass_code": {"type": "string"},
        "visitor": {
            "type": "object",
            "properties": {
                "document_type": {
                    "type": "string",
                    "enum": ["resident_id", "passport", "other"],
                },
                "document_number": {"type": "string"},
                "name": {"type": "string"},
                "phone": {"type": "string"},
                "reason": {"type": "string"},
            },
        },
        "temperature_c": {"type": "number"},
        "health_code": {"type": "string", "enum": ["green", "yellow", "red"]},
        "itinerary_risk": {"type": "boolean"},
        "vehicle_plate": {"type": ["string", "null"]},
        "negative_test_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": [
        "scan_id",
        "checkpoint_id",
        "scanned_at",
        "direction",
        "temperature_c",
        "health_code",
    ],
}


def _contracts_version() -> str:
    try:
        return version("cordon-contracts")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def cloudevents_headers() -> dict[str, Any]:
    return {
        "title": "CloudEvents 1.0 Kafka binary-mode headers",
        "description": "Every header value is a UTF-8 string. See docs/architecture.md.",
        "type": "object",
        "properties": {
            name: {"type": "string", "description": text, **extra}
            for name, (text, extra) in CE_HEADERS.items()
        },
        "required": [name for name in CE_HEADERS if name not in OPTIONAL_CE_HEADERS],
    }


def dead_letter_headers() -> dict[str, Any]:
    return {
        "title": "Dead-letter headers",
        "description": "The original record's headers (for a Cordon event, its ce_* headers) "
        "plus these.",
        "type": "object",
        "properties": {
            name: {"type": "string", "description": text} for name, text in DLQ_HEADERS.items()
        },
        "required": ["cordon_dlq_error_type", "cordon_dlq_error", "cordon_dlq_topic"],
    }


def _key_binding(spec: TopicSpec) -> dict[str, Any]:
    return {
        "kafka": {
            "key": {"type": "string", "description": spec.key},
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _event_message(service: str, model: type[DomainEvent], spec: TopicSpec) -> dict[str, Any]:
    name = schema_name(model.event_type, model.schema_version)
    schema = event_schema(service, model)
    doc = (model.__doc__ or "").strip()
    example = example_payload(schema)
    headers_example = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": EXAMPLE_UUID,
        "ce_type": ce_type(model.event_type),
        "ce_source": f"/cordon/{service}",
        "ce_time": EXAMPLE_DATETIME,
        "ce_subject": "stream-1",
        "ce_dataschema": data_schema(model.event_type, model.schema_version),
        "content-type": CONTENT_TYPE,
        "ce_schemaversion": str(model.schema_version),
        "ce_streamversion": "1",
        "ce_partitionkey": "key-1",
        "ce_recordedtime": EXAMPLE_DATETIME,
        "ce_correlationid": EXAMPLE_UUID,
        "ce_actor": "actor-1",
        "ce_district": "demo-district",
    }
    message: dict[str, Any] = {
        "name": model.event_type,
        "title": f"{model.event_type} v{model.schema_version}",
        "contentType": CONTENT_TYPE,
        "headers": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEventsHeaders"},
                {
                    "type": "object",
                    "properties": {
                        "ce_type": {"const": ce_type(model.event_type)},
                        "ce_source": {"const": f"/cordon/{service}"},
                        "ce_dataschema": {
                            "const": data_schema(model.event_type, model.schema_version)
                        },
                        "ce_schemaversion": {"const": str(model.schema_version)},
                    },
                },
            ]
        },
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "correlationId": {"location": "$message.header#/ce_correlationid"},
        "bindings": _key_binding(spec),
        "examples": [{"name": name, "headers": headers_example, "payload": example}],
        "x-cordon": {
            "ce_type": ce_type(model.event_type),
            "schema_version": model.schema_version,
            "publisher": service,
        },
    }
    if doc:
        message["summary"] = " ".join(doc.split("\n\n")[0].split())
    return message


def _channel_id(spec: TopicSpec) -> str:
    return spec.address.removeprefix("{prefix}.").replace(".", "-")


def _channel(spec: TopicSpec, messages: dict[str, Any], replicas: int) -> dict[str, Any]:
    topic_configuration: dict[str, Any] = {}
    if "cleanup.policy" in spec.configs:
        topic_configuration["cleanup.policy"] = spec.configs["cleanup.policy"].split(",")
    for key in ("retention.ms", "retention.bytes"):
        if key in spec.configs:
            topic_configuration[key] = int(spec.configs[key])
    return {
        "address": spec.address,
        "title": spec.address,
        "description": f"{spec.description}\n\nKey: {spec.key}\n\nRetention: {spec.retention}",
        "parameters": {
            "prefix": {
                "default": "cordon",
                "description": "The deployment's topic prefix (CORDON_TOPIC_PREFIX).",
            }
        },
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {
            "kafka": {
                "partitions": spec.partitions,
                "replicas": replicas,
                "topicConfiguration": topic_configuration,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "x-cordon": {
            "kind": spec.kind,
            "key": spec.key,
            "producers": list(spec.producers),
            "consumers": list(spec.consumers),
            "configs": dict(spec.configs),
        },
    }


@functools.cache
def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document (built once per process)."""
    cat = catalogue()
    by_address = {spec.address: spec for spec in cat.topics}
    schemas: dict[str, Any] = {
        "CloudEventsHeaders": cloudevents_headers(),
        "DeadLetterHeaders": dead_letter_headers(),
        "RawScan": RAW_SCAN,
    }
    messages: dict[str, Any] = {}
    channel_messages: dict[str, dict[str, Any]] = {spec.address: {} for spec in cat.topics}
    for service, model in event_models():
        spec = by_address[f"{{prefix}}.{service}.events"]
        name = schema_name(model.event_type, model.schema_version)
        schemas[name] = inline_definitions(event_schema(service, model))
        messages[name] = _event_message(service, model, spec)
        channel_messages[spec.address][name] = messages[name]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in cat.topics:
        own = channel_messages[spec.address]
        if spec.kind == "ingest":
            messages["RawScan"] = {
                "name": "RawScan",
                "title": "Raw scan",
                "contentType": CONTENT_TYPE,
                "payload": {"$ref": "#/components/schemas/RawScan"},
                "bindings": _key_binding(spec),
            }
            own = {"RawScan": messages["RawScan"]}
        elif spec.kind == "dead-letter":
            messages.setdefault(
                "DeadLetter",
                {
                    "name": "DeadLetter",
                    "title": "Dead letter",
                    "summary": "A record a consumer set aside: its original key, value and "
                    "headers, plus why.",
                    "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
                    "payload": {"description": "The original record's value, unchanged."},
                    "bindings": _key_binding(spec),
                },
            )
            own = {"DeadLetter": messages["DeadLetter"]}
        channel_id = _channel_id(spec)
        channels[channel_id] = _channel(spec, own, cat.replication_factor)
        receive = spec.kind == "ingest"
        operations[f"{'receive' if receive else 'send'}-{channel_id}"] = {
            "action": "receive" if receive else "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": (
                f"Cordon's gate reads {spec.address}."
                if receive
                else f"{', '.join(spec.producers)} publishes to {spec.address}."
            ),
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in sorted(own)
            ],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:cordon:events",
        "info": {
            "title": "Cordon events",
            "version": _contracts_version(),
            "description": DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The deployment's Kafka cluster (CORDON_KAFKA_BOOTSTRAP).",
                "variables": {
                    "bootstrap": {
                        "default": "127.0.0.1:19092",
                        "description": "A bootstrap server, host:port.",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


@functools.cache
def rendered() -> str:
    return dumps(document())


def install_asyncapi(app: FastAPI) -> None:
    """Serve the AsyncAPI document at ``GET /asyncapi.json``."""
    # FastAPI comes with the service that serves the document: the contracts need only
    # pydantic, so that an outside consumer can install them alone.
    from fastapi import Response

    # response_model=None, as FastAPI infers for a Response: the return annotation is then
    # never evaluated (it names a local import).
    @app.get(
        PATH,
        tags=["operations"],
        summary="AsyncAPI 3.0 document of Cordon's topics",
        response_model=None,
    )
    async def asyncapi() -> Response:
        return Response(rendered(), media_type="application/json")


def main(argv: list[str]) -> None:
    path = Path(argv[0] if argv else "schemas/asyncapi.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendered(), encoding="utf-8")
    print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
