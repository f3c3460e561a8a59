"""The one error body every service answers with, and the OpenAPI answers every operation
documents, so that a client (and the fuzz test) can rely on the document alone.

Every operation gets its standard answers added when the document is generated: 503 always,
401 when it names a security scheme, 400 (unreadable JSON) and 413 when it takes a body, 422
when it takes any input. What only some routes answer (403, 404, 409) is declared at the
route with ``errors(...)``. A method a path does not have is answered 405 with an ``Allow``
header naming every method the document lists for it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordon_core.schema_rules import state_storable_input

SCHEMAS = "#/components/schemas/"


class FieldError(BaseModel):
    """One refused input: where it was, why, and (capped) what was sent."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description='Where: e.g. ["body", "scans", 0, "scanned_at"].')
    msg: str = Field(description="Why, in words.")
    type: str = Field(description="A stable name of the reason, e.g. missing, value_error.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of every Cordon service."""

    model_config = ConfigDict(extra="allow")

    detail: str | list[FieldError] = Field(
        description="What went wrong: a sentence, or one entry per refused field."
    )


ANSWERS: dict[int, str] = {
    400: "The body is not the JSON (or form) it says it is.",
    401: "No valid bearer token for this operation (see WWW-Authenticate).",
    403: "The token is valid but may not do this here (another scope or checkpoint).",
    404: "What the path names is not known here.",
    409: "It conflicts with what is already recorded.",
    413: "The body is larger than this operation's limit (docs/architecture.md).",
    422: "A field was refused; each entry names the field and the reason.",
    503: "The service cannot answer now (its database or broker is unreachable, or too many"
    " writers contend): nothing was recorded; retry after Retry-After seconds.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def errors(*codes: int, model: type[BaseModel] = ErrorBody) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route's own answers, e.g. ``errors(404, 409)``."""
    return {code: {"model": model, "description": ANSWERS[code]} for code in codes}


def document_errors(app: FastAPI) -> None:
    """Add the standard answers to every operation of ``app``'s OpenAPI document, and
    answer a method a path lacks with all the methods it has."""
    app.add_middleware(AllowEveryMethod, routes=app.router.routes)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            add_standard_answers(document)
            state_storable_input(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_standard_answers(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _error_schemas().items():
        schemas.setdefault(name, schema)
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options"}:
                _add_answers(operation)
    # FastAPI's own 422 models are left unreferenced once every 422 names ErrorBody.
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"{SCHEMAS}{unused}"' not in json.dumps(document):
            schemas.pop(unused, None)


def _add_answers(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    wanted = [503]
    if operation.get("security"):
        wanted.append(401)
    if "requestBody" in operation:
        wanted += [400, 413]
    if "requestBody" in operation or operation.get("parameters"):
        wanted.append(422)
    for code in wanted:
        answer = responses.get(str(code))
        if answer is None or _is_fastapis_validation_error(answer):
            responses[str(code)] = _answer(code)


def _answer(code: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": ANSWERS[code],
        "content": {"application/json": {"schema": {"$ref": f"{SCHEMAS}ErrorBody"}}},
    }
    if code == 503:
        answer["headers"] = RETRY_AFTER
    return answer


def _is_fastapis_validation_error(answer: dict[str, Any]) -> bool:
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == f"{SCHEMAS}HTTPValidationError")


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template=SCHEMAS + "{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {"ErrorBody": schema, **definitions}


class AllowEveryMethod:
    """Starlette answers 405 with the methods of the first route that matched the path only;
    a path served by several routes (GET and PUT of a contact) must list them all."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = ", ".join(sorted(self._methods(scope)))
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"allow"]
                message["headers"] = [*headers, (b"allow", allowed.encode())]
            await send(message)

        await self.app(scope, receive, send_with_allow)

    def _methods(self, scope: Scope) -> set[str]:
        methods: set[str] = set()
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                methods |= set(getattr(route, "methods", None) or ())
        return methods
